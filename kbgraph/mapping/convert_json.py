"""JSON conversions of ``kbgraph.mapping.convert``: a document flattened to dotted keys or as text."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

from kbgraph.jsondoc import JsonString
from kbgraph.mapping.convert_values import Bad

_SCALARS = (bool, int, float, str, date, datetime, time)


class Flattened(dict):  # type: ignore[type-arg]
    """A JSON map flattened to dotted keys ``{"a.b": leaf}``; the translator stores each leaf as
    property ``"<prop>.a.b"``."""


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
        raise Bad(str(exc)) from None


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
            raise Bad(f"not JSON ({exc})") from None
    if isinstance(v, (bool, int, float)):
        return v
    raise Bad("")


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
    for raw, x in v.items():
        k = raw.decode() if isinstance(raw, bytes) else str(raw)
        if _BAD_KEY.search(k):
            raise Bad(f"JSON key {k!r} has a backtick or control character")
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
