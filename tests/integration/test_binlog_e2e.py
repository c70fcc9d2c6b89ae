"""Binlog and snapshot through the pipeline into the graph: values as graph properties, TRUNCATE and
DDL, a snapshot under a concurrent writer, an interrupted snapshot resumed, then sync."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timezone

import pymysql
import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.errors import SourceError, StopAtCheckpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.pipeline import Pipeline
from kbgraph.sources.snapshot import SnapshotSource
from kbgraph.verify import dump_graph
from tests.support.binlog import (
    MappedTables,
    compile_yaml,
    conn_info,
    scratch_dump,
    snapshot_into,
    sql,
    sync_into,
    target_of,
)
from tests.support.kb_sql import kb_fill, kb_setup
from tests.support.mysql import mysql_connect

pytestmark = pytest.mark.integration

TYPES_DDL = """CREATE TABLE t (
  id INT PRIMARY KEY, ti TINYINT, bu BIGINT UNSIGNED, fl FLOAT, db DOUBLE, de DECIMAL(12,4), ch CHAR(5),
  vc VARCHAR(300), bl BLOB, vb VARBINARY(10), bn BINARY(4), uu UUID, i6 INET6, en ENUM('a','b'),
  st SET('x','y','z'), d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), yr YEAR, bt BIT(10), js JSON)"""
TYPES_MAPPING = """
source: {{schema: {db}}}
entities:
  - table: t
    label: Typed
    key: [id]
    properties:
      ti: ti
      bu: {{column: bu, type: str}}
      fl: fl
      db: db
      de: de
      ch: ch
      vc: vc
      bl: bl
      vb: vb
      bn: bn
      uu: uu
      i6: i6
      en: en
      st: st
      d: d
      dt: dt
      ts: ts
      tm: tm
      yr: yr
      bt: bt
      js: js
