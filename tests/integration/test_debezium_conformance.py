"""Conformance with real Debezium 3.3.1 MariaDB records (tests/fixtures/debezium-mariadb).

* The recorded records, produced unchanged (key, value, headers) to one topic in file order, go
  through the Kafka source into the graph: it equals the graph the final rows make, read from
  MariaDB after running the same SQL (``kbgraph.expected``), and the only dead letters are the
  intended rejections. Both with and without schema.
* ``kbgraph publish``'s table description from MariaDB gives the very schemas Debezium wrote.

Only the binlog is not needed: this runs against any MariaDB/MySQL (``KBGRAPH_TEST_MYSQL_URL``).
``updated_at`` (``ON UPDATE CURRENT_TIMESTAMP``) holds the time of the recording, which a second run
of the SQL cannot reproduce: the comparison maps every other column, and the unit tests check that
column's decoding against the recorded schema. Debezium's own snapshot reads FLOAT as JDBC text with
6 significant digits (16777216 arrives as 1.67772E7): FLOAT values are compared at that precision.

The graph test needs Neo4j: the stand-in cannot switch a node's label inside a transaction (the
workload changes entity types), so there it runs as rows only.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pymysql
import pytest

from kbgraph.change import Change
from kbgraph.debezium.columns import ConnectorSettings
from kbgraph.debezium.encode import field_schema
from kbgraph.errors import ChangeError
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.publish import TableDescriber, build_publisher
from kbgraph.settings import Settings
from kbgraph.sources import StandaloneContext
from kbgraph.sources.binlog.decode import select_expression, snapshot_fixes, table_columns
from kbgraph.sources.kafka import KafkaSource
from kbgraph.verify import dump_graph
from tests.support.dbz_fixture import DIR, MAPPINGS, recorded, sql
from tests.support.kafka import FAST_GROUP, create_topic, read_topic, run_until, target_of
from tests.support.mysql import connect_args, mysql_test_url

pytestmark = pytest.mark.integration

TABLES = ["entity", "relation", "attribute", "alias", "xtypes"]


def create_dbzt(url: str, name: str, after_seed: Any = None) -> None:
    """Database ``name`` with the fixture's schema, seed and workload run; ``after_seed()`` runs between."""
    conn = pymysql.connect(**connect_args(url), client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute(f"USE `{name}`")
            cur.execute("SET SESSION time_zone = '+00:00'")
            for i, text in enumerate(((DIR / "dbzt.sql").read_text().split("USE dbzt;", 1)[1], sql("seed"), sql("run"))):
                if i == 2 and after_seed is not None:
                    after_seed()
                cur.execute(text)
                while cur.nextset():
                    pass
    finally:
        conn.close()


def drop(url: str, name: str) -> None:
    conn = pymysql.connect(**connect_args(url))  # type: ignore[arg-type]
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def dbzt_db() -> Any:
    """A fresh database with the fixture's schema, seed and workload run (no binlog needed)."""
    url = mysql_test_url()
    name = f"kbt_dbz_{uuid.uuid4().hex[:10]}"
    try:
        create_dbzt(url, name)
        yield url, name
    finally:
        drop(url, name)


def final_rows(url: str, db: str) -> list[Change]:
    """The current rows as insert changes, normalised as ``kbgraph snapshot`` normalises them."""
    conn = pymysql.connect(**connect_args(url, db))  # type: ignore[arg-type]
    out = []
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            for table in TABLES:
                cols = table_columns(conn, db, table, True)
                fixes = snapshot_fixes(cols)
                cur.execute(f"SELECT {', '.join(select_expression(c, f'`{c.name}`') for c in cols)} FROM `{table}`")
                for row in cur.fetchall():
                    values = list(row)
                    for i, fix in fixes:
                        if values[i] is not None:
                            values[i] = fix(values[i])
                    out.append(Change(table, "insert", None, {c.name: v for c, v in zip(cols, values)}, schema="dbzt"))
    finally:
        conn.close()
    return out


def without_updated_at(tmp: Path) -> list[Path]:
    """The mappings without ``updated_at`` (the recording's time) and ``xtypes.f``: Debezium's snapshot
    reads FLOAT as JDBC text, 6 digits (16777216 arrives as 1.67772E7; ``kbgraph snapshot`` keeps it)."""
    for name in ("kb.yaml", "xtypes.yaml"):
        text = (DIR / name).read_text()
        text = text.replace("      updated_at: {column: updated_at, type: datetime}\n", "")
        (tmp / name).write_text(text.replace("      f: {column: f, type: float}\n", ""))
    (tmp / "dbzt.sql").write_text((DIR / "dbzt.sql").read_text())
    assert "updated_at" not in (tmp / "kb.yaml").read_text().split("properties:")[1].split("where")[0]
    return [tmp / "kb.yaml", tmp / "xtypes.yaml"]


def produce_recorded(bootstrap: str, topic: str, which: str) -> int:
    from kafka import KafkaProducer

    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", batch_size=512 * 1024)
    try:
        futures = [producer.send(topic, key=enc(r["key"]), value=enc(r["value"]),
                                 headers=[(k, enc(v)) for k, v in r["headers"]], partition=0) for r in recorded(which)]
        producer.flush()
        return max(f.get(timeout=30).offset for f in futures) + 1
    finally:
        producer.close()


PK = {"entity": ("id",), "relation": ("id",), "attribute": ("id",), "alias": ("entity_id", "alias"), "xtypes": ("id",)}


def replayed_rows(source: KafkaSource, ends: dict[str, int], mapping: Any) -> tuple[dict[str, dict[tuple, dict]], list[str]]:
    """The rows the Kafka source's changes leave, applied in order to an in-memory copy of the tables,
    and what the mapping rejects of those changes."""
    rows: dict[str, dict[tuple, dict]] = {t: {} for t in TABLES}
    rejected: list[str] = []
    reached: dict[str, Any] = {}
    ctx = StandaloneContext()
    timer = threading.Timer(90, ctx.stopping.set)  # a deadline, not a timing: the loop ends on the end offset
    timer.start()
    try:
        for c in source.changes({}, ctx):
            try:
                mapping.translate(c)
            except ChangeError as e:
                rejected.append(str(e))
            if c.op == "truncate":
                rows[c.table].clear()
            elif c.op in ("insert", "update", "delete"):
                if c.before is not None:
                    rows[c.table].pop(tuple(c.before[k] for k in PK[c.table]), None)
                if c.after is not None:
                    rows[c.table][tuple(c.after[k] for k in PK[c.table])] = c.after
            source.committed(c.position)
            reached.update(c.position)
            if all(isinstance(reached.get(k), int) and reached[k] >= e for k, e in ends.items()):
                break
        else:
            raise AssertionError("the source stopped before the last record")
    finally:
        timer.cancel()
        source.close()
    return rows, rejected


def assert_final_rows(got: dict[str, dict[tuple, dict]], rejected: list[str], source: KafkaSource, dbzt_db: Any,
                      bootstrap: str) -> None:
    """``got`` (``replayed_rows``) holds exactly MariaDB's final rows, every column but ``updated_at``, but
    for the row with ``u`` = 2^64-1: with ``bigint.unsigned.handling.mode=long`` Debezium sent it as -1,
    so its insert and both updates are dead letters (the documented rejection), never applied."""
    assert len(rejected) == 13 and all("is not an allowed" in r for r in rejected), rejected  # labels / types outside the allow-lists
    want: dict[str, dict[tuple, dict]] = {t: {} for t in TABLES}
    for c in final_rows(*dbzt_db):
        want[c.table][tuple(c.after[k] for k in PK[c.table])] = c.after
    lettered = [dict(rec.headers)["kbgraph.dlq.reason"].decode() for rec in read_topic(bootstrap, f"{source.group}.dlq", 3)]
    assert len(lettered) == 3 and all("BIGINT UNSIGNED, but Debezium sent -1" in r for r in lettered), lettered
    (wrapped,) = {k for k, r in want["xtypes"].items() if r["u"] == 2**64 - 1}
    want["xtypes"].pop(wrapped)  # its insert was one of them: never applied
    assert wrapped not in got["xtypes"]
    for table in TABLES:
        for row in (*got[table].values(), *want[table].values()):
            row.pop("updated_at", None)
            if row.get("f") is not None:  # Debezium's snapshot reads FLOAT as JDBC text: 6 digits (16777216 -> 1.67772E7)
                row["f"] = float(f"{row['f']:.6g}")
        assert set(got[table]) == set(want[table]), (table, set(want[table]) - set(got[table]), set(got[table]) - set(want[table]))
        bad = [(k, {c: (got[table][k][c], want[table][k].get(c)) for c in got[table][k] if got[table][k][c] != want[table][k].get(c)})
               for k in want[table] if got[table][k] != want[table][k]]
        assert not bad, f"{table}: {bad[:5]}"
    assert sum(len(r) for r in want.values()) > 600
    counts = {k: source.counts[k] for k in ("records", "changes", "tombstones", "ddl", "dead_letters")}
    assert counts == {"records": 4116, "changes": 3221, "tombstones": 700, "ddl": 49, "dead_letters": 3}


@pytest.mark.parametrize("which", ["schema", "noschema"])
def test_recorded_debezium_records_leave_the_final_rows(which, dbzt_db, kafka_bootstrap):
    """The Kafka source's changes, applied in order, leave exactly the rows MariaDB holds (every column
    but ``updated_at``); a wrapped BIGINT UNSIGNED goes to the dead-letter topic with its reason."""
    mapping = compile_mappings(MAPPINGS)
    topic = f"dbz-rows-{which}-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 1)
    end = produce_recorded(kafka_bootstrap, topic, which)
    source = KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=f"g-{topic}", mapped=mapping, consumer_options=FAST_GROUP)
    got, rejected = replayed_rows(source, {f"kafka:{topic}:0": end}, mapping)
    assert_final_rows(got, rejected, source, dbzt_db, kafka_bootstrap)


