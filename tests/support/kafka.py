"""Kafka integration test helpers: a workload on mappings/kb.yaml, its records per format, topics, runs.

``KbWorkload`` plays inserts, updates, deletes and a primary-key change on the tables of
``mappings/kb.yaml`` and remembers the final rows; ``encode`` writes each change as a record of a
given format, the way that tool writes it (Debezium with its schema and value encodings, Maxwell
with numbers and text, Canal with text values, ``mysqlType`` and several rows per record, native).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from kbgraph.checkpoint import read_checkpoint
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline, RunStats
from kbgraph.sources.jsonl import JsonlSource
from kbgraph.verify import dump_graph
from tests.support.graph import target_of as target_of  # re-exported: the Kafka tests import it from here

ROOT = Path(__file__).resolve().parents[2]
KB_MAPPING = ROOT / "mappings" / "kb.yaml"
FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}  # Tansu joins take session_timeout/2

# column -> kind, per table (the types of mappings/kb.sql)
COLUMNS: dict[str, dict[str, str]] = {
    "entity": {"id": "bigint", "type": "varchar", "name": "varchar", "description": "text", "born_on": "date",
               "founded_year": "int", "meta": "json", "score": "decimal", "deleted": "tinyint",
               "parent_id": "bigint", "updated_at": "datetime"},
    "relation": {"id": "bigint", "src_id": "bigint", "predicate": "varchar", "dst_id": "bigint", "weight": "double",
                 "since": "date", "source": "varchar"},
    "attribute": {"id": "bigint", "entity_id": "bigint", "k": "varchar", "v": "text"},
    "alias": {"entity_id": "bigint", "alias": "varchar", "lang": "varchar"},
}
PK = {"entity": ["id"], "relation": ["id"], "attribute": ["id"], "alias": ["entity_id", "alias"]}
EPOCH = dt.datetime(1970, 1, 1)


class KbWorkload:
    """Changes on the kb tables and the rows they leave behind."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, dict | None, dict | None]] = []  # (table, op, before, after)
        self.rows: dict[str, dict[tuple, dict]] = {t: {} for t in COLUMNS}

    def _pk(self, table: str, row: dict) -> tuple:
        return tuple(row[c] for c in PK[table])

    def insert(self, table: str, **row: Any) -> None:
        full = {c: row.get(c) for c in COLUMNS[table]}
        if table == "entity":
            full["deleted"] = row.get("deleted", 0)
        if table == "alias" and full["lang"] is None:
            full["lang"] = "en"
        self.rows[table][self._pk(table, full)] = full
        self.changes.append((table, "insert", None, dict(full)))

    def update(self, table: str, key: tuple, **changes: Any) -> None:
        before = self.rows[table].pop(key)
        after = {**before, **changes}
        self.rows[table][self._pk(table, after)] = after
        self.changes.append((table, "update", dict(before), dict(after)))

    def delete(self, table: str, key: tuple) -> None:
        before = self.rows[table].pop(key)
        self.changes.append((table, "delete", dict(before), None))

    def truncate(self, table: str) -> None:
        self.rows[table].clear()
        self.changes.append((table, "truncate", None, None))

    def final_inserts(self) -> list[tuple[str, str, None, dict]]:
        return [(t, "insert", None, dict(r)) for t, rows in self.rows.items() for r in rows.values()]


