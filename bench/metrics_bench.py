"""Benchmark: what the metrics hook costs per change, and what the column check costs per record.

Not a test: run by hand, read the figures (no servers needed).

    python bench/metrics_bench.py [--batch 1000] [--batches 200]

Prints the seconds per change of ``Metrics.__call__`` on a committed batch (one ``observe()`` per
change for the commit-to-visible histogram, plus the per-batch work), of the pipeline's own
per-batch bookkeeping without metrics, and of ``FirstImages.observe`` once a table is confirmed
(the Kafka source's per-change cost of the missing-column check), for comparison with the
pipeline's ~10-50 µs per change.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from kbgraph.change import Change
from kbgraph.mapping import compile_mappings
from kbgraph.mapping.source_columns import first_images
from kbgraph.metrics import Metrics
from kbgraph.pipeline import RunStats
from kbgraph.sink.writer import Counts, Item
from kbgraph.unrepresentable import Unrepresentable


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=200)
    a = ap.parse_args()
    now_ms = int(time.time() * 1000)
    figures = {}
    for case, step in (("every change its own commit time (worst case)", 1), ("binlog: whole-second commit times", 0)):
        batch = [Item(Change("entity", "insert", None, {"id": i}, {}, "kb", None, True, now_ms - (i * step or 1000)), [])
                 for i in range(a.batch)]
        m = Metrics("bench")
        counts = Counts()
        stats = RunStats(counts, {}, 1.0, unrepresentable=Unrepresentable())
        t0 = time.perf_counter()
        for n in range(a.batches):
            counts.changes += a.batch
            counts.transactions += 1
            stats.batch, stats.batches, stats.committed_at = batch, n + 1, time.time()
            stats.commit_s.append(0.01)
            m(stats)
        figures[case] = (time.perf_counter() - t0) / (a.batch * a.batches)

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.yaml"
        path.write_text("entities:\n  - table: entity\n    label: E\n    key: [id]\n    properties: {name: name}\n")
        images = first_images(compile_mappings([path]))
    assert images is not None
    images.observe(None, "entity", {"id": 1, "name": "x"})
    row = {"id": 1, "name": "x"}
    n = a.batch * a.batches
    t0 = time.perf_counter()
    for _ in range(n):
        images.observe(None, "entity", row)
    check = (time.perf_counter() - t0) / n
    for case, seconds in figures.items():
        print(f"metrics hook, {case}: {seconds * 1e6:.2f} µs per change ({a.batches} batches of {a.batch})")
    print(f"missing-column check (Kafka, confirmed table): {check * 1e6:.3f} µs per change")


if __name__ == "__main__":
    main()