@pytest.mark.needs_neo4j("label switches inside a transaction (the stand-in dead-letters them)")
def test_recorded_debezium_records_build_the_graph_of_the_final_rows(dbzt_db, kafka_bootstrap, graph_server, graph, tmp_path):
    mapping = compile_mappings(without_updated_at(tmp_path))
    apply_schema(graph, graph_server.database, mapping)
    # with the schema; payload-only records decode to the very same changes (unit tests) and leave the
    # same rows (test above)
    topic = f"dbz-graph-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 1)
    end = produce_recorded(kafka_bootstrap, topic, "schema")
    source = KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=f"g-{topic}", mapped=mapping, consumer_options=FAST_GROUP)
    pipeline = Pipeline(mapping, target_of(graph_server), name=f"p-{topic}", batch_size=500)
    stats = run_until(pipeline, source, graph, graph_server.database, {f"kafka:{topic}:0": end}, timeout=120)

    letters = read_topic(kafka_bootstrap, f"g-{topic}.dlq", 16)
    lettered = [dict(rec.headers)["kbgraph.dlq.reason"].decode() for rec in letters]
    reasons = Counter("not allowed" if "is not an allowed" in r else "unsigned" if "BIGINT UNSIGNED" in r else r for r in lettered)
    assert reasons == {"not allowed": 13, "unsigned": 3}, reasons
    assert stats.counts.dead_letters == 13 and source.counts["ddl"] == 49

    expected = expected_graph(mapping, final_rows(*dbzt_db))
    assert len(expected.errors) >= 1  # rows the mappings reject, e.g. 2^64-1 outside the graph's integers
    labels, types = mapping.graph_names()
    streamed = dump_graph(graph, graph_server.database, labels, types)
    want = expected.dump()
    assert sum(want.nodes.values()) > 300
    assert streamed == want, streamed.diff(want)