"""
ROW = ("({id}, -5, 18446744073709551615, 1.1, 0.30000000000000004, -12345678.1234, 'ab', '中文😀', x'00ff', '', "
       "'a', '{uuid}', '2001:db8::', 'b', 'z,x', '2024-02-29', '2024-01-02 03:04:05.123456', "
       "'2024-01-02 03:04:05.5', '-00:00:01.25', 2024, b'1010', '{{\"a\": {{\"b\": [1, 2]}}, \"c\": \"中\"}}')")


def _prepare(graph, graph_server, mapping):
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    return target


def test_types_arrive_as_graph_properties(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = compile_yaml(tmp_path, TYPES_MAPPING.format(db=mysql_db))
    target = _prepare(graph, graph_server, mapping)
    sql(mysql_url, TYPES_DDL, f"INSERT INTO t VALUES {ROW.format(id=1, uuid='12345678-1234-1234-1234-123456780000')}",
        "INSERT INTO t (id, st, bl, vb) VALUES (3, '', '', NULL)", db=mysql_db)
    stats, _ = snapshot_into(mysql_url, mapping, target, "types")
    assert stats.counts.changes == 2 and stats.counts.dead_letters == 0
    sql(mysql_url, f"INSERT INTO t VALUES {ROW.format(id=2, uuid='00000000-0000-0000-0000-000000000000')}",
        "UPDATE t SET vc = 'changed', tm = '-12:34:56.000001' WHERE id = 1",
        "UPDATE t SET st = 'y' WHERE id = 3", "UPDATE t SET st = '' WHERE id = 3", db=mysql_db)
    stats = sync_into(mysql_url, mapping, target, "types")
    assert stats.counts.changes == 4 and stats.counts.dead_letters == 0
    streamed = dump_graph(graph, target.database)
    records, _, _ = graph.execute_query("MATCH (n:Typed {id: 2}) RETURN properties(n) AS p", database_=target.database)
    p = records[0]["p"]
    assert p["fl"] == 1.1 and p["db"] == 0.30000000000000004 and p["de"] == "-12345678.1234"
    assert p["bu"] == "18446744073709551615" and p["vc"] == "中文😀" and p["ch"] == "ab"
    assert p["uu"] == "00000000-0000-0000-0000-000000000000" and p["i6"] == "2001:db8::"
    assert p["st"] == ["x", "z"] and p["yr"] == 2024 and p["bt"] == 10 and p["en"] == "b"
    assert p["js.a.b"] == [1, 2] and p["js.c"] == "中"
    ts = p["ts"].to_native()  # the stand-in graph server keeps no zone; Neo4j keeps UTC
    assert ts.replace(tzinfo=None) == datetime(2024, 1, 2, 3, 4, 5, 500000) and ts.utcoffset() in (None, timezone.utc.utcoffset(None))
    # the same rows loaded from scratch by a snapshot give the same graph: stream and SELECT agree
    assert streamed == scratch_dump(mysql_url, mapping, target, graph), streamed.diff(scratch_dump(mysql_url, mapping, target, graph))


def test_truncate_deletes_the_tables_graph_elements(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = _prepare(graph, graph_server, mapping)
    kb_fill(mysql_url, mysql_db, 20)
    sql(mysql_url, "INSERT INTO alias VALUES (1, 3, 'en', 'three'), (2, 4, 'zh', '四')", db=mysql_db)
    snapshot_into(mysql_url, mapping, target, "trunc")
    sql(mysql_url, "TRUNCATE TABLE alias", "INSERT INTO alias VALUES (5, 7, 'en', 'seven')", "DELETE FROM relation",
        db=mysql_db)
    stats = sync_into(mysql_url, mapping, target, "trunc")
    assert stats.counts.dead_letters == 0
    streamed = dump_graph(graph, target.database)
    records, _, _ = graph.execute_query("MATCH (a:Alias) RETURN a.value AS v", database_=target.database)
    assert [r["v"] for r in records] == ["seven"]
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert streamed == expected, streamed.diff(expected)


def test_ddl_on_a_mapped_table_stops_at_the_checkpoint(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = _prepare(graph, graph_server, mapping)
    kb_fill(mysql_url, mysql_db, 5)
    snapshot_into(mysql_url, mapping, target, "ddl")
    sql(mysql_url, "UPDATE entity SET name = 'before ddl' WHERE id = 1", "ALTER TABLE entity DROP COLUMN born_on",
        "UPDATE entity SET name = 'after ddl' WHERE id = 2", db=mysql_db)
    with pytest.raises(StopAtCheckpoint, match=r"alters mapped table .*\.entity"):
        sync_into(mysql_url, mapping, target, "ddl")
    records, _, _ = graph.execute_query("MATCH (e:Entity) WHERE e.id IN [1, 2] RETURN e.id AS id, e.name AS name "
                                        "ORDER BY id", database_=target.database)
    assert [(r["id"], r["name"]) for r in records] == [(1, "before ddl"), (2, "e2")]
    cp = read_checkpoint(graph, target.database, "ddl")
    with pytest.raises(StopAtCheckpoint):  # a restart stops at the same place again
        sync_into(mysql_url, mapping, target, "ddl")
    assert read_checkpoint(graph, target.database, "ddl") == cp


class Writer(threading.Thread):
    """Keeps inserting, updating and deleting rows until stopped."""

    def __init__(self, url, db, seed):
        super().__init__(daemon=True)
        self.url, self.db, self.r = url, db, random.Random(seed)
        self.stop_event = threading.Event()
        self.done = 0
        self.error: BaseException | None = None

    def run(self):
        conn = mysql_connect(self.url, self.db)
        next_id = 100_000
        try:
            with conn.cursor() as cur:
                while not self.stop_event.is_set():
                    roll = self.r.random()
                    i = self.r.randint(1, 400)
                    try:
                        if roll < 0.3:
                            next_id += 1
                            cur.execute("INSERT INTO entity (id, type, name, parent_id) VALUES (%s, 'Place', %s, %s)",
                                        (next_id, f"w{next_id}", i))
                        elif roll < 0.7:
                            cur.execute("UPDATE entity SET name = %s, score = %s WHERE id = %s",
                                        (f"u{self.done}", self.r.randint(0, 99), i))
                        elif roll < 0.85:
                            cur.execute("UPDATE relation SET weight = %s, dst_id = %s WHERE id = %s",
                                        (self.r.choice([None, 2.0, -1.0]), self.r.randint(1, 500), i))
                        else:
                            cur.execute("DELETE FROM relation WHERE id = %s", (i,))
                    except pymysql.err.IntegrityError:
                        pass
                    self.done += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            conn.close()


def test_snapshot_under_a_concurrent_writer_then_sync(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = _prepare(graph, graph_server, mapping)
    kb_fill(mysql_url, mysql_db, 400)
    writer = Writer(mysql_url, mysql_db, 7)
    writer.start()
    try:
        stats, src = snapshot_into(mysql_url, mapping, target, "live", chunk=25, batch_size=50)
        assert src.final_position is not None and stats.counts.dead_letters == 0
        before = writer.done
        while writer.done < before + 200 and writer.is_alive():  # writes after the snapshot too
            threading.Event().wait(0.05)
    finally:
        writer.stop_event.set()
        writer.join(10)
    assert writer.error is None and writer.done > 200
    stats = sync_into(mysql_url, mapping, target, "live")
    assert stats.counts.dead_letters == 0
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert streamed == expected, streamed.diff(expected)


def test_interrupted_snapshot_resumes_after_its_last_chunk(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = _prepare(graph, graph_server, mapping)
    kb_fill(mysql_url, mysql_db, 300)
    src = SnapshotSource(conn_info(mysql_url), MappedTables.from_mapping(mapping), chunk=20)
    run = Pipeline(mapping, target, name="resume", batch_size=20, flush_ms=10_000, queue_size=1)
    run.progress = lambda stats: run.stop() if stats.counts.changes >= 200 else None
    first = run.run(src)
    assert 200 <= first.counts.changes < 400
    cp = read_checkpoint(graph, target.database, "resume")
    assert cp["snapshot"]["done"] is False
    with pytest.raises(SourceError, match="snapshot of this pipeline was interrupted"):
        sync_into(mysql_url, mapping, target, "resume")
    sql(mysql_url, "UPDATE entity SET name = 'meanwhile' WHERE id IN (1, 399)",
        "INSERT INTO relation VALUES (1000, 1, 'LOCATED_IN', 2, NULL)", db=mysql_db)
    _, again = snapshot_into(mysql_url, mapping, target, "resume", chunk=20, batch_size=20)
    assert again.rows < 601 - first.counts.changes + 20  # resumed: did not read everything again
    assert read_checkpoint(graph, target.database, "resume")["snapshot"]["done"] is True
    assert read_checkpoint(graph, target.database, "resume")["pos"] == cp["pos"]  # streams from the first view
    sql(mysql_url, "UPDATE entity SET name = 'later' WHERE id = 2", db=mysql_db)
    sync_into(mysql_url, mapping, target, "resume")
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert streamed == expected, streamed.diff(expected)


def test_snapshot_of_empty_tables_still_hands_off_its_position(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = _prepare(graph, graph_server, mapping)
    stats, src = snapshot_into(mysql_url, mapping, target, "empty")
    assert stats.counts.changes == 1 and src.rows == 0  # only the position-only change
    assert read_checkpoint(graph, target.database, "empty")["file"] == src.final_position["file"]
    kb_fill(mysql_url, mysql_db, 5)  # written after the snapshot: the stream must bring all of it
    assert sync_into(mysql_url, mapping, target, "empty").counts.changes >= 10
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert streamed == expected, streamed.diff(expected)
