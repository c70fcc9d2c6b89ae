"""Column values → graph property values, one converter per mapped column, chosen once.

``compile_converter(ref, options)`` picks the conversion function when the mapping is compiled;
at run time a converter is one call per value. ``None`` (SQL NULL) always stays ``None``.
A value that cannot be converted raises ``ConversionError`` naming the column, the value
(truncated) and its type — never a silently wrong value.

Choices worth knowing
    * ``int`` values must fit Neo4j's 64-bit integers (a large ``BIGINT UNSIGNED`` fails loudly).
    * ``decimal``: exact text such as ``"12.50"`` (scale kept, never exponent notation) or a float,
      per the ``decimal`` option.
    * ``date``/``datetime``/``time`` become Python temporal values, which the driver sends as Neo4j
      temporal types. ISO-8601 text (from JSON sources) is parsed; a trailing ``Z`` means UTC; an
      aware datetime stays aware. ``type: date`` on a datetime keeps its date part.
      MySQL ``TIME`` comes from the binlog as a ``timedelta``: within ``[0, 24h)`` it is a time of
      day, otherwise (negative or longer) a ``neo4j.time.Duration``. Text like ``"-838:59:59"``
      is treated the same way.
    * ``json``: text is parsed as JSON (so a string in a json column is JSON *text*, as JSON
      sources send it) unless it is a ``JsonString``, a string document a source parsed already
      (``kbgraph.jsondoc``: one rule for the binlog, snapshots and Kafka). ``flatten`` turns a map into ``Flattened({"a.b": leaf})``; a list of
      scalars of one type stays a list (``[]`` stays ``[]``), any other list and an empty map
      become compact JSON text; a top-level scalar stays that scalar. ``string`` gives compact
      JSON text with sorted keys, so every source yields the same text for the same document.
    * ``bytes``: ``bytes``/``bytearray``/``memoryview`` as base64 or hex text. A ``str`` (a JSON
      source cannot carry bytes) is encoded as UTF-8 first — the text's own bytes.
    * ``auto`` keeps a value whose type the graph stores as is; ``Decimal``/``bytes``/``dict``
      follow the file options; a list/tuple of scalars of one type stays a list (else JSON
      text); a ``set`` (MySQL ``SET``) becomes a sorted list of text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from neo4j.time import Duration

from kbgraph.errors import ChangeError
from kbgraph.jsondoc import JsonString
from kbgraph.mapping.model import Column, ColumnRef, Options, column_name

__all__ = ["ConversionError", "Flattened", "compile_converter"]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_SCALARS = (bool, int, float, str, date, datetime, time)


class ConversionError(ChangeError):
    """A column value cannot become the graph value its mapping asks for."""

    def __init__(self, column: str, value: Any, target: str, reason: str = "") -> None:
        self.column, self.target = column, target
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        self.value_repr = shown
        text = f"column {column!r}: cannot convert {shown} ({type(value).__name__}) to {target}"
        super().__init__(f"{text}: {reason}" if reason else text, kind="conversion")


class Flattened(dict):  # type: ignore[type-arg]
    """A JSON map flattened to dotted keys ``{"a.b": leaf}``; the translator stores each leaf as
    property ``"<prop>.a.b"``."""


class _Bad(Exception):
    """Internal: a conversion failed; ``compile_converter``'s wrapper adds column and value."""


# ---------------------------------------------------------------- scalar conversions


def _to_int(v: Any) -> int:
    if isinstance(v, int):  # bool too: True -> 1
        out = int(v)
    elif isinstance(v, float):
        if not v.is_integer():
            raise _Bad("it has a fraction")
        out = int(v)
    elif isinstance(v, (Decimal, str)):
        try:
            d = Decimal(v.strip()) if isinstance(v, str) else v
        except InvalidOperation:
            raise _Bad("not a number") from None
        if not d.is_finite() or d != d.to_integral_value():
            raise _Bad("not a whole number")
        out = int(d)
    else:
        raise _Bad("")
    if not INT_MIN <= out <= INT_MAX:
        raise _Bad("outside the graph's 64-bit integer range")
    return out


