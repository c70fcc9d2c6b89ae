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

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from kbgraph.errors import ChangeError
from kbgraph.jsondoc import JsonString
from kbgraph.mapping.convert_json import Flattened, _json_flatten, _json_string, _json_text, _one_type_list
from kbgraph.mapping.convert_values import (
    INT_MAX,
    INT_MIN,
    Bad,
    _b64,
    _decimal_float,
    _decimal_str,
    _hex,
    _timedelta_value,
    _to_bool,
    _to_date,
    _to_datetime,
    _to_float,
    _to_int,
    _to_str,
    _to_time,
)
from kbgraph.mapping.model import Column, ColumnRef, Options, column_name

__all__ = ["INT_MAX", "INT_MIN", "ConversionError", "Flattened", "compile_converter"]


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
            raise Bad("no graph type for it; give the column a type")
        return fn(v)

    return auto


def _same(v: Any) -> Any:
    return v


def _checked_int(v: int) -> int:
    if not INT_MIN <= v <= INT_MAX:
        raise Bad("outside the graph's 64-bit integer range")
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
        json_=col.json_ or options.json_,
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
        except Bad as exc:
            raise ConversionError(column, v, target, str(exc)) from None
        except UnicodeDecodeError:
            raise ConversionError(column, v, target, "text in it is not UTF-8") from None

    return convert
