"""Kill soak: SIGKILL `kbgraph sync` at ≥ 50 random points for the binlog and for the Kafka source.

Not a test: run by hand, read the figures (``tests/support/kill_soak.py`` does the work; the kill
tests run the same code with 10 points).

    python bench/kill_soak.py --points 50 --source binlog --source kafka

Graph: an embedded ArcadeDB (the stand-in) unless ``KBGRAPH_TEST_NEO4J_URI`` is set; Kafka: a Tansu
broker unless ``KBGRAPH_TEST_KAFKA`` is set; MariaDB/MySQL: ``KBGRAPH_TEST_MYSQL_URL`` or root at
127.0.0.1:3306 (a fresh database ``proof_kill_<hex>``, dropped afterwards). Prints, per source, the
points, divergences (must be 0), duplicates and the recovery time (restart -> checkpoint moves)
min/median/max.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import neo4j

from tests.support.graph import start_graph_server
from tests.support.kill_soak import binlog_soak, kafka_soak
from tests.support.mysql import mysql_test_url


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--source", action="append", choices=["binlog", "kafka"])
    ap.add_argument("--server-id", type=int, default=4981)
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per kill point")
    args = ap.parse_args()
    sources = args.source or ["binlog", "kafka"]
    say = print if args.verbose else None
    reports = []
    with tempfile.TemporaryDirectory(prefix="kill-soak-") as tmp_s:
        tmp = Path(tmp_s)
        graph = start_graph_server(tmp / "graph")
        broker = None
        try:
            with neo4j.GraphDatabase.driver(graph.uri, auth=(graph.user, graph.password)) as driver:
                for source in sources:
                    work = tmp / source
                    work.mkdir()
                    if source == "binlog":
                        r = binlog_soak(mysql_test_url(), graph, driver, work, points=args.points, seed=args.seed,
                                        server_id=args.server_id, label_switch=not graph.is_stand_in, say=say)
                    else:
                        bootstrap = os.environ.get("KBGRAPH_TEST_KAFKA")
                        if not bootstrap:
                            from tests.support.tansu import Tansu

                            broker = Tansu(tmp / "tansu").start()
                            bootstrap = broker.bootstrap
                        r = kafka_soak(bootstrap, graph, driver, work, points=args.points, seed=args.seed,
                                       label_switch=not graph.is_stand_in, say=say)
                    print(r.line(), flush=True)
                    if r.divergences or r.duplicates:
                        print(r.diff)
                    reports.append(r)
        finally:
            if broker is not None:
                broker.stop()
            graph.stop()
    return 0 if all(r.divergences == 0 and r.duplicates == 0 for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
