"""Published Debezium envelopes read back to the values the binlog source produced."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson

from kbgraph.change import Change
from kbgraph.debezium.columns import SqlColumn as Column
from kbgraph.debezium.envelope import EnvelopeWriter, TableInfo
from kbgraph.sources.kafka.debezium import DebeziumDecoder
from kbgraph.sources.kafka.message import Message

INFO = TableInfo("kb", "thing", [
    Column("id", "bigint"), Column("name", "varchar"), Column("price", "decimal", length=10, scale=2), Column("born", "date"),
    Column("at", "datetime", length=6), Column("stamp", "timestamp", length=6), Column("dur", "time", length=6),
    Column("y", "year"), Column("doc", "json"), Column("tags", "set", members=("a", "b")), Column("raw", "varbinary"),
    Column("f", "float"), Column("flag", "bit", length=8),
], ["id"], "mysql")  # MySQL's connector marks JSON columns io.debezium.data.Json

ROW = {"id": 7, "name": "名字", "price": Decimal("-12.50"), "born": dt.date(1969, 12, 31),
       "at": dt.datetime(2024, 3, 15, 10, 20, 30, 123456), "stamp": dt.datetime(2024, 3, 15, 10, 20, 30, 5, tzinfo=dt.timezone.utc),
       "dur": -dt.timedelta(hours=838, microseconds=1), "y": 2024, "doc": {"a": [1, 2.5, None]}, "tags": {"b", "a"},
       "raw": b"\x00\xff", "f": 1.5, "flag": 5}
POS = {"file": "mysql-bin.000001", "pos": 1234, "gtid": "0-1-9", "index": 0}


def decode(records):
    dec = DebeziumDecoder()
    return [dec.decode(Message("t", 0, i, r[0], r[1])) for i, r in enumerate(records)]


def test_round_trip_of_every_type() -> None:
    w = EnvelopeWriter("kb-pub")
    recs = w.records(Change("thing", "insert", None, ROW, dict(POS), "kb", "0-1-9", True, 1700000000000), INFO, 1)
    assert len(recs) == 1
    key, value, headers = recs[0]
    assert [h for h, _ in headers] == ["__debezium.context.connectorLogicalName", "__debezium.context.taskId",
                                        "__debezium.context.connectorName"]
    assert orjson.loads(key)["payload"] == {"id": 7}
    doc = orjson.loads(value)
    assert doc["payload"]["source"]["file"] == "mysql-bin.000001" and doc["payload"]["source"]["pos"] == 1234
    assert doc["payload"]["op"] == "c" and value.startswith(b'{"schema":{')
    (c,) = decode(recs)[0].changes
    assert c.after == ROW and c.schema == "kb" and c.table == "thing" and c.ts_ms == 1700000000000


def test_update_delete_and_primary_key_change() -> None:
    w = EnvelopeWriter()
    after = {**ROW, "name": "new"}
    (u,) = w.records(Change("thing", "update", ROW, after, dict(POS), "kb"), INFO, 1)
    (c,) = decode([u])[0].changes
    assert (c.op, c.before, c.after) == ("update", ROW, after)
    rekeyed = {**ROW, "id": 8}
    recs = w.records(Change("thing", "update", ROW, rekeyed, dict(POS), "kb"), INFO, 1)
    assert [orjson.loads(k)["payload"]["id"] for k, _, _ in recs] == [7, 7, 8] and recs[1][1] is None
    assert recs[0][2][0] == ("__debezium.newkey", recs[2][0]) and recs[2][2][0] == ("__debezium.oldkey", recs[0][0])
    assert recs[1][2][0] == ("__debezium.newkey", recs[2][0])  # the tombstone too, as Debezium writes it
    d, tomb, ins = decode(recs)
    assert d.changes[0].op == "delete" and tomb.changes == [] and ins.changes[0].after == rekeyed
    recs = w.records(Change("thing", "delete", ROW, None, dict(POS), "kb"), INFO, 1)
    assert len(recs) == 2 and recs[1][1] is None and decode(recs)[0].changes[0].before == ROW


def test_a_column_added_since_is_typed_from_its_value() -> None:
    info = TableInfo("kb", "t", [Column("id", "int")], ["id"])
    w = EnvelopeWriter()
    row = {"id": 1, "extra": Decimal("1.250")}
    (c,) = decode(w.records(Change("t", "insert", None, row, {}, "kb"), info, 1))[0].changes
    assert c.after == row and str(c.after["extra"]) == "1.250"
