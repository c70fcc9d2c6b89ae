"""Values inside where-expressions: how two values of different types compare, and truth.

The rules are documented in ``kbgraph.mapping.where``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kbgraph.errors import ChangeError

Tri = bool | None  # SQL truth value: True, False or None (unknown)


class WhereEvalError(ChangeError):
    """A row cannot be tested by a where-expression (missing column, incomparable values)."""

# ---------------------------------------------------------------- value comparison


_NUMERIC = (int, float, bool, Decimal)


def _num(v: Any) -> Any:
    """v as a number, or raise TypeError."""
    if isinstance(v, (int, float, Decimal)):  # bool is an int
        return v
    if isinstance(v, str):
        try:
            return Decimal(v.strip())
        except InvalidOperation:
            raise TypeError from None
    raise TypeError


def _as_time(v: Any, like: date) -> date:
    if isinstance(v, str):
        s = v.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        parsed = datetime.fromisoformat(s)  # ValueError if not ISO-8601
        return parsed.date() if type(like) is date and len(s) <= 10 else parsed
    if isinstance(v, date):
        return v
    raise TypeError


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two non-NULL values to comparable types, or raise TypeError/ValueError."""
    ta, tb = type(a), type(b)
    if ta is tb or (ta in _NUMERIC and tb in _NUMERIC):
        if ta is datetime and tb is datetime and (a.tzinfo is None) != (b.tzinfo is None):
            raise TypeError  # aware vs naive: refuse rather than guess a zone
        return a, b
    if isinstance(a, (int, float, Decimal)) or isinstance(b, (int, float, Decimal)):
        return _num(a), _num(b)
    if isinstance(a, date) or isinstance(b, date):
        if isinstance(a, date):
            b = _as_time(b, a)
        else:
            a = _as_time(a, b)
        if isinstance(a, datetime) != isinstance(b, datetime):  # date vs datetime: midnight
            a = a if isinstance(a, datetime) else datetime(a.year, a.month, a.day, tzinfo=getattr(b, "tzinfo", None))
            b = b if isinstance(b, datetime) else datetime(b.year, b.month, b.day, tzinfo=getattr(a, "tzinfo", None))
        if isinstance(a, datetime) and (a.tzinfo is None) != (b.tzinfo is None):
            raise TypeError  # aware vs naive: refuse rather than guess a zone
        return a, b
    if isinstance(a, (bytes, bytearray)) and isinstance(b, str):
        return bytes(a), b.encode()
    if isinstance(b, (bytes, bytearray)) and isinstance(a, str):
        return a.encode(), bytes(b)
    raise TypeError


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _make_cmp(op: Callable[[Any, Any], bool], opname: str, text: str) -> Callable[[Any, Any], Tri]:
    def cmp(a: Any, b: Any) -> Tri:
        if a is None or b is None:
            return None
        ta, tb = type(a), type(b)
        if ta is tb and ta is not datetime:
            return op(a, b)
        if ta in _NUMERIC and tb in _NUMERIC:
            if ta is float and tb is Decimal:  # a DOUBLE column against a literal 0.1: as doubles
                b = float(b)
            elif ta is Decimal and tb is float:
                a = float(a)
            return op(a, b)
        try:
            x, y = _coerce(a, b)
            return op(x, y)
        except (TypeError, ValueError):
            raise WhereEvalError(
                f"where {text!r}: cannot compare {_short(a)} ({type(a).__name__}) {opname} "
                f"{_short(b)} ({type(b).__name__})"
            ) from None

    return cmp


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}


def _truth(v: Any, text: str) -> Tri:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    try:
        return bool(_num(v) != 0)
    except TypeError:
        raise WhereEvalError(f"where {text!r}: {_short(v)} ({type(v).__name__}) is not a truth value") from None


def _like_regex(pattern: str, escape: str = "\\") -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)
