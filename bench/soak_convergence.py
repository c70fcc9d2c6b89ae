"""Soak: the convergence oracle at length — random schemas, mappings and workloads on the graph.

Not a test: run by hand, read the figures.

    python bench/soak_convergence.py --cases 5000            # embedded ArcadeDB stand-in, started here
    KBGRAPH_TEST_NEO4J_URI=bolt://… KBGRAPH_TEST_NEO4J_PASSWORD=… python bench/soak_convergence.py
                                                              # a real Neo4j (its data is wiped!)

Each case is a random schema and mapping and a random workload on it (``tests/support/oracle.py``),
streamed at a random batch size and at batch size 1, and compared with the graph of the final rows.
Prints how many cases diverged (must be 0), what the workloads reached (re-keys onto stubs,
cascaded primary keys, ...), the rate, and each failure shrunk to a minimal list of steps.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import neo4j

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.support.graph import start_graph_server  # noqa: E402
from tests.support.oracle import build, check_case, random_steps, shrink  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--steps", type=int, default=40, help="workload steps per case")
    ap.add_argument("--first-seed", type=int, default=1000, help="seeds [first, first + cases); CI runs 0-199")
    ap.add_argument("--batch-one-every", type=int, default=1,
                    help="also stream every Nth case at batch size 1 (the slowest run; 1 = every case)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kbgraph-soak-"))
    server = start_graph_server(tmp / "graph")
    driver = neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password))
    reached: Counter[str] = Counter()
    diverged: list[str] = []
    start = time.perf_counter()
    try:
        for n, seed in enumerate(range(args.first_seed, args.first_seed + args.cases), 1):
            steps = random_steps(seed, args.steps)
            db = build(seed, steps, label_switch=not server.is_stand_in)
            reached.update(db.stats)
            reached["changes"] += len(db.changes)
            problem = check_case(seed, steps, driver, server, tmp, batch_one=seed % args.batch_one_every == 0)
            if problem is not None:
                small = shrink(steps, lambda s: check_case(seed, s, driver, server, tmp) is not None)
                why = check_case(seed, small, driver, server, tmp)
                diverged.append(f"seed {seed}: minimal steps {small}\n{why}")
                print(f"DIVERGED seed {seed}: minimal steps {small}\n{why}", flush=True)
            if n % 100 == 0 or n == args.cases:
                rate = n / (time.perf_counter() - start)
                print(f"{n} cases, {len(diverged)} diverged, {rate:.1f} cases/s", flush=True)
    finally:
        driver.close()
        server.stop()
    secs = time.perf_counter() - start
    print(f"\n{args.cases} cases in {secs:.0f} s ({args.cases / secs:.1f}/s), "
          f"graph: {'stand-in' if server.is_stand_in else server.uri}")
    print("reached: " + ", ".join(f"{k} {v}" for k, v in sorted(reached.items())))
    print(f"diverged: {len(diverged)}")
    sys.exit(1 if diverged else 0)


if __name__ == "__main__":
    main()