def kb_workload(n: int = 30, truncate: bool = False) -> KbWorkload:
    """n entities with relations, attributes and aliases; then updates, deletes, a soft delete and a key change
    (and, with ``truncate``, a TRUNCATE of the alias table followed by a new alias)."""
    w = KbWorkload()
    kinds = ["Person", "Organization", "Place", "Concept"]
    for i in range(1, n + 1):
        kind = kinds[i % 4]
        w.insert("entity", id=i, type=kind, name=f"{kind} {i} 名", description=None if i % 3 else f"about {i}",
                 born_on=dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28) if kind == "Person" else None,
                 founded_year=1900 + i if kind == "Organization" else None,
                 meta={"wiki": {"zh": f"维基 {i}"}, "tags": ["a", str(i)]} if i % 2 else None,
                 score=Decimal(f"{i}.{i % 100:02d}") if i % 5 else Decimal("-0.05"),
                 parent_id=i - 1 if kind == "Place" and i > 2 else None,
                 updated_at=dt.datetime(2024, 1, 1, 12, 0, 0) + dt.timedelta(seconds=i, microseconds=i * 7))
    for i in range(1, n):
        w.insert("relation", id=i, src_id=i, dst_id=i + 1, predicate=["WORKS_AT", "KNOWS", "LOCATED_IN"][i % 3],
                 weight=i / 4, since=dt.date(2000 + i % 20, 6, 1) if i % 2 else None, source=f"src{i}")
    for i in range(1, n + 1):
        w.insert("attribute", id=i, entity_id=i, k="website" if i % 2 else "motto", v=f"value {i}")
        w.insert("alias", entity_id=i, alias=f"alias {i}", lang="zh" if i % 2 else "en")
    for i in range(1, n + 1, 3):
        w.update("entity", (i,), name=f"renamed {i}", score=Decimal("99.99"),
                 updated_at=dt.datetime(2024, 6, 1, 8, 30, 0, 123456))
    for i in range(2, n, 5):
        w.update("relation", (i,), weight=None, source="moved")
    for i in range(3, n, 7):
        w.delete("relation", (i,))
    for i in range(4, n, 6):
        w.delete("alias", (i, f"alias {i}"))
        w.update("attribute", (i,), v=None)
    # a soft delete of an entity nothing points at, then a primary-key change of another one
    w.insert("entity", id=1000, type="Concept", name="ephemeral", score=Decimal("1.00"), deleted=0,
             updated_at=dt.datetime(2024, 2, 2))
    w.update("entity", (1000,), deleted=1)
    w.insert("entity", id=2000, type="Concept", name="re-keyed", score=Decimal("2.50"), updated_at=dt.datetime(2024, 2, 3))
    w.update("entity", (2000,), id=2001, name="re-keyed now 2001")
    w.delete("attribute", (1,))
    if truncate:
        w.truncate("alias")
        w.insert("alias", entity_id=2, alias="after the truncate", lang="en")
    return w


# -- encoders ------------------------------------------------------------------------------------


def _json_value(kind: str, v: Any) -> Any:
    """A value as plain JSON (native format, the expected-graph JSONL)."""
    if v is None:
        return None
    if kind == "date":
        return v.isoformat()
    if kind == "datetime":
        return v.isoformat()
    if kind == "decimal":
        return str(v)
    return v


def _plain_row(table: str, row: dict | None) -> dict | None:
    if row is None:
        return None
    return {c: _json_value(COLUMNS[table][c], row[c]) for c in row}


def write_jsonl(path: Path, changes: Iterable[tuple[str, str, dict | None, dict | None]], schema: str = "kb") -> Path:
    with path.open("wb") as f:
        for table, op, before, after in changes:
            f.write(orjson.dumps({"table": table, "schema": schema, "op": op,
                                  "before": _plain_row(table, before), "after": _plain_row(table, after)}) + b"\n")
    return path


def _dbz_type(kind: str) -> dict[str, Any]:
    return {
        "bigint": {"type": "int64"}, "int": {"type": "int32"}, "tinyint": {"type": "int16"},
        "varchar": {"type": "string"}, "text": {"type": "string"}, "double": {"type": "double"},
        "date": {"type": "int32", "name": "io.debezium.time.Date", "version": 1},
        "datetime": {"type": "int64", "name": "io.debezium.time.MicroTimestamp", "version": 1},
        "json": {"type": "string", "name": "io.debezium.data.Json", "version": 1},
        "decimal": {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
                    "parameters": {"scale": "2", "connect.decimal.precision": "10"}},
    }[kind]