def _to_float(v: Any) -> float:
    if isinstance(v, (int, float, Decimal)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise _Bad("not a number") from None
    raise _Bad("")


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
            raise _Bad("not UTF-8 text; use type: bytes") from None
    raise _Bad("")


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, Decimal)) or (isinstance(v, float) and v.is_integer()):
        if v in (0, 1):
            return bool(v)
        raise _Bad("only 0 and 1 are truth values")
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise _Bad("expected true/false or 1/0")
    if isinstance(v, (bytes, bytearray)) and len(v) == 1 and v[0] in (0, 1):  # BIT(1)
        return bool(v[0])
    raise _Bad("")


def _decimal(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, bool):
        raise _Bad("")
    elif isinstance(v, int):
        d = Decimal(v)
    elif isinstance(v, float):
        d = Decimal(repr(v))  # the shortest text that round-trips, not the binary expansion
    elif isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise _Bad("not a number") from None
    else:
        raise _Bad("")
    if not d.is_finite():
        raise _Bad("not a finite number")
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
                raise _Bad("not an ISO-8601 date") from None
    raise _Bad("")


def _to_datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(_iso(v))
        except ValueError:
            raise _Bad("not an ISO-8601 date-time") from None
    raise _Bad("")


_DAY = timedelta(days=1)
_TIME_TEXT = re.compile(r"^(-)?(\d+):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


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
        m = _TIME_TEXT.match(v.strip())
        if m:  # MySQL TIME text, possibly negative or beyond 24 h
            neg, h, mi, s, frac = m.groups()
            if int(mi) > 59 or int(s or 0) > 59:
                raise _Bad("minutes and seconds must be below 60")
            td = timedelta(hours=int(h), minutes=int(mi), seconds=int(s or 0), microseconds=int((frac or "0").ljust(6, "0")))
            return _timedelta_value(-td if neg else td)
        try:
            return time.fromisoformat(_iso(v))
        except ValueError:
            raise _Bad("not an ISO-8601 time") from None
    raise _Bad("")


def _b64(v: Any) -> str:
    return base64.b64encode(_raw_bytes(v)).decode("ascii")


def _hex(v: Any) -> str:
    return _raw_bytes(v).hex()


def _raw_bytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    raise _Bad("")


# ---------------------------------------------------------------- json


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (bytes, bytearray, memoryview)):  # older binlog readers give JSON strings as bytes
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, (set, frozenset)):
        return sorted(map(str, v))
    if isinstance(v, timedelta):
        return str(v)
    raise TypeError(f"{type(v).__name__} is not JSON")


