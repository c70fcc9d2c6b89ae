"""Changes as Debezium-compatible JSON records (``kbgraph publish``); pure, no I/O.

A record's value is what Debezium's JSON converter writes with ``schemas.enable=true``:
``{"schema": <Envelope struct>, "payload": {"before", "after", "source", "op", "ts_ms",
"transaction"}}``, compact, so ``DebeziumDecoder`` reads it back to the values the binlog source
produced: DECIMAL -> ``org.apache.kafka.connect.data.Decimal`` (scale of the column), DATE ->
``io.debezium.time.Date``, DATETIME -> ``MicroTimestamp``, TIMESTAMP -> ``ZonedTimestamp``, TIME ->
``MicroTime``, YEAR -> ``Year``, JSON -> ``io.debezium.data.Json``, SET -> ``EnumSet``, binary
types -> ``bytes`` (base64). The key is ``{"schema": <Key struct>, "payload": {<primary key>}}``;
a primary-key change is a delete, a tombstone and a create, as Debezium writes it.

``source`` carries the binlog position of the change (``file``, ``pos``, ``gtid``, ``row`` = the
index inside a split transaction) besides ``db`` and ``table``.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from kbgraph.change import Change
from kbgraph.debezium.encode import unscaled_bytes
from kbgraph.errors import ChangeError

VERSION = "kbgraph-publish-1"
NEW_KEY = "__debezium.newkey"  # Debezium's headers of a primary-key change
OLD_KEY = "__debezium.oldkey"
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
OPS = {"insert": "c", "update": "u", "delete": "d", "truncate": "t"}

_INT16 = {"tinyint", "smallint"}
_INT32 = {"mediumint", "int", "integer"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    data_type: str  # information_schema DATA_TYPE, lower case; 'json' for MariaDB json_valid columns
    scale: int | None = None  # DECIMAL scale


@dataclass
class TableInfo:
    schema: str
    table: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


def _field(c: Column, optional: bool) -> dict[str, Any]:
    t = c.data_type
    if t in _INT16:
        f: dict[str, Any] = {"type": "int16"}
    elif t in _INT32:
        f = {"type": "int32"}
    elif t in ("bigint", "bit"):
        f = {"type": "int64"}
    elif t in ("float", "real"):
        f = {"type": "float"}
    elif t == "double":
        f = {"type": "double"}
    elif t in ("decimal", "numeric"):
        f = {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
             "parameters": {"scale": str(c.scale or 0)}}
    elif t == "date":
        f = {"type": "int32", "name": "io.debezium.time.Date", "version": 1}
    elif t == "datetime":
        f = {"type": "int64", "name": "io.debezium.time.MicroTimestamp", "version": 1}
    elif t == "timestamp":
        f = {"type": "string", "name": "io.debezium.time.ZonedTimestamp", "version": 1}
    elif t == "time":
        f = {"type": "int64", "name": "io.debezium.time.MicroTime", "version": 1}
    elif t == "year":
        f = {"type": "int32", "name": "io.debezium.time.Year", "version": 1}
    elif t == "json":
        f = {"type": "string", "name": "io.debezium.data.Json", "version": 1}
    elif t == "set":
        f = {"type": "string", "name": "io.debezium.data.EnumSet", "version": 1}
    elif t in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"):
        f = {"type": "bytes"}
    else:
        f = {"type": "string"}
    f["optional"] = optional
    f["field"] = c.name
    return f


def encode_value(data_type: str, v: Any, scale: int | None = None) -> Any:
    """One column value in Debezium's JSON encoding for its column type."""
    if v is None:
        return None
    if isinstance(v, Decimal):
        if data_type in ("decimal", "numeric"):
            return base64.b64encode(unscaled_bytes(v, scale or 0)).decode()
        return str(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        d = v - _EPOCH
        return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
    if isinstance(v, dt.date):
        return (v - _EPOCH_DATE).days
    if isinstance(v, dt.timedelta):
        return (v.days * 86_400 + v.seconds) * 1_000_000 + v.microseconds
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, (set, frozenset)):
        return ",".join(sorted(str(x) for x in v))
    if data_type == "json":
        return orjson.dumps(v).decode()
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    return v


def _inferred(name: str, v: Any) -> Column:
    """A column the table description lacks (added since): typed from its value."""
    if isinstance(v, bool):
        return Column(name, "bit")
    if isinstance(v, int):
        return Column(name, "bigint")
    if isinstance(v, float):
        return Column(name, "double")
    if isinstance(v, Decimal):
        exp = v.as_tuple().exponent
        return Column(name, "decimal", -exp if isinstance(exp, int) and exp < 0 else 0)
    if isinstance(v, dt.datetime):
        return Column(name, "timestamp" if v.tzinfo else "datetime")
    if isinstance(v, dt.date):
        return Column(name, "date")
    if isinstance(v, dt.timedelta):
        return Column(name, "time")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return Column(name, "blob")
    if isinstance(v, (set, frozenset)):
        return Column(name, "set")
    if isinstance(v, (dict, list)):
        return Column(name, "json")
    return Column(name, "varchar")


