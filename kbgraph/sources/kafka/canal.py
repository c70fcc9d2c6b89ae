"""Canal flat messages (``canal.mq.flatMessage = true``).

``{"database", "table", "type": INSERT|UPDATE|DELETE|..., "isDdl", "pkNames", "mysqlType",
"sqlType", "data": [row, ...], "old": [changed-columns, ...], "es" (ms), "ts", "sql"}``. One record
holds every row of one binlog event, so it becomes several changes (one transaction). Values are
text; they are turned into Python values from ``mysqlType`` (ints, ``Decimal``, floats, ``date``,
``datetime``, ``timedelta`` for TIME, parsed JSON, ``bytes`` for binary types which Canal writes as
ISO-8859-1 text), the same as the binlog source produces. ``old`` holds the old values of the changed
columns only. DDL records (``isDdl: true``) are recognised and not mapped, except TRUNCATE, which
becomes a truncate change of its table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from kbgraph.change import Change
from kbgraph.mysql import types
from kbgraph.mysql.values import is_zero_date, parse_time
from kbgraph.sources.kafka.message import (
    NOTHING_TOMBSTONE,
    Decoded,
    DecodeError,
    Message,
    control,
    ddl,
    need,
)

Convert = Callable[[str], Any]
ROW_TYPES = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}
CONTROL_TYPES = {"TIDB_WATERMARK", "GTID", "XACOMMIT", "XAROLLBACK", "MHEARTBEAT"}


def _int(s: str) -> int:
    return int(s)


def _decimal(s: str) -> Decimal:
    try:
        return Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{s!r} is not a decimal") from None


def _date(s: str) -> dt.date | None:
    if is_zero_date(s):
        return None  # MySQL zero date; the binlog source reads it as NULL too
    return dt.date.fromisoformat(s)


def _datetime(s: str) -> dt.datetime | None:
    if is_zero_date(s):
        return None
    return dt.datetime.fromisoformat(s)


def _time(s: str) -> dt.timedelta:
    td = parse_time(s)
    if td is None:
        raise ValueError(f"{s!r} is not a TIME")
    return td


def _json(s: str) -> Any:
    return orjson.loads(s)


def _latin1(s: str) -> bytes:
    return s.encode("latin-1")


# per family; a type of no family here (text, enum, set, ...) stays text
_BY_FAMILY: dict[str, Convert] = {
    types.INTEGER: _int, types.YEAR: _int, types.BIT: _int, types.DECIMAL: _decimal, types.FLOAT: float,
    types.TIME: _time, types.JSON: _json, types.BINARY: _latin1,
}


def converter(mysql_type: str) -> Convert | None:
    """The converter for a Canal ``mysqlType`` entry such as ``decimal(10,2)`` or ``int(11) unsigned``."""
    base = types.base_type(mysql_type)
    if base == "date":
        return _date
    if base in types.DATES:
        return _datetime
    if base in ("bool", "boolean"):
        return None  # not among the types Canal converted before (it writes tinyint(1))
    fam = types.family(base)
    return _BY_FAMILY.get(fam) if fam is not None else None


class CanalDecoder:
    name = "canal"

    def __init__(self) -> None:
        self._types: dict[tuple[Any, Any], tuple[Any, dict[str, Convert]]] = {}

    def decode(self, msg: Message) -> Decoded:
        if msg.value is None:
            return NOTHING_TOMBSTONE
        try:
            doc = orjson.loads(msg.value)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"not JSON: {e}") from None
        return self.decode_doc(doc)

    def _converters(self, db: Any, table: Any, mysql_type: Any) -> dict[str, Convert]:
        cached = self._types.get((db, table))
        if cached is not None and cached[0] == mysql_type:
            return cached[1]
        if not isinstance(mysql_type, dict):
            raise DecodeError("Canal 'mysqlType' must be an object of column -> type")
        out = {col: fn for col, t in mysql_type.items() if (fn := converter(str(t))) is not None}
        self._types[(db, table)] = (mysql_type, out)
        return out

    def decode_doc(self, doc: Any) -> Decoded:
        if not isinstance(doc, dict):
            raise DecodeError("a Canal value must be a JSON object")
        kind = need(doc, "type", "Canal")
        db, table = doc.get("database"), doc.get("table")
        if doc.get("isDdl"):
            if kind == "TRUNCATE" and table:
                return Decoded([Change(table, "truncate", None, None, schema=db, ts_ms=doc.get("es"))])
            return ddl(db, table or None, doc.get("sql"))
        op = ROW_TYPES.get(kind)
        if op is None:
            if kind in CONTROL_TYPES:
                return control(f"canal {kind}")
            raise DecodeError(f"unknown Canal type {kind!r}")
        if not table:
            raise DecodeError("Canal row message has no 'table'")
        data = need(doc, "data", "Canal")
        if not isinstance(data, list) or not data:
            raise DecodeError("Canal 'data' must be a non-empty array of rows")
        old = doc.get("old") or []
        if op == "update" and (not isinstance(old, list) or len(old) != len(data)):
            raise DecodeError("Canal UPDATE 'old' must be an array as long as 'data'")
        conv = self._converters(db, table, doc.get("mysqlType") or {})
        ts = doc.get("es")
        out = []
        for i, raw in enumerate(data):
            row = _typed(raw, conv)
            if op == "insert":
                out.append(Change(table, "insert", None, row, schema=db, ts_ms=ts))
            elif op == "delete":
                out.append(Change(table, "delete", row, None, schema=db, ts_ms=ts))
            else:
                before = {**row, **_typed(old[i], conv)}
                out.append(Change(table, "update", before, row, schema=db, ts_ms=ts))
        return Decoded(out)


def _typed(raw: Any, conv: dict[str, Convert]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DecodeError("a Canal row must be a JSON object")
    row = dict(raw)
    for col, v in row.items():
        if v is not None and col in conv:
            try:
                row[col] = conv[col](v) if isinstance(v, str) else v
            except (ValueError, TypeError, orjson.JSONDecodeError) as e:
                raise DecodeError(f"column {col!r}: {e}") from None
    return row


def looks_like(doc: dict[str, Any]) -> bool:
    return "isDdl" in doc and "type" in doc