_JSON_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _json_text(v: Any) -> str:
    try:
        return orjson.dumps(v, default=_json_default, option=_JSON_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:  # bytes keys (older binlog readers): decode them, then once more
        return orjson.dumps(_decode_bytes(v), default=_json_default, option=_JSON_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError, UnicodeDecodeError) as exc:
        raise _Bad(str(exc)) from None


def _decode_bytes(v: Any) -> Any:
    if isinstance(v, dict):
        return {(k.decode() if isinstance(k, bytes) else k): _decode_bytes(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_decode_bytes(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return v


def _json_value(v: Any) -> Any:
    """The JSON document a column value holds (text is parsed)."""
    if isinstance(v, (dict, list, tuple)):
        return v
    if isinstance(v, JsonString):  # a string document the source parsed already: not JSON text
        return str(v)
    if isinstance(v, (str, bytes, bytearray, memoryview)):
        try:
            return orjson.loads(bytes(v) if not isinstance(v, str) else v)
        except orjson.JSONDecodeError as exc:
            raise _Bad(f"not JSON ({exc})") from None
    if isinstance(v, (bool, int, float)):
        return v
    raise _Bad("")


def _one_type_list(items: list[Any] | tuple[Any, ...]) -> list[Any] | None:
    """items as a graph list when they are scalars of one type, else None."""
    if not items:
        return []
    t = type(items[0])
    if t not in _SCALARS or any(type(x) is not t for x in items):
        return None
    return list(items)


_BAD_KEY = re.compile(r"[`\x00-\x1f]")


def _flatten_into(out: Flattened, prefix: str, v: dict[Any, Any]) -> None:
    for k, x in v.items():
        k = k.decode() if isinstance(k, bytes) else str(k)
        if _BAD_KEY.search(k):
            raise _Bad(f"JSON key {k!r} has a backtick or control character")
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(x, dict):
            if x:
                _flatten_into(out, key, x)
            else:
                out[key] = "{}"
        elif isinstance(x, list):
            lst = _one_type_list(x)
            out[key] = lst if lst is not None else _json_text(x)
        elif isinstance(x, bytes):
            out[key] = x.decode("utf-8")
        else:
            out[key] = x  # str, int, float, bool or None (null removes the property)


def _json_flatten(v: Any) -> Any:
    doc = _json_value(v)
    if isinstance(doc, dict):
        if not doc:
            return "{}"
        out = Flattened()
        _flatten_into(out, "", doc)
        return out
    if isinstance(doc, (list, tuple)):
        lst = _one_type_list(doc)
        return lst if lst is not None else _json_text(doc)
    return doc


def _json_string(v: Any) -> str:
    return _json_text(_json_value(v))


# ---------------------------------------------------------------- auto


def _auto(options: Options) -> Callable[[Any], Any]:
    by_type: dict[type, Callable[[Any], Any]] = {
        bool: _same, int: _checked_int, float: _same, str: _same, date: _same, datetime: _same, time: _same,
        Decimal: _decimal_str if options.decimal == "string" else _decimal_float,
        timedelta: _timedelta_value,
        bytes: _b64 if options.bytes == "base64" else _hex,
        dict: _json_flatten if options.json_ == "flatten" else _json_string,
        list: _auto_list, tuple: _auto_list,
        set: _sorted_strs, frozenset: _sorted_strs,
    }
    by_type[bytearray] = by_type[memoryview] = by_type[bytes]
    by_type[JsonString] = str

    def auto(v: Any) -> Any:
        fn = by_type.get(type(v))
        if fn is None:
            for t, f in by_type.items():  # subclasses (e.g. a str enum)
                if isinstance(v, t):
                    return f(v)
            raise _Bad("no graph type for it; give the column a type")
        return fn(v)

    return auto


def _same(v: Any) -> Any:
    return v


def _checked_int(v: int) -> int:
    if not INT_MIN <= v <= INT_MAX:
        raise _Bad("outside the graph's 64-bit integer range")
    return v


def _auto_list(v: list[Any] | tuple[Any, ...]) -> Any:
    lst = _one_type_list(v)
    return lst if lst is not None else _json_text(list(v))


def _sorted_strs(v: set[Any] | frozenset[Any]) -> list[str]:
    return sorted(x.decode() if isinstance(x, bytes) else str(x) for x in v)


# ---------------------------------------------------------------- compile


def _pick(ref: ColumnRef, options: Options) -> tuple[str, Callable[[Any], Any]]:
    col = ref if isinstance(ref, Column) else Column(column=ref)
    eff = Options(
        decimal=col.decimal or options.decimal,
        json=col.json_ or options.json_,
        bytes=col.bytes or options.bytes,
    )
    t = col.type
    if t == "auto":
        return "a graph value", _auto(eff)
    fixed: dict[str, Callable[[Any], Any]] = {
        "int": _to_int, "float": _to_float, "str": _to_str, "bool": _to_bool,
        "decimal": _decimal_str if eff.decimal == "string" else _decimal_float,
        "date": _to_date, "datetime": _to_datetime, "time": _to_time,
        "json": _json_flatten if eff.json_ == "flatten" else _json_string,
        "bytes": _b64 if eff.bytes == "base64" else _hex,
    }
    return t, fixed[t]


def compile_converter(ref: ColumnRef, options: Options) -> Callable[[Any], Any]:
    """The converter for one mapped column: ``value -> graph value``; raises ``ConversionError``."""
    target, fn = _pick(ref, options)
    column = column_name(ref)

    def convert(v: Any) -> Any:
        if v is None:
            return None
        try:
            return fn(v)
        except _Bad as exc:
            raise ConversionError(column, v, target, str(exc)) from None
        except UnicodeDecodeError:
            raise ConversionError(column, v, target, "text in it is not UTF-8") from None

    return convert
