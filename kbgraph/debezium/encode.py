"""A column's Debezium field schema and a value in Debezium's JSON encoding, as the MySQL/MariaDB
connector writes them (Debezium 3.x, ``JsonConverter``).

The values are the ones the binlog source produces (``kbgraph.sources.binlog.decode``); the
settings are the connector's (``ConnectorSettings``), Debezium's defaults unless told otherwise.
DECIMAL is exact at any precision (no ``decimal`` context is involved).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from kbgraph.debezium.columns import ConnectorSettings, SqlColumn
from kbgraph.errors import ChangeError
from kbgraph.jsondoc import JsonString
from kbgraph.mysql import types

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
_INT16 = {"tinyint", "smallint"}
_INT32 = {"mediumint", "int"}
_BINARY = types.BINARIES
_2_64 = 1 << 64


def unscaled_bytes(v: Decimal, scale: int) -> bytes:
    """The big-endian two's complement of ``v * 10**scale`` in the fewest bytes (Java's BigInteger)."""
    sign, digits, exp = v.as_tuple()
    if not isinstance(exp, int):
        raise ChangeError(f"DECIMAL value {v} is not a finite number")
    n = int("".join(map(str, digits)) or "0")
    shift = exp + scale
    if shift >= 0:
        n *= 10 ** shift
    else:
        n, rest = divmod(n, 10 ** -shift)
        if rest:
            raise ChangeError(f"DECIMAL value {v} has more than {scale} fraction digits")
    if sign:
        n = -n
    return int(n).to_bytes((n if n >= 0 else ~n).bit_length() // 8 + 1, "big", signed=True)


def exact_decimal(unscaled: int, scale: int) -> Decimal:
    """``unscaled * 10**-scale`` exactly, whatever the ``decimal`` context's precision."""
    return Decimal(f"{unscaled}E-{scale}") if scale else Decimal(unscaled)


