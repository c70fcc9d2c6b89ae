"""Micro-benchmark of the pure hot path: change → graph operations → batch plan (no I/O, no server).

Not a test: run by hand, read the figures.

    python bench/translate_bench.py [--changes 50000] [--repeat 5] [--batch 500]

Generates a random workload over ``tests/kb_mapping.yaml`` (key changes, FK changes, EAV, deletes,
truncates), then times ``CompiledMapping.translate`` over every change and ``plan_groups`` over the
operations in batches of ``--batch``; prints the best of ``--repeat`` runs as changes/s and
operations/s. Times are the process's CPU time (``time.process_time``), so other load on a
shared machine disturbs them less than wall time. Use it to compare a change to the operation or touch-key types before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kbgraph.errors import ChangeError
from kbgraph.graph.batch import plan_groups
from kbgraph.graph.ops import GraphOp
from kbgraph.mapping import compile_mappings
from tests.support.change_workload import Workload


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    mapping = compile_mappings([ROOT / "tests" / "kb_mapping.yaml"])
    changes = Workload(args.seed).run(args.changes)

    def translate_all() -> list[GraphOp]:
        ops: list[GraphOp] = []
        for ch in changes:
            try:
                ops += mapping.translate(ch)
            except ChangeError as e:
                ops += e.ops
        return ops

    ops = translate_all()
    best_t = best_p = float("inf")
    for _ in range(args.repeat):
        t0 = time.process_time()
        translate_all()
        t1 = time.process_time()
        for start in range(0, len(ops), args.batch):
            plan_groups(ops[start:start + args.batch])
        t2 = time.process_time()
        best_t, best_p = min(best_t, t1 - t0), min(best_p, t2 - t1)
    print(f"{len(changes)} changes → {len(ops)} operations; best of {args.repeat}")
    print(f"translate: {best_t * 1e3:8.1f} ms  {len(changes) / best_t:10.0f} changes/s  {len(ops) / best_t:10.0f} ops/s")
    print(f"plan:      {best_p * 1e3:8.1f} ms  {len(ops) / best_p:10.0f} ops/s  (batches of {args.batch})")


if __name__ == "__main__":
    main()
