"""Scalar, temporal and binary conversions of ``kbgraph.mapping.convert`` (one function per target).

Each raises ``Bad`` with a reason; ``compile_converter`` adds the column and the value.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from neo4j.time import Duration

from kbgraph.mysql.values import parse_time

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class Bad(Exception):
    """Internal: a conversion failed; ``compile_converter``'s wrapper adds column and value."""


def _to_int(v: Any) -> int:
    if isinstance(v, int):  # bool too: True -> 1
        out = int(v)
    elif isinstance(v, float):
        if not v.is_integer():
            raise Bad("it has a fraction")
        out = int(v)
    elif isinstance(v, (Decimal, str)):
        try:
            d = Decimal(v.strip()) if isinstance(v, str) else v
        except InvalidOperation:
            raise Bad("not a number") from None
        if not d.is_finite() or d != d.to_integral_value():
            raise Bad("not a whole number")
        out = int(d)
    else:
        raise Bad("")
    if not INT_MIN <= out <= INT_MAX:
        raise Bad("outside the graph's 64-bit integer range")
    return out


def _to_float(v: Any) -> float:
    if isinstance(v, (int, float, Decimal)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise Bad("not a number") from None
    raise Bad("")


def _to_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (date, time)):  # datetime is a date
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise Bad("not UTF-8 text; use type: bytes") from None
    raise Bad("")


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, Decimal)) or (isinstance(v, float) and v.is_integer()):
        if v in (0, 1):
            return bool(v)
        raise Bad("only 0 and 1 are truth values")
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise Bad("expected true/false or 1/0")
    if isinstance(v, (bytes, bytearray)) and len(v) == 1 and v[0] in (0, 1):  # BIT(1)
        return bool(v[0])
    raise Bad("")


def _decimal(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, bool):
        raise Bad("")
    elif isinstance(v, int):
        d = Decimal(v)
    elif isinstance(v, float):
        d = Decimal(repr(v))  # the shortest text that round-trips, not the binary expansion
    elif isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise Bad("not a number") from None
    else:
        raise Bad("")
    if not d.is_finite():
        raise Bad("not a finite number")
    return d


def _decimal_str(v: Any) -> str:
    return format(_decimal(v), "f")


def _decimal_float(v: Any) -> float:
    return float(_decimal(v))


def _iso(s: str) -> str:
    s = s.strip()
    return s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s


def _to_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            try:
                return datetime.fromisoformat(_iso(v)).date()
            except ValueError:
                raise Bad("not an ISO-8601 date") from None
    raise Bad("")


def _to_datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(_iso(v))
        except ValueError:
            raise Bad("not an ISO-8601 date-time") from None
    raise Bad("")


_DAY = timedelta(days=1)


def _timedelta_value(td: timedelta) -> time | Duration:
    if timedelta(0) <= td < _DAY:
        return (datetime.min + td).time()
    us = (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds
    sign = -1 if us < 0 else 1
    secs, rest = divmod(abs(us), 1_000_000)
    return Duration(seconds=sign * secs, microseconds=sign * rest)


def _to_time(v: Any) -> time | Duration:
    if isinstance(v, time):
        return v
    if isinstance(v, timedelta):
        return _timedelta_value(v)
    if isinstance(v, datetime):
        return v.timetz()
    if isinstance(v, str):
        try:  # MySQL TIME text, possibly negative or beyond 24 h
            td = parse_time(v.strip(), seconds=False)
        except ValueError as exc:
            raise Bad(str(exc)) from None
        if td is not None:
            return _timedelta_value(td)
        try:
            return time.fromisoformat(_iso(v))
        except ValueError:
            raise Bad("not an ISO-8601 time") from None
    raise Bad("")


def _b64(v: Any) -> str:
    return base64.b64encode(_raw_bytes(v)).decode("ascii")


def _hex(v: Any) -> str:
    return _raw_bytes(v).hex()


def _raw_bytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    raise Bad("")
