"""Binlog -> graph throughput, beside the bare mysql-replication parse rate of the same binlog.

    python bench/binlog_bench.py [--rows 50000] [--singles 5000] [--repeat 3] [--mysql-url mysql://root@127.0.0.1:3306]
                                 [--neo4j-uri bolt://... --neo4j-user U (password: NEO4J_PASSWORD)]

Without --neo4j-uri the embedded ArcadeDB graph runs. In a database of its own it writes three
stretches of binlog, then measures each in one run:

1. bulk inserts: ``--rows`` rows in 1,000-row INSERT statements (one transaction each);
2. single-row autocommit transactions: ``--singles`` one-row INSERTs;
3. updates: every bulk row updated, 1,000 rows per UPDATE statement.

For each: the bare ``BinLogStreamReader`` rate (parse every row, nothing else: the ceiling), the
BinlogSource alone (rows -> Change objects with transactions, positions, value normalisation), the
same changes fed to the pipeline from memory (the graph side alone), and binlog -> graph (the
pipeline with the BinlogSource, until the checkpoint reaches the stretch's end).
Each rate includes connecting and the server checks (a few tens of ms).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources import StandaloneContext
from kbgraph.sources.binlog.position import Position
from kbgraph.sources.binlog.reader import BinlogSource
from kbgraph.sources.binlog.server import ConnInfo, current_position
from kbgraph.sources.binlog.tables import MappedTables

DDL = """CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, score DECIMAL(10,2),
  meta JSON, updated_at DATETIME(6) NOT NULL)"""
MAPPING = """
source: {{schema: {db}}}
entities:
  - table: item
    label: Item
    key: [id]
    properties: {{name: name, score: score, meta: meta, updated_at: updated_at}}