def _dbz_value(kind: str, v: Any) -> Any:
    if v is None or (isinstance(v, str) and kind != "json"):
        return v  # already text (payload-only envelopes with text encodings)
    if kind == "date":
        return (v - dt.date(1970, 1, 1)).days
    if kind == "datetime":
        d = v - EPOCH
        return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    if kind == "json":
        return json.dumps(v, ensure_ascii=False)
    if kind == "decimal" and isinstance(v, Decimal):
        u = int(v.scaleb(2))
        return base64.b64encode(u.to_bytes(max(1, (u.bit_length() + 8) // 8), "big", signed=True)).decode()
    return v


def debezium_schema(table: str, db: str = "kb") -> dict[str, Any]:
    fields = [{**_dbz_type(k), "optional": c not in PK[table], "field": c} for c, k in COLUMNS[table].items()]
    value = {"type": "struct", "fields": fields, "optional": True, "name": f"dbserver1.{db}.{table}.Value"}
    source = {"type": "struct", "optional": False, "name": "io.debezium.connector.mysql.Source", "field": "source",
              "fields": [{"type": "string", "optional": False, "field": f} for f in ("version", "connector", "name", "db", "table", "file")]
              + [{"type": "int64", "optional": False, "field": f} for f in ("ts_ms", "server_id", "pos")]}
    return {"type": "struct", "optional": False, "name": f"dbserver1.{db}.{table}.Envelope", "version": 1,
            "fields": [{**value, "field": "before"}, {**value, "field": "after"}, source,
                       {"type": "string", "optional": False, "field": "op"}, {"type": "int64", "optional": True, "field": "ts_ms"}]}


def _key(table: str, row: dict) -> bytes:
    return orjson.dumps({c: row[c] for c in PK[table]})


def encode_debezium(table: str, op: str, before: dict | None, after: dict | None, seq: int, schema: bool = True) -> list[tuple[bytes | None, bytes | None]]:
    def env(o: str, b: dict | None, a: dict | None) -> bytes:
        kinds = COLUMNS[table]
        payload = {
            "before": None if b is None else {c: _dbz_value(kinds[c], v) for c, v in b.items()},
            "after": None if a is None else {c: _dbz_value(kinds[c], v) for c, v in a.items()},
            "source": {"version": "2.7.0.Final", "connector": "mysql", "name": "dbserver1", "db": "kb", "table": table,
                       "file": "mysql-bin.000003", "ts_ms": 1710000000000 + seq, "server_id": 1, "pos": 1000 + seq},
            "op": o, "ts_ms": 1710000000500 + seq,
        }
        return orjson.dumps({"schema": debezium_schema(table), "payload": payload} if schema else payload)

    if op == "truncate":
        return [(None, env("t", None, None))]
    if op == "insert":
        return [(_key(table, after), env("c", None, after))]  # type: ignore[arg-type]
    if op == "delete":
        return [(_key(table, before), env("d", before, None)), (_key(table, before), None)]  # type: ignore[arg-type]
    if _key(table, before) != _key(table, after):  # type: ignore[arg-type]
        # Debezium writes a primary-key change as a delete, a tombstone and a create
        return [(_key(table, before), env("d", before, None)), (_key(table, before), None), (_key(table, after), env("c", None, after))]  # type: ignore[arg-type]
    return [(_key(table, after), env("u", before, after))]  # type: ignore[arg-type]


def _maxwell_json(obj: Any) -> bytes:
    """JSON with decimals written as numbers with their scale, as Maxwell writes DECIMAL columns."""
    marks: dict[str, str] = {}

    def conv(v: Any) -> Any:
        if isinstance(v, Decimal):
            token = f"@@dec{len(marks)}@@"
            marks[token] = str(v)
            return token
        if isinstance(v, dt.datetime):
            return v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    text = json.dumps(conv(obj), ensure_ascii=False)
    for token, num in marks.items():
        text = text.replace(f'"{token}"', num)
    return text.encode()


def encode_maxwell(table: str, op: str, before: dict | None, after: dict | None, seq: int) -> list[tuple[bytes | None, bytes | None]]:
    row = after if after is not None else before
    doc: dict[str, Any] = {"database": "kb", "table": table, "type": op, "ts": 1710000000 + seq, "xid": 5000 + seq, "commit": True,
                           "data": dict(row)}  # type: ignore[arg-type]  # JSON columns as embedded objects, as Maxwell writes them
    if op == "update":
        doc["old"] = {c: v for c, v in before.items() if after[c] != v}  # type: ignore[union-attr,index]
    key = orjson.dumps({"database": "kb", "table": table, **{f"pk.{c}": row[c] for c in PK[table]}})  # type: ignore[index]
    return [(key, _maxwell_json(doc))]


_CANAL_TYPES = {"bigint": "bigint(20)", "int": "int(11)", "tinyint": "tinyint(1)", "varchar": "varchar(255)", "text": "text",
                "double": "double", "date": "date", "datetime": "datetime(6)", "json": "json", "decimal": "decimal(10,2)"}
_SQL_TYPES = {"bigint": -5, "int": 4, "tinyint": -6, "varchar": 12, "text": 2005, "double": 8, "date": 91, "datetime": 93,
              "json": 12, "decimal": 3}


def _canal_text(kind: str, v: Any) -> str | None:
    if v is None:
        return None
    if kind == "datetime":
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "json":
        return json.dumps(v, ensure_ascii=False)
    if kind == "double":
        return repr(float(v))
    return str(v)


def encode_canal(table: str, op: str, rows: list[tuple[dict | None, dict | None]], seq: int) -> bytes:
    """One Canal flat message holding every row of one binlog event (same table and type)."""
    kinds = COLUMNS[table]
    if op == "truncate":
        return orjson.dumps({"data": None, "database": "kb", "table": table, "isDdl": True, "type": "TRUNCATE", "es": seq, "ts": seq,
                             "id": seq, "sql": f"TRUNCATE TABLE {table}", "mysqlType": None, "old": None, "pkNames": None, "sqlType": None})
    data, old = [], []
    for before, after in rows:
        row = after if after is not None else before
        data.append({c: _canal_text(kinds[c], v) for c, v in row.items()})  # type: ignore[union-attr]
        if op == "update":
            old.append({c: _canal_text(kinds[c], v) for c, v in before.items() if after[c] != v})  # type: ignore[union-attr,index]
    return orjson.dumps({
        "data": data, "database": "kb", "es": 1710000000000 + seq, "id": seq, "isDdl": False,
        "mysqlType": {c: _CANAL_TYPES[k] for c, k in kinds.items()}, "old": old if op == "update" else None,
        "pkNames": PK[table], "sql": "", "sqlType": {c: _SQL_TYPES[k] for c, k in kinds.items()},
        "table": table, "ts": 1710000000100 + seq, "type": op.upper(),
    })


def encode_native(table: str, op: str, before: dict | None, after: dict | None) -> bytes:
    return orjson.dumps({"table": table, "schema": "kb", "op": op, "before": _plain_row(table, before), "after": _plain_row(table, after)})


# -- broker and pipeline ---------------------------------------------------------------------------


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes | None]], partition_of: Callable[[int], int | None] | None = None,
            headers: list[tuple[str, bytes]] | None = None) -> dict[int, int]:
    """Send records in order; returns {partition: last offset + 1}."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    ends: dict[int, int] = {}
    try:
        futures = [producer.send(topic, key=k, value=v, headers=headers or [],
                                 partition=partition_of(i) if partition_of else None)
                   for i, (k, v) in enumerate(records)]
        producer.flush()
        for f in futures:
            md = f.get(timeout=30)
            ends[md.partition] = max(ends.get(md.partition, 0), md.offset + 1)
    finally:
        producer.close()
    return ends


def reached(position: dict[str, Any], ends: dict[str, int]) -> bool:
    return all(isinstance(position.get(k), int) and position[k] >= v for k, v in ends.items())


def run_until(pipeline: Pipeline, source: Any, driver: Any, database: str, ends: dict[str, int], timeout: float = 90) -> RunStats:
    """Run the pipeline in a thread until the graph checkpoint reaches ``ends`` ({"kafka:t:p": offset})."""
    out: dict[str, Any] = {}

    def go() -> None:
        try:
            out["stats"] = pipeline.run(source)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            out["error"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and t.is_alive():
        if reached(read_checkpoint(driver, database, pipeline.name), ends):
            break
        time.sleep(0.3)
    pipeline.stop()
    t.join(60)
    if "error" in out:
        raise out["error"]
    assert "stats" in out, "the pipeline did not stop"
    cp = read_checkpoint(driver, database, pipeline.name)
    assert reached(cp, ends), f"checkpoint {cp} did not reach {ends} in {timeout}s"
    return out["stats"]


def expected_dump(graph_server: Any, driver: Any, rows: Iterable[tuple[str, str, None, dict]], tmp: Path) -> Any:
    """The graph built from scratch from the final rows (after emptying the graph)."""
    from tests.support.graph import reset_graph

    reset_graph(driver, graph_server.database)
    mapping = compile_mappings([KB_MAPPING])
    path = write_jsonl(tmp / "final.jsonl", rows)
    Pipeline(mapping, target_of(graph_server), name="expected").run(JsonlSource(path))
    return dump_graph(driver, graph_server.database)


def topic_ends(ends: dict[int, int], topic: str) -> dict[str, int]:
    return {f"kafka:{topic}:{p}": e for p, e in ends.items()}


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30) -> list[Any]:
    """Every record of a topic (all partitions, from the start), waiting for at least ``expect``."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        deadline = time.monotonic() + timeout
        parts = None
        while parts is None and time.monotonic() < deadline:
            parts = c.partitions_for_topic(topic)
            if parts is None:
                time.sleep(0.2)
        assert parts, f"topic {topic} does not exist"
        c.assign([TopicPartition(topic, p) for p in parts])
        c.seek_to_beginning()
        out: list[Any] = []
        while len(out) < expect and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                out.extend(recs)
        return out
    finally:
        c.close()
