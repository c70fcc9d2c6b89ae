"""``kbgraph verify`` at scale: rows compared per second and peak memory, at N and N/10 rows.

    python bench/verify_bench.py [--rows 1000000] [--chunk 1000] [--mysql-url mysql://root@127.0.0.1:3306]
                                 [--neo4j-uri bolt://... --neo4j-user U (password: NEO4J_PASSWORD)]

Without --neo4j-uri the embedded ArcadeDB graph runs. For N/10 rows, then N rows: loads a database of
its own (half the rows in an entity table, a quarter in a join table of two foreign keys, a quarter
in a key/value attribute table; multi-row INSERTs), loads the same graph with kbgraph's snapshot,
then runs ``kbgraph verify`` as a subprocess and prints its wall time, source rows compared per
second, graph elements scanned, and the peak RSS of the verify process (``RUSAGE_CHILDREN``; the
N/10 run comes first, so the second figure is the larger run's peak unless it stayed below). The
graph is emptied between the two sizes; the databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.binlog.server import ConnInfo
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.sources.snapshot import SnapshotSource
from kbgraph.verify import reset_graph

DDL = [
    "CREATE TABLE entity (id INT PRIMARY KEY, kind VARCHAR(20), name VARCHAR(100), meta JSON, score DOUBLE)",
    "CREATE TABLE link (src INT NOT NULL, dst INT NOT NULL, weight DOUBLE, PRIMARY KEY (src, dst))",
    "CREATE TABLE attr (id INT PRIMARY KEY, entity_id INT NOT NULL, k VARCHAR(20), v VARCHAR(50), KEY (entity_id))",
]
MAPPING = """
source: {{schema: {db}}}
entities:
  - table: entity
    label: Entity
    label_from: {{column: kind, allow: [Person, Organization]}}
    key: [id]
    properties: {{name: name, meta: {{column: meta, type: json}}, score: score}}
relations:
  - table: link
    key: [src, dst]
    type: LINKS
    from: {{label: Entity, key: {{id: src}}}}
    to: {{label: Entity, key: {{id: dst}}}}
    properties: {{weight: weight}}
properties:
  - table: attr
    owner: {{label: Entity, key: {{id: entity_id}}}}
    name: k
    value: v
    as: node_property
"""


def load(conn: ConnInfo, db: str, n: int) -> tuple[int, float]:
    ents, links, attrs = n // 2, n // 4, n - n // 2 - n // 4
    began = time.monotonic()
    c = conn.connect()
    try:
        with c.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{db}`")
            for d in DDL:
                cur.execute(d)
            step = 5000
            for lo in range(1, ents + 1, step):
                cur.execute("INSERT INTO entity VALUES " + ",".join(
                    f"({i}, '{'Person' if i % 2 else 'Organization'}', 'entity {i}', '{{\"i\": {i}, \"n\": null}}', {i / 7})"
                    for i in range(lo, min(lo + step, ents + 1))))
            for lo in range(0, links, step):
                cur.execute("INSERT INTO link VALUES " + ",".join(
                    f"({i % ents + 1}, {(i * 7919) % ents + 1 if (i * 7919) % ents != i % ents else (i + 1) % ents + 1}, {i % 10})"
                    for i in range(lo, min(lo + step, links))) + " ON DUPLICATE KEY UPDATE weight = VALUES(weight)")
            for lo in range(0, attrs, step):
                cur.execute("INSERT INTO attr VALUES " + ",".join(
                    f"({i + 1}, {i % ents + 1}, 'k{i // ents}', 'value {i}')" for i in range(lo, min(lo + step, attrs))))
            cur.execute("SELECT (SELECT COUNT(*) FROM entity) + (SELECT COUNT(*) FROM link) + (SELECT COUNT(*) FROM attr)")
            total = int(cur.fetchone()[0])
    finally:
        c.close()
    return total, time.monotonic() - began


def drop(conn: ConnInfo, db: str) -> None:
    c = conn.connect()
    try:
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    finally:
        c.close()


def run_verify(work: Path, mapping: Path, target: GraphTarget, url: str, chunk: int) -> tuple[dict, float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_"))}
    env.update({"NEO4J_URI": target.uri, "NEO4J_USERNAME": target.user, "NEO4J_PASSWORD": target.password,
                "NEO4J_DATABASE": target.database, "KBGRAPH_MYSQL_URL": url, "KBGRAPH_PIPELINE": "bench"})
    began = time.monotonic()
    p = subprocess.run([sys.executable, "-c", "from kbgraph.cli import main; main()", "verify", "--json",
                        "--chunk", str(chunk), "--mappings", str(mapping), "--wait", "5"],
                       env=env, capture_output=True, text=True, cwd=work)
    seconds = time.monotonic() - began
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if p.returncode not in (0, 1):
        raise SystemExit(f"verify failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout), seconds, peak_kb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--mysql-url", default=os.environ.get("KBGRAPH_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
    ap.add_argument("--neo4j-uri")
    ap.add_argument("--neo4j-user", default="neo4j")
    ap.add_argument("--neo4j-database", default="neo4j")
    a = ap.parse_args()
    conn = ConnInfo.from_url(a.mysql_url)
    graph = None
    dbs: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as work_dir:
            work = Path(work_dir)
            if a.neo4j_uri:
                target = GraphTarget(a.neo4j_uri, a.neo4j_user, os.environ.get("NEO4J_PASSWORD", ""), a.neo4j_database)
            else:
                from kbgraph.embedded import EmbeddedGraph

                graph = EmbeddedGraph(work / "graph").start()
                target = GraphTarget(graph.uri, graph.user, graph.password, graph.database)
            print(f"graph: {'Neo4j ' + a.neo4j_uri if a.neo4j_uri else 'embedded ArcadeDB'}; chunk {a.chunk}")
            for n in (a.rows // 10, a.rows):
                db = f"verify_bench_{time.time_ns() % 10**9}"
                dbs.append(db)
                rows, load_s = load(conn, db, n)
                path = work / f"{db}.yaml"
                path.write_text(MAPPING.format(db=db), encoding="utf-8")
                mapping = compile_mappings([path])
                with target.driver() as d:
                    reset_graph(d, target.database)
                    apply_schema(d, target.database, mapping)
                began = time.monotonic()
                src = SnapshotSource(conn, MappedTables.from_mapping(mapping), chunk=5000)
                stats = Pipeline(mapping, target, name="bench", batch_size=5000).run(src)
                snap_s = time.monotonic() - began
                report, seconds, peak_kb = run_verify(work, path, target, a.mysql_url, a.chunk)
                elements = sum(r["graph_elements"] for r in report["rules"])
                print(f"{rows:,} rows (MariaDB load {load_s:.0f} s; snapshot into the graph {snap_s:.0f} s, "
                      f"{stats.counts.changes / snap_s:,.0f} rows/s)")
                print(f"  verify: {seconds:.1f} s, {rows / seconds:,.0f} source rows compared/s, "
                      f"{elements:,} graph elements scanned for extras, differences {report['differences']}, "
                      f"peak RSS {peak_kb / 1024:.0f} MiB")
                drop(conn, db)
    finally:
        for db in dbs:
            drop(conn, db)
        if graph is not None:
            graph.stop()


if __name__ == "__main__":
    main()