"""


def _row(i: int, v: int) -> str:
    return f"({i}, 'item {i} v{v}', {i % 1000}.{v:02d}, '{{\"v\": {v}, \"tags\": [\"a\"]}}', '2024-01-01 00:00:00.{v:06d}')"


def write(conn: pymysql.connections.Connection, rows: int, singles: int) -> list[tuple[str, int, Position, Position]]:
    """Write the three stretches; returns (name, rows, start, end) for each."""
    out = []
    with conn.cursor() as cur:
        start = Position(*current_position(conn))
        for lo in range(0, rows, 1000):
            cur.execute("INSERT INTO item VALUES " + ",".join(_row(i, 0) for i in range(lo, min(rows, lo + 1000))))
        end = Position(*current_position(conn))
        out.append(("bulk inserts (1,000-row statements)", rows, start, end))
        start = end
        for i in range(rows, rows + singles):
            cur.execute("INSERT INTO item VALUES " + _row(i, 0))
        end = Position(*current_position(conn))
        out.append(("single-row autocommit transactions", singles, start, end))
        start = end
        for lo in range(0, rows, 1000):
            cur.execute("UPDATE item SET name = CONCAT(name, '+'), score = score + 1, "
                        "updated_at = updated_at + INTERVAL 1 SECOND WHERE id >= %s AND id < %s", (lo, lo + 1000))
        end = Position(*current_position(conn))
        out.append(("updates (1,000 rows per statement)", rows, start, end))
    return out


def bare(conn: ConnInfo, db: str, start: Position, end: Position) -> tuple[int, float]:
    t0 = time.perf_counter()
    stream = BinLogStreamReader(connection_settings=conn.pymysql_kwargs(), server_id=4801, resume_stream=True,
                                blocking=False, log_file=start.file, log_pos=start.pos, only_schemas=[db],
                                only_tables=["item"], only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
                                enable_logging=False)
    n = 0
    try:
        for ev in stream:
            if (stream.log_file, ev.packet.log_pos) > (end.file, end.pos):
                break
            n += len(ev.rows)
    finally:
        stream.close()
    return n, time.perf_counter() - t0


def source_only(conn: ConnInfo, tables: MappedTables, start: Position, end: Position,
                keep: list[Any] | None = None) -> tuple[int, float]:
    t0 = time.perf_counter()
    src = BinlogSource(conn, tables, server_id=4802, blocking=False, initial=start, until=end)
    n = 0
    try:
        for ch in src.changes({}, StandaloneContext()):
            n += 1
            if keep is not None:
                keep.append(ch)
    finally:
        src.close()
    return n, time.perf_counter() - t0


def from_memory(changes: list[Any], mapping: Any, target: GraphTarget, name: str, batch: int) -> tuple[int, float]:
    """The same changes from a list: what the graph side alone manages (the pipeline's ceiling here)."""
    from kbgraph.sources.memory import ListSource

    t0 = time.perf_counter()
    stats = Pipeline(mapping, target, name=name, batch_size=batch, flush_ms=200).run(ListSource(changes))
    return stats.counts.changes, time.perf_counter() - t0


def to_graph(conn: ConnInfo, tables: MappedTables, mapping: Any, target: GraphTarget, name: str,
             start: Position, end: Position, batch: int) -> tuple[int, float, Any]:
    t0 = time.perf_counter()
    src = BinlogSource(conn, tables, server_id=4803, blocking=False, initial=start, until=end)
    stats = Pipeline(mapping, target, name=name, batch_size=batch, flush_ms=200).run(src)
    return stats.counts.changes, time.perf_counter() - t0, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--singles", type=int, default=5_000)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs for the bare and source-only rates")
    ap.add_argument("--mysql-url", default=os.environ.get("KBGRAPH_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
    ap.add_argument("--neo4j-uri")
    ap.add_argument("--neo4j-user", default="neo4j")
    ap.add_argument("--neo4j-database", default="neo4j")
    a = ap.parse_args()
    conn = ConnInfo.from_url(a.mysql_url)
    db = f"kbbench_{time.time_ns() % 10**9}"
    graph = None
    admin = conn.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{db}`")
            cur.execute(DDL)
        with tempfile.TemporaryDirectory() as work_dir:
            work = Path(work_dir)
            if a.neo4j_uri:
                target = GraphTarget(a.neo4j_uri, a.neo4j_user, os.environ.get("NEO4J_PASSWORD", ""), a.neo4j_database)
            else:
                from kbgraph.embedded import EmbeddedGraph

                graph = EmbeddedGraph(work / "graph").start()
                target = GraphTarget(graph.uri, graph.user, graph.password, graph.database)
            (work / "bench.yaml").write_text(MAPPING.format(db=db), encoding="utf-8")
            mapping = compile_mappings([work / "bench.yaml"])
            with target.driver() as d:
                apply_schema(d, target.database, mapping)
            tables = MappedTables.from_mapping(mapping)
            stretches = write(admin, a.rows, a.singles)
            print(f"MariaDB/MySQL {admin.get_server_info()}, graph {'Neo4j ' + a.neo4j_uri if a.neo4j_uri else 'embedded ArcadeDB'}, "
                  f"batch size {a.batch_size}")
            for i, (what, rows, start, end) in enumerate(stretches):
                runs = [(bare(conn, db, start, end), source_only(conn, tables, start, end)) for _ in range(a.repeat)]
                (n0, s0), (n1, s1) = min(r[0] for r in runs), min(r[1] for r in runs)  # best of, interleaved
                kept: list[Any] = []
                source_only(conn, tables, start, end, kept)
                n3, s3 = from_memory(kept, mapping, target, f"mem{i}", a.batch_size)
                n2, s2, stats = to_graph(conn, tables, mapping, target, f"bench{i}", start, end, a.batch_size)
                assert n0 == n1 == n2 == n3 == rows, (what, n0, n1, n2, n3, rows)
                r0, r1, r2, r3 = n0 / s0, n1 / s1, n2 / s2, n3 / s3
                print(f"{what}: {rows:,} rows")
                print(f"  bare mysql-replication parse : {r0:>9,.0f} rows/s")
                print(f"  BinlogSource (no graph)      : {r1:>9,.0f} rows/s  ({r1 / r0:.2f} of bare)")
                print(f"  same changes from memory     : {r3:>9,.0f} rows/s  (the graph side alone)")
                print(f"  binlog -> graph (pipeline)   : {r2:>9,.0f} rows/s  ({r2 / r0:.2f} of bare, "
                      f"{r2 / min(r0, r3):.2f} of the slower side; {stats.counts.transactions} graph transactions)")
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()
        if graph is not None:
            graph.stop()


if __name__ == "__main__":
    main()