def test_per_table_topics_leave_the_final_rows(dbzt_db, kafka_bootstrap):
    """The same records in per-table topics, as Debezium names them (one partition each), merged back
    into source order by the Kafka source: the same final rows and the same rejections as one topic."""
    from kafka import KafkaProducer

    mapping = compile_mappings(MAPPINGS)
    run = uuid.uuid4().hex[:8]
    topics = sorted({r["topic"] for r in recorded("schema")})
    for t in topics:
        create_topic(kafka_bootstrap, f"{t}-{run}", 1)
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        futures = [producer.send(f"{r['topic']}-{run}", key=enc(r["key"]), value=enc(r["value"]),
                                 headers=[(k, enc(v)) for k, v in r["headers"]], partition=0) for r in recorded("schema")]
        producer.flush()
        ends: dict[str, int] = {}
        for f in futures:
            md = f.get(timeout=30)
            ends[f"kafka:{md.topic}:0"] = max(ends.get(f"kafka:{md.topic}:0", 0), md.offset + 1)
    finally:
        producer.close()
    source = KafkaSource(kafka_bootstrap, {f"{t}-{run}": "debezium" for t in topics}, group=f"g-{run}", mapped=mapping,
                         consumer_options=FAST_GROUP)
    got, rejected = replayed_rows(source, ends, mapping)
    assert_final_rows(got, rejected, source, dbzt_db, kafka_bootstrap)