class EnvelopeWriter:
    """Builds the records of one change; caches each table's schema text."""

    def __init__(self, server_name: str = "kbgraph") -> None:
        self.server_name = server_name
        self._heads: dict[tuple[str, str, tuple[str, ...]], tuple[bytes, bytes]] = {}

    def _heads_for(self, info: TableInfo) -> tuple[bytes, bytes]:
        key = (info.schema, info.table, tuple(f"{c.name}:{c.data_type}:{c.scale}" for c in info.columns))
        heads = self._heads.get(key)
        if heads is None:
            base = f"{self.server_name}.{info.schema}.{info.table}"
            row = {"type": "struct", "optional": True, "name": f"{base}.Value",
                   "fields": [_field(c, c.name not in info.primary_key) for c in info.columns]}
            source = {"type": "struct", "optional": False, "name": "io.debezium.connector.mysql.Source", "field": "source",
                      "fields": [{"type": "string", "optional": False, "field": "version"},
                                 {"type": "string", "optional": False, "field": "connector"},
                                 {"type": "string", "optional": False, "field": "name"},
                                 {"type": "int64", "optional": False, "field": "ts_ms"},
                                 {"type": "string", "optional": True, "field": "db"},
                                 {"type": "string", "optional": True, "field": "table"},
                                 {"type": "string", "optional": True, "field": "gtid"},
                                 {"type": "string", "optional": True, "field": "file"},
                                 {"type": "int64", "optional": True, "field": "pos"},
                                 {"type": "int32", "optional": True, "field": "row"}]}
            envelope = {"type": "struct", "optional": False, "name": f"{base}.Envelope", "version": 1, "fields": [
                {**row, "field": "before"}, {**row, "field": "after"}, source,
                {"type": "string", "optional": False, "field": "op"},
                {"type": "int64", "optional": True, "field": "ts_ms"},
                {"type": "struct", "optional": True, "name": "event.block", "version": 1, "field": "transaction",
                 "fields": [{"type": "string", "optional": False, "field": "id"}]}]}
            cols = {c.name: c for c in info.columns}
            key_schema = {"type": "struct", "optional": False, "name": f"{base}.Key",
                          "fields": [_field(cols.get(k) or Column(k, "varchar"), False) for k in info.primary_key]}
            heads = (b'{"schema":' + orjson.dumps(envelope) + b',"payload":',
                     b'{"schema":' + orjson.dumps(key_schema) + b',"payload":')
            self._heads[key] = heads
        return heads

    def _row(self, info: TableInfo, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        out = {}
        for name, v in row.items():
            c = info.column(name)
            if c is None:
                c = _inferred(name, v)
                info.columns.append(c)  # the schema text changes with it
            out[name] = encode_value(c.data_type, v, c.scale)
        return out

    def key(self, info: TableInfo, row: dict[str, Any] | None) -> bytes | None:
        if not info.primary_key or row is None:
            return None
        _, key_head = self._heads_for(info)
        try:
            payload = {k: encode_value((info.column(k) or Column(k, "varchar")).data_type, row[k], (info.column(k) or Column(k, "varchar")).scale)
                       for k in info.primary_key}
        except KeyError as e:
            raise ChangeError(f"row of {info.schema}.{info.table} lacks primary-key column {e}") from None
        return key_head + orjson.dumps(payload) + b"}"

    def records(self, change: Change, info: TableInfo, now_ms: int) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
        """(key, value, headers) records of one change, in order.

        A key change gives delete, tombstone, create, with Debezium's ``__debezium.newkey`` header on
        the delete and ``__debezium.oldkey`` on the create (the consumer joins them back into one
        update when they arrive together)."""
        before = self._row(info, change.before)
        after = self._row(info, change.after)
        pos = change.position
        source = {"version": VERSION, "connector": "mysql", "name": self.server_name, "ts_ms": change.ts_ms or 0,
                  "db": info.schema, "table": info.table, "gtid": pos.get("gtid") or None, "file": pos.get("file"),
                  "pos": pos.get("pos"), "row": pos.get("index", 0)}
        tx = {"id": change.tx} if change.tx else None
        head, _ = self._heads_for(info)

        def value(op: str, b: Any, a: Any) -> bytes:
            payload = {"before": b, "after": a, "source": source, "op": op, "ts_ms": now_ms, "transaction": tx}
            return head + orjson.dumps(payload) + b"}"

        op = change.op
        if op == "truncate":
            return [(None, value("t", None, None), [])]
        if op == "insert":
            return [(self.key(info, change.after), value("c", None, after), [])]
        if op == "delete":
            k = self.key(info, change.before)
            return [(k, value("d", before, None), []), (k, None, [])] if k is not None else [(None, value("d", before, None), [])]
        old_key, new_key = self.key(info, change.before), self.key(info, change.after)
        if change.before is not None and old_key != new_key and old_key is not None and new_key is not None:
            return [(old_key, value("d", before, None), [(NEW_KEY, new_key)]), (old_key, None, []),
                    (new_key, value("c", None, after), [(OLD_KEY, old_key)])]
        return [(new_key, value("u", before, after), [])]
