"""Debezium field schemas back to converters: JSON value -> the Python value the binlog source gives.

``io.debezium.time.Date`` (days) -> ``date``; ``Timestamp``/``MicroTimestamp``/``NanoTimestamp``
(epoch, no zone) -> naive ``datetime``; ``ZonedTimestamp`` (ISO text) -> aware ``datetime``;
``Time``/``MicroTime``/``NanoTime`` -> ``timedelta`` (a MySQL TIME is a duration); ``Decimal``
(base64 two's complement, scale from the schema) and ``VariableScaleDecimal`` -> exact
``decimal.Decimal`` at any precision; ``Json`` -> the parsed document (``kbgraph.jsondoc``);
``EnumSet`` ("a,b") -> a set of members; ``bytes`` (base64) -> ``bytes``; ``Bits`` -> ``int``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kbgraph.debezium.encode import exact_decimal
from kbgraph.errors import KbgraphError
from kbgraph.jsondoc import parse_json

Convert = Callable[[Any], Any]

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class EncodingError(KbgraphError):
    """A value does not have the encoding its field schema says (the Kafka source's DecodeError wraps it)."""


def b64(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise EncodingError(f"bytes value {str(v)[:40]!r} is not base64") from None


def decimal(scale: int) -> Convert:
    def convert(v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):  # a converter configured to emit numbers
            return Decimal(str(v))
        return exact_decimal(int.from_bytes(b64(v), "big", signed=True), scale)

    return convert


def _variable_decimal(v: Any) -> Any:
    if not isinstance(v, dict) or "value" not in v or "scale" not in v:
        raise EncodingError(f"VariableScaleDecimal value {str(v)[:40]!r} lacks scale/value")
    return decimal(int(v["scale"]))(v["value"])


def zoned_timestamp(v: Any) -> dt.datetime:
    text = str(v)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, sep, rest = text.partition(".")
    if sep:  # Java prints up to nanoseconds; Python keeps microseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:]
        text = f"{head}.{(frac + '000000')[:6]}{zone}"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise EncodingError(f"ZonedTimestamp {v!r} is not an ISO-8601 timestamp") from None


def _zoned_time(v: Any) -> dt.time:
    text = str(v)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise EncodingError(f"ZonedTime {v!r} is not an ISO-8601 time") from None


def json_doc(v: Any) -> Any:
    try:
        return parse_json(v)
    except ValueError:
        raise EncodingError(f"Json value {str(v)[:40]!r} is not JSON") from None


def enum_set(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    return set(v.split(",")) if v else set()


def bits(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    return int.from_bytes(b64(v), "little")


def _int(fn: Callable[[int], Any]) -> Convert:
    def convert(v: Any) -> Any:
        if not isinstance(v, int) or isinstance(v, bool):
            raise EncodingError(f"expected an integer, got {str(v)[:40]!r}")
        return fn(v)

    return convert


def _date(v: int) -> dt.date:
    return dt.date.fromordinal(_EPOCH_ORDINAL + v)


BY_NAME: dict[str, Convert] = {
    "io.debezium.time.Date": _int(_date),
    "org.apache.kafka.connect.data.Date": _int(_date),
    "io.debezium.time.Timestamp": _int(lambda v: _EPOCH + dt.timedelta(milliseconds=v)),
    "org.apache.kafka.connect.data.Timestamp": _int(lambda v: _EPOCH + dt.timedelta(milliseconds=v)),
    "io.debezium.time.MicroTimestamp": _int(lambda v: _EPOCH + dt.timedelta(microseconds=v)),
    "io.debezium.time.NanoTimestamp": _int(lambda v: _EPOCH + dt.timedelta(microseconds=v // 1000)),
    "io.debezium.time.ZonedTimestamp": zoned_timestamp,
    "io.debezium.time.Time": _int(lambda v: dt.timedelta(milliseconds=v)),
    "org.apache.kafka.connect.data.Time": _int(lambda v: dt.timedelta(milliseconds=v)),
    "io.debezium.time.MicroTime": _int(lambda v: dt.timedelta(microseconds=v)),
    "io.debezium.time.NanoTime": _int(lambda v: dt.timedelta(microseconds=v // 1000)),
    "io.debezium.time.ZonedTime": _zoned_time,
    "io.debezium.data.Json": json_doc,
    "io.debezium.data.Bits": bits,
    "io.debezium.data.EnumSet": enum_set,
    "io.debezium.data.VariableScaleDecimal": _variable_decimal,
}


def field_converter(field: dict[str, Any]) -> Convert | None:
    """The converter for one field schema, or None when the JSON value is already right."""
    name = field.get("name")
    if name == "org.apache.kafka.connect.data.Decimal":
        params = field.get("parameters") or {}
        try:
            return decimal(int(params["scale"]))
        except (KeyError, ValueError):
            raise EncodingError(f"Decimal field {field.get('field')!r} has no scale parameter") from None
    if name in BY_NAME:
        return BY_NAME[name]
    if field.get("type") == "bytes":
        return b64
    return None