def test_publish_describes_the_tables_with_debeziums_schemas(dbzt_db) -> None:
    url, db = dbzt_db
    describer = TableDescriber(lambda: pymysql.connect(**connect_args(url)))  # type: ignore[arg-type]
    try:
        theirs = {}
        for r in recorded("schema"):
            if r["topic"].startswith("dbzt.dbzt.") and r["value"]:
                fields = json.loads(r["value"])["schema"]["fields"][0]["fields"]
                theirs.setdefault(r["topic"].rsplit(".", 1)[1], fields)
        assert set(theirs) == set(TABLES)
        for table, fields in theirs.items():
            info = describer.describe(db, table)
            assert info.flavour == "mariadb"
            ours = [field_schema(c, ConnectorSettings()) for c in info.columns]
            assert [list(f.items()) for f in ours] == [list(f.items()) for f in fields], table
    finally:
        describer.close()


# what differs between two runs of the same SQL on two servers, besides the producer and processing time
RUN_BOUND = {("payload", "source", k) for k in ("version", "ts_ms", "ts_us", "ts_ns", "server_id", "gtid", "file", "pos")}
RUN_BOUND |= {("payload", k) for k in ("ts_ms", "ts_us", "ts_ns")}


def test_publish_writes_what_debezium_wrote_for_the_same_sql(mysql_url, kafka_bootstrap, tmp_path):
    """The same SQL on a binlog server, published: record for record what Debezium wrote (with the schema),
    but for what belongs to the run (binlog coordinates, times, ``updated_at``). GTIDs and positions
    group the records as Debezium's do (one GTID per transaction, one position per rows event)."""
    from tests.support.binlog import position_now
    from tests.support.dbz_fixture import differences, json_pairs

    db = f"kbt_dbzp_{uuid.uuid4().hex[:8]}"
    start: list[Any] = []
    try:
        create_dbzt(mysql_url, db, after_seed=lambda: start.append(position_now(mysql_url)))
        for name in ("kb.yaml", "xtypes.yaml"):
            (tmp_path / name).write_text((DIR / name).read_text().replace("schema: dbzt", f"schema: {db}"))
        (tmp_path / "dbzt.sql").write_text((DIR / "dbzt.sql").read_text())
        mapping = compile_mappings([tmp_path / "kb.yaml", tmp_path / "xtypes.yaml"])
        topic = f"dbzpub-{uuid.uuid4().hex[:8]}"
        settings = Settings(mysql_url=mysql_url, kafka_bootstrap=kafka_bootstrap, kafka_topic_prefix="dbzt", binlog_until_end=True)
        publisher = build_publisher(settings, mapping, state_path=tmp_path / "state.json", start=f"{start[0].file}:{start[0].pos}",
                                    server_id=4990, topic=topic)
        stats = publisher.run()
    finally:
        drop(mysql_url, db)
    theirs = [r for r in recorded("schema") if r["topic"] != "dbzt"
              and (r["value"] is None or json.loads(r["value"])["payload"]["op"] != "r")]
    ours = read_topic(kafka_bootstrap, topic, stats.messages)
    assert stats.messages == len(ours) == len(theirs) == 3542

    def text(b: bytes | None) -> str | None:
        return None if b is None else b.decode().replace(f".{db}.", ".dbzt.").replace(f'"db":"{db}"', '"db":"dbzt"')

    problems: list[str] = []
    gtids: dict[Any, Any] = {}
    positions: dict[Any, Any] = {}
    for n, (rec, their) in enumerate(zip(ours, theirs)):
        mine, want = json_pairs(text(rec.value)), json_pairs(their["value"])
        for doc in (mine, want):  # the time of the run
            for row in (dict(dict(doc)["payload"]).get(k) for k in ("before", "after")) if doc else ():
                if row:
                    row[:] = [(c, v) for c, v in row if c != "updated_at"]
        problems += [f"record {n} value: {d}" for d in differences(mine, want, (), RUN_BOUND)]
        problems += [f"record {n} key: {d}" for d in differences(json_pairs(text(rec.key)), json_pairs(their["key"]), ("key",), set())]
        headers = [(k, json_pairs(text(v))) for k, v in rec.headers]
        problems += [f"record {n} headers: {d}" for d in
                     differences(headers, [(k, json_pairs(v)) for k, v in their["headers"]], ("headers",), set())]
        if mine and want:
            a, b = dict(dict(mine)["payload"])["source"], dict(dict(want)["payload"])["source"]
            a, b = dict(a), dict(b)
            gtids.setdefault(a["gtid"], set()).add(b["gtid"])
            positions.setdefault((a["file"], a["pos"]), set()).add((b["file"], b["pos"]))
    assert not problems, "\n".join(problems[:20])
    assert all(len(v) == 1 for v in gtids.values()) and len({next(iter(v)) for v in gtids.values()}) == len(gtids)
    assert all(len(v) == 1 for v in positions.values()) and len({next(iter(v)) for v in positions.values()}) == len(positions)
