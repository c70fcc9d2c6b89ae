"""Decoders of Debezium, Maxwell, Canal and native records, from documented sample messages."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from kbgraph.sources.kafka.formats import Router, detect, parse_topics, stamp
from kbgraph.sources.kafka.message import CONTROL, DDL, TOMBSTONE, DecodeError, Message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kafka"


def records(name: str) -> list[Message]:
    out = []
    for i, line in enumerate((FIXTURES / f"{name}.jsonl").read_text().splitlines()):
        rec = json.loads(line)
        value = None if rec["value"] is None else orjson.dumps(rec["value"])
        if name == "maxwell" and value is not None:
            value = line.split('"value": ', 1)[1][:-1].encode()  # keep the numbers as written (12.50)
        key = None if rec["key"] is None else orjson.dumps(rec["key"])
        headers = [(k, v.encode()) for k, v in (rec.get("headers") or {}).items()]
        out.append(Message(f"{name}.kb.person", 0, 100 + i, key, value, headers))
    return out


def decode_all(name: str, fmt: str = "auto"):
    router = Router({}, fmt)
    return router, [router.decode(m) for m in records(name)]


def test_debezium_with_schema_decodes_every_encoding() -> None:
    router, out = decode_all("debezium")
    assert router.format_of("debezium.kb.person") == "debezium"
    (c,) = out[0].changes
    assert (c.schema, c.table, c.op, c.before) == ("kb", "person", "insert", None)
    a = c.after
    assert a["id"] == 1 and a["name"] == "Anne"
    assert a["price"] == Decimal("12.50") and str(a["price"]) == "12.50"
    assert a["born"] == dt.date(1987, 6, 5)
    assert a["created_at"] == dt.datetime(2024, 3, 15, 10, 20, 30, 123456)
    assert a["seen_at"] == dt.datetime(2024, 3, 15, 10, 20, 30, 123456, tzinfo=dt.timezone.utc)
    assert a["opens"] == dt.timedelta(hours=9, minutes=30)
    assert a["attrs"] == {"tags": ["x"], "level": 2}
    assert a["photo"] == b"\x00\x01\xff"
    assert a["nickname"] is None
    assert a["year_joined"] == 2021 and a["score"] == 4.5
    assert c.ts_ms == 1710498030000


def test_debezium_update_and_negative_decimal() -> None:
    _, out = decode_all("debezium")
    (c,) = out[1].changes
    assert c.op == "update"
    assert c.before["price"] == Decimal("12.50") and c.after["price"] == Decimal("-1.05")
    assert c.after["name"] == "Anne K" and c.before["name"] == "Anne"


def test_debezium_primary_key_change_is_delete_then_create_and_tombstone_is_nothing() -> None:
    _, out = decode_all("debezium")
    (d,) = out[2].changes
    assert d.op == "delete" and d.before["id"] == 1 and d.after is None
    assert out[3].kind == TOMBSTONE and out[3].changes == []
    (c,) = out[4].changes
    assert c.op == "insert" and c.after["id"] == 2


def test_debezium_without_wrapper_keeps_json_values() -> None:
    _, out = decode_all("debezium")
    (r,) = out[5].changes
    assert r.op == "insert" and r.after["price"] == "BOI=" and r.after["born"] == 6364
    (d,) = out[6].changes
    assert d.op == "delete" and d.before["id"] == 3


def test_debezium_truncate_ddl_and_control() -> None:
    _, out = decode_all("debezium")
    (t,) = out[7].changes
    assert (t.op, t.table, t.before, t.after) == ("truncate", "person", None, None)
    assert out[8].kind == DDL and out[8].ddl.schema == "kb" and out[8].ddl.table == "person"
    assert "ADD COLUMN" in out[8].ddl.sql
    assert out[9].kind == CONTROL and out[9].changes == []


def test_maxwell() -> None:
    router, out = decode_all("maxwell")
    assert router.format_of("maxwell.kb.person") == "maxwell"
    (i,) = out[0].changes
    price = i.after["price"]
    assert i.op == "insert" and isinstance(price, float) and price == 12.5 and repr(price) == "12.50"
    assert Decimal(repr(price)) == Decimal("12.50") and str(Decimal(repr(price))) == "12.50"
    assert i.after["nickname"] is None and i.after["attrs"] == {"tags": ["x"], "level": 2}
    assert i.ts_ms == 1710498030000 and i.schema == "kb"
    (u,) = out[1].changes
    assert u.op == "update" and u.before["name"] == "Anne" and repr(u.before["price"]) == "12.50" and u.after["price"] == -1.05
    assert u.before["born"] == "1987-06-05" and u.after["name"] == "Anne K"
    (pk,) = out[2].changes
    assert pk.before["id"] == 1 and pk.after["id"] == 2
    (d,) = out[3].changes
    assert d.op == "delete" and d.before["id"] == 2 and d.after is None
    (b,) = out[4].changes
    assert b.op == "insert" and b.after["id"] == 5
    assert out[5].kind == CONTROL
    assert out[6].kind == DDL and out[6].ddl.table == "person"


def test_canal_rows_types_and_transactions() -> None:
    router, out = decode_all("canal")
    assert router.format_of("canal.kb.person") == "canal"
    a, b = out[0].changes
    assert a.op == b.op == "insert" and a.after["id"] == 1 and b.after["id"] == 2
    assert a.after["price"] == Decimal("12.50") and a.after["born"] == dt.date(1987, 6, 5)
    assert a.after["created_at"] == dt.datetime(2024, 3, 15, 10, 20, 30, 123456)
    assert a.after["opens"] == dt.timedelta(hours=9, minutes=30)
    assert a.after["attrs"] == {"tags": ["x"], "level": 2}
    assert a.after["photo"] == b"\x00\x01\xff" and a.after["score"] == 4.5
    assert a.after["active"] == 1 and a.after["big"] == 18446744073709551615
    assert a.after["nickname"] is None and b.after["nickname"] == "bobby"
    u1, u2 = out[1].changes
    assert u1.before["name"] == "Anne" and u1.before["price"] == Decimal("12.50") and u1.after["name"] == "Anne K"
    assert u2.before["nickname"] == "bobby" and u2.after["nickname"] is None
    (pk,) = out[2].changes
    assert pk.before["id"] == 2 and pk.after["id"] == 3
    (d,) = out[3].changes
    assert d.op == "delete" and d.before["id"] == 1
    assert out[4].kind == DDL and "ADD COLUMN" in out[4].ddl.sql
    (t,) = out[5].changes
    assert t.op == "truncate" and t.table == "person"


def test_native() -> None:
    router, out = decode_all("native")
    assert router.format_of("native.kb.person") == "native"
    assert [d.changes[0].op for d in out] == ["insert", "update", "delete", "truncate"]
    assert out[1].changes[0].before == {"id": 1, "name": "Anne"}


def test_multi_row_record_is_one_transaction_and_only_its_last_change_claims_it() -> None:
    router = Router({}, "canal")
    msg = records("canal")[0]
    changes = stamp(router.decode(msg).changes, msg, "canal")
    key = "kafka:canal.kb.person:0"
    assert [c.position for c in changes] == [{key: [100, 1]}, {key: 101}]
    assert [c.tx_end for c in changes] == [False, True]
    assert changes[0].tx == changes[1].tx is not None
    assert changes[1].meta["offset"] == 100 and changes[1].meta["record"] is msg
    # resuming inside the record skips the rows already committed
    again = stamp(router.decode(msg).changes, msg, "canal", skip=1)
    assert len(again) == 1 and again[0].after["id"] == 2


def test_single_row_record_position_is_offset_plus_one() -> None:
    msg = records("native")[0]
    (c,) = stamp(Router({}, "native").decode(msg).changes, msg, "native")
    assert c.position == {"kafka:native.kb.person:0": 101} and c.tx is None and c.tx_end


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"{not json", "not JSON"),
        (b'{"hello": 1}', "not recognised"),
        (b"[1, 2]", "not recognised"),
    ],
)
def test_undecodable_records_raise_decode_error(value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        Router({}, "auto").decode(Message("t", 0, 1, None, value))


def test_fixed_format_reports_bad_records() -> None:
    with pytest.raises(DecodeError, match="unknown Debezium op"):
        Router({"t": "debezium"}).decode(Message("t", 0, 1, None, b'{"op": "x", "source": {"table": "a"}}'))
    with pytest.raises(DecodeError, match="column 'price'"):
        bad = {
            "schema": {"fields": [{"field": "after", "type": "struct", "fields": [
                {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}}]}]},
            "payload": {"op": "c", "after": {"price": "###"}, "source": {"table": "a", "db": "kb"}},
        }
        Router({"t": "debezium"}).decode(Message("t", 0, 1, None, orjson.dumps(bad)))
    with pytest.raises(DecodeError, match="Canal UPDATE"):
        Router({}, "canal").decode(Message("t", 0, 1, None, b'{"type": "UPDATE", "isDdl": false, "table": "a", "data": [{}], "old": []}'))


def test_detect_and_topic_formats() -> None:
    assert detect({"type": "INSERT", "isDdl": False}) == "canal"
    assert detect({"type": "insert", "database": "a", "table": "b", "data": {}}) == "maxwell"
    assert detect({"op": "c", "source": {}, "after": {}}) == "debezium"
    assert detect({"op": "insert", "table": "b"}) == "native"
    assert detect({"x": 1}) is None
    assert parse_topics(["a", "b:maxwell"], "auto") == {"a": "auto", "b": "maxwell"}
    with pytest.raises(Exception, match="unknown format"):
        parse_topics(["b:avro"], "auto")


def test_debezium_compact_envelopes_decode_like_spaced_ones() -> None:
    """The converter's compact text takes the schema-once path; spaced text the plain one: same result."""
    from kbgraph.sources.kafka.debezium import DebeziumDecoder

    for m in records("debezium"):
        if m.value is None:
            continue
        doc = json.loads(m.value)
        compact = Message(m.topic, 0, m.offset, None, orjson.dumps(doc))
        spaced = Message(m.topic, 0, m.offset, None, json.dumps(doc).encode())
        a, b = DebeziumDecoder().decode(compact), DebeziumDecoder().decode(spaced)
        assert (a.kind, [(c.op, c.before, c.after) for c in a.changes]) == (b.kind, [(c.op, c.before, c.after) for c in b.changes])
    # a schema whose parameters hold a "payload" key must not fool the split
    tricky = {"schema": {"type": "struct", "parameters": {"x": 1}, "fields": [{"field": "after", "type": "struct", "fields": [
        {"field": "d", "type": "int32", "name": "io.debezium.time.Date", "parameters": {"a": "0", "payload": "1"}}]}]},
        "payload": {"op": "c", "after": {"d": 1}, "source": {"db": "kb", "table": "t"}}}
    raw = orjson.dumps(tricky)
    assert b',"payload":' in raw[: raw.rfind(b',"payload":')]
    dec = DebeziumDecoder()
    for _ in range(2):
        (c,) = dec.decode(Message("t", 0, 1, None, raw)).changes
        assert c.after == {"d": dt.date(1970, 1, 2)}
