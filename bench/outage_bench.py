"""Benchmark: how soon a sync carries on after a graph outage, with the default settings.

Not a test: run by hand, read the figures.

    python bench/outage_bench.py --down 35

Starts an embedded ArcadeDB (the stand-in) on fixed ports, streams changes into it through the
pipeline with the default driver retry window and backoff, stops the server process for ``--down``
seconds mid-stream, starts it again on the same port and data, and prints how long after the
server answered again the first batch was committed, and whether the final graph is right.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kbgraph.embedded import EmbeddedGraph
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.outage import OncePer
from kbgraph.pipeline import Pipeline, RunStats
from kbgraph.processes import free_port
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource, rows_as_inserts
from kbgraph.verify import dump_graph
from tests.support.change_workload import Workload


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--down", type=float, default=35.0, help="seconds the graph server stays stopped")
    ap.add_argument("--changes", type=int, default=1500)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("neo4j.session").addFilter(OncePer("Transaction failed and will be retried"))  # as `sync` does
    mapping = compile_mappings([ROOT / "tests" / "kb_mapping.yaml"])
    work = Workload(3, label_switch=False)
    changes = work.run(args.changes)
    with tempfile.TemporaryDirectory() as tmp:
        g = EmbeddedGraph(Path(tmp), bolt_port=free_port(), http_port=free_port()).start()
        try:
            import neo4j

            with neo4j.GraphDatabase.driver(g.uri, auth=(g.user, g.password)) as d:
                apply_schema(d, g.database, mapping)
            reached, down = threading.Event(), threading.Event()
            healed: list[float] = []

            at_stop: list[int] = []

            def hook(stats: RunStats) -> None:
                # the first commit after the stop (the driver's own retries may absorb a short outage)
                if at_stop and not healed and stats.counts.transactions > at_stop[0]:
                    healed.append(time.monotonic())
                if not reached.is_set() and stats.counts.changes >= args.changes // 3:
                    reached.set()
                    down.wait(600)
                    at_stop.append(stats.counts.transactions)

            target = GraphTarget(g.uri, g.user, g.password, g.database)
            p = Pipeline(mapping, target, name="bench", batch_size=100, progress=hook)
            out: dict[str, RunStats] = {}
            t = threading.Thread(target=lambda: out.update(s=p.run(ListSource(changes))), daemon=True)
            t.start()
            reached.wait(600)
            g.stop()
            stopped = time.monotonic()
            down.set()
            time.sleep(args.down)
            g.start()
            up = time.monotonic()
            t.join(600)
            stats = out["s"]
            with neo4j.GraphDatabase.driver(g.uri, auth=(g.user, g.password)) as d:
                right = dump_graph(d, g.database) == expected_graph(mapping, rows_as_inserts(work.final_rows())).dump()
            print(f"server down {up - stopped:.1f} s (incl. restart); first commit {healed[0] - up:.1f} s after it "
                  f"answered again; {stats.counts.changes} changes, {stats.outages} outage(s) waited out by kbgraph "
                  f"(beyond the driver's retries), graph right: {right}")
        finally:
            g.stop()


if __name__ == "__main__":
    main()