def _micros(d: dt.timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _binary_field(settings: ConnectorSettings) -> dict[str, Any]:
    return {"type": "bytes"} if settings.binary_handling_mode == "bytes" else {"type": "string"}


def field_schema(c: SqlColumn, settings: ConnectorSettings, optional: bool | None = None) -> dict[str, Any]:
    """The field schema Debezium writes for column ``c`` (key order as Debezium's)."""
    t, s = c.data_type, settings
    f: dict[str, Any]
    params: dict[str, str] | None = None
    if t in _INT16:
        f = {"type": "int32" if c.unsigned and t == "smallint" else "int16"}
    elif t in _INT32:
        f = {"type": "int64" if c.unsigned and t == "int" else "int32"}
    elif t == "bigint":
        if c.unsigned and s.bigint_unsigned_handling_mode == "precise":
            f = {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1}
            params = {"scale": "0", "connect.decimal.precision": "20"}
        else:
            f = {"type": "int64"}
    elif t == "float":
        f = {"type": "float"}
    elif t == "double":
        f = {"type": "double"}
    elif t == "decimal":
        if s.decimal_handling_mode == "precise":
            f = {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1}
            params = {"scale": str(c.scale or 0), "connect.decimal.precision": str(c.length or 10)}
        else:
            f = {"type": "double" if s.decimal_handling_mode == "double" else "string"}
    elif t == "date":
        f = ({"type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1} if s.time_precision_mode == "connect"
             else {"type": "int32", "name": "io.debezium.time.Date", "version": 1})
    elif t == "datetime":
        if s.time_precision_mode == "connect":
            f = {"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1}
        elif c.fraction <= 3:
            f = {"type": "int64", "name": "io.debezium.time.Timestamp", "version": 1}
        else:
            f = {"type": "int64", "name": "io.debezium.time.MicroTimestamp", "version": 1}
    elif t == "timestamp":
        f = {"type": "string", "name": "io.debezium.time.ZonedTimestamp", "version": 1}
    elif t == "time":
        if s.time_precision_mode == "connect":
            f = {"type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1}
        elif s.time_precision_mode == "adaptive" and c.fraction <= 3:
            f = {"type": "int32", "name": "io.debezium.time.Time", "version": 1}
        else:
            f = {"type": "int64", "name": "io.debezium.time.MicroTime", "version": 1}
    elif t == "year":
        f = {"type": "int32", "name": "io.debezium.time.Year", "version": 1}
    elif t == "json":
        f = {"type": "string", "name": "io.debezium.data.Json", "version": 1} if s.flavour == "mysql" else {"type": "string"}
    elif t == "enum":
        f = {"type": "string", "name": "io.debezium.data.Enum", "version": 1}
        params = {"allowed": ",".join(c.members)}
    elif t == "set":
        f = {"type": "string", "name": "io.debezium.data.EnumSet", "version": 1}
        params = {"allowed": ",".join(c.members)}
    elif t == "bit":
        if (c.length or 1) == 1:
            f = {"type": "boolean"}
        else:
            f = {"type": "bytes", "name": "io.debezium.data.Bits", "version": 1}
            params = {"length": str(c.length)}
    elif t in _BINARY:
        f = _binary_field(s)
    else:
        f = {"type": "string"}
    out: dict[str, Any] = {"type": f.pop("type"), "optional": c.nullable if optional is None else optional, **f}
    if c.comment:
        out["doc"] = c.comment
    if params is not None:
        out["parameters"] = params
    if c.default is not None:
        out["default"] = encode_value(c, c.default, settings)
    out["field"] = c.name
    return out


def _bytes_text(raw: bytes, settings: ConnectorSettings) -> str:
    mode = settings.binary_handling_mode
    if mode == "hex":
        return raw.hex()
    if mode == "base64-url-safe":
        return base64.urlsafe_b64encode(raw).decode()
    return base64.b64encode(raw).decode()


def encode_value(c: SqlColumn, v: Any, settings: ConnectorSettings) -> Any:
    """Value ``v`` of column ``c`` (as the binlog source gives it) in Debezium's JSON encoding."""
    if v is None:
        return None
    t, s = c.data_type, settings
    if t == "decimal":
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        if s.decimal_handling_mode == "precise":
            return base64.b64encode(unscaled_bytes(d, c.scale or 0)).decode()
        return float(d) if s.decimal_handling_mode == "double" else format(d, "f")
    if t == "bigint" and c.unsigned and isinstance(v, int):
        if s.bigint_unsigned_handling_mode == "precise":
            return base64.b64encode(unscaled_bytes(Decimal(v), 0)).decode()
        return v - _2_64 if v >= 1 << 63 else v  # what Debezium's `long` mode does to values above 2^63-1
    if t == "datetime" and isinstance(v, dt.datetime):
        us = _micros(v.replace(tzinfo=None) - _EPOCH)
        return us if s.time_precision_mode != "connect" and c.fraction > 3 else us // 1000
    if t == "timestamp" and isinstance(v, dt.datetime):
        u = v.astimezone(dt.timezone.utc) if v.tzinfo else v
        text = u.strftime("%Y-%m-%dT%H:%M:%S")
        if c.fraction:
            text += "." + f"{u.microsecond:06d}"[: c.fraction]
        return text + "Z"
    if t == "date" and isinstance(v, dt.date):
        return (v - _EPOCH_DATE).days
    if t == "time" and isinstance(v, dt.timedelta):
        us = _micros(v)
        if s.time_precision_mode == "connect" or (s.time_precision_mode == "adaptive" and c.fraction <= 3):
            return us // 1000
        return us
    if t == "bit":
        n = int(v)
        if (c.length or 1) == 1:
            return bool(n)
        return base64.b64encode(n.to_bytes(((c.length or 1) + 7) // 8, "little")).decode()
    if t in _BINARY or isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v) if not isinstance(v, str) else v.encode()
        return _bytes_text(raw, s)
    if t == "set" or isinstance(v, (set, frozenset)):
        if isinstance(v, str):
            return v
        order = {m: i for i, m in enumerate(c.members)}
        return ",".join(sorted((str(x) for x in v), key=lambda m: (order.get(m, len(order)), m)))
    if t == "json":
        return json_text(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (dict, list)):
        return json_text(v)
    return v


def json_text(v: Any) -> str:
    """A JSON column's text: kept as the server stored it when the source kept it, else serialised."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8")
    if isinstance(v, str) and not isinstance(v, JsonString):
        return v
    return json.dumps(v, ensure_ascii=False, default=lambda x: format(x, "f") if isinstance(x, Decimal) else str(x))
