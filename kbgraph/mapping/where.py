"""Row filters for mapping rules (``where: "deleted = 0"``): a small, safe SQL-like language.

The expression is parsed once, by ``compile_where``, into nested closures; evaluating a row is
then a few function calls (no ``eval``, no re-parsing per change).

Language
    comparisons ``= != <> < > <= >=``, ``IS [NOT] NULL``, ``IS [NOT] TRUE|FALSE``,
    ``[NOT] IN (…)``, ``[NOT] LIKE 'pat%'`` (``%`` any run, ``_`` one character, ``\\`` escapes),
    ``[NOT] BETWEEN a AND b``, ``AND``, ``OR``, ``NOT``, parentheses; literals: integers, decimals
    (``-`` allowed), ``'single-quoted'`` strings (``''`` is a quote), ``TRUE``/``FALSE``/``NULL``;
    column names bare or ```backquoted```. Keywords are case-insensitive. A bare column or
    literal used as a condition is true when it is a non-zero number (as in MySQL).

Semantics (SQL three-valued logic)
    A comparison with NULL is *unknown*; ``NOT unknown`` is unknown; ``AND``/``OR`` follow SQL.
    A row passes only when the whole expression is TRUE.

Comparing values of different types (what we chose)
    * numbers (``int``, ``float``, ``Decimal``; ``bool`` counts as 0/1) compare as numbers;
    * a string compared with a number is converted to a number when the *whole* string is one
      (``'12.50' > 3`` is true) — a string that is not a number raises instead of MySQL's silent
      ``'abc' = 0``;
    * strings compare exactly (binary, case-sensitive), unlike MySQL's default ``_ci`` collations;
    * a date/datetime compared with a string parses the string as ISO-8601 (``born_on >=
      '1990-01-01'``), so the binlog (``date``) and the JSONL source (``"1990-01-01"``) agree;
    * ``bytes`` compared with a string compare with the string's UTF-8 bytes.
    Anything else (e.g. a JSON map against a number), and a row that lacks a column the
    expression names, raises ``WhereEvalError`` (a ``ChangeError``): the change goes to the
    dead-letter store with that reason instead of being dropped silently.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from kbgraph.mapping.where_values import (
    _OPS,
    Tri,
    WhereEvalError,
    _like_regex,
    _make_cmp,
    _short,
    _truth,
)

__all__ = ["Predicate", "WhereEvalError", "compile_where"]

Eval = Callable[[Mapping[str, Any]], Any]


class Predicate(Protocol):
    text: str
    columns: frozenset[str]

    def __call__(self, row: Mapping[str, Any]) -> bool: ...


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<qid>`(?:[^`]|``)+`)
  | (?P<word>[^\W\d]\w*)
  | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|-)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "BETWEEN", "TRUE", "FALSE", "ESCAPE"}


class _Tok:
    __slots__ = ("col", "kind", "raw", "value")

    def __init__(self, kind: str, value: Any, col: int, raw: str = ""):
        self.kind, self.value, self.col, self.raw = kind, value, col, raw

    def show(self) -> str:
        return "the end of the expression" if self.kind == "end" else repr(self.raw)


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] in "'`":
                raise ValueError(f"unterminated {'string' if text[pos] == chr(39) else 'name'} at column {pos + 1}")
            raise ValueError(f"unexpected character {text[pos]!r} at column {pos + 1}")
        kind, raw = m.lastgroup or "", m.group()
        if kind == "num":
            tok = _Tok("lit", int(raw) if raw.isdigit() else Decimal(raw), pos + 1)
        elif kind == "str":
            tok = _Tok("lit", raw[1:-1].replace("''", "'"), pos + 1)
        elif kind == "qid":
            tok = _Tok("col", raw[1:-1].replace("``", "`"), pos + 1)
        elif kind == "word":
            up = raw.upper()
            tok = _Tok("kw", up, pos + 1) if up in _KEYWORDS else _Tok("col", raw, pos + 1)
        elif kind == "op":
            tok = _Tok("op", "!=" if raw == "<>" else raw, pos + 1)
        else:
            pos = m.end()
            continue
        tok.raw = raw
        toks.append(tok)
        pos = m.end()
    end = _Tok("end", None, len(text) + 1)
    toks.append(end)
    return toks



# ---------------------------------------------------------------- parser → closures


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.columns: set[str] = set()

    # token helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _is(self, kind: str, value: Any = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def _take(self, kind: str, value: Any = None) -> bool:
        if self._is(kind, value):
            self.i += 1
            return True
        return False

    def _fail(self, expected: str) -> ValueError:
        t = self.tok
        return ValueError(f"expected {expected}, found {t.show()} at column {t.col}")

    def _expect(self, kind: str, value: Any, expected: str) -> None:
        if not self._take(kind, value):
            raise self._fail(expected)

    # grammar
    def parse(self) -> Callable[[Mapping[str, Any]], Tri]:
        if self._is("end"):
            raise ValueError("empty where-expression at column 1")
        fn = self._or()
        if not self._is("end"):
            raise self._fail("AND, OR or the end of the expression")
        return fn

    def _or(self) -> Eval:
        parts = [self._and()]
        while self._take("kw", "OR"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]

        def or_(row: Mapping[str, Any]) -> Tri:
            unknown = False
            for p in parts:
                r = p(row)
                if r is True:
                    return True
                if r is None:
                    unknown = True
            return None if unknown else False

        return or_

    def _and(self) -> Eval:
        parts = [self._not()]
        while self._take("kw", "AND"):
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            a, b = parts

            def and2(row: Mapping[str, Any]) -> Tri:
                x = a(row)
                if x is False:
                    return False
                y = b(row)
                if y is False:
                    return False
                return True if (x is True and y is True) else None

            return and2

        def and_(row: Mapping[str, Any]) -> Tri:
            unknown = False
            for p in parts:
                r = p(row)
                if r is False:
                    return False
                if r is None:
                    unknown = True
            return None if unknown else True

        return and_

    def _not(self) -> Eval:
        if self._take("kw", "NOT"):
            inner = self._not()

            def not_(row: Mapping[str, Any]) -> Tri:
                r = inner(row)
                return None if r is None else not r

            return not_
        return self._predicate()

    def _predicate(self) -> Eval:
        if self._is("op", "("):
            start = self.i
            self.i += 1
            inner = self._or()
            self._expect("op", ")", "')'")
            if not self._at_comparison():
                return inner
            self.i = start  # "(a) = 1": re-read the group as a value
        left = self._operand()
        text = self.text
        t = self.tok
        if t.kind == "op" and t.value in _OPS:
            self.i += 1
            right = self._operand()
            op = _OPS[t.value]
            slow = _make_cmp(op, t.value, text)  # 1 = '1' must coerce, not say False
            name, lit = getattr(left, "column", None), getattr(right, "constant", _NONE)
            if name is not None and lit is not _NONE and lit is not None:
                return _column_vs_literal(name, op, slow, lit, text)
            return _bind2(slow, left, right)
        if self._take("kw", "IS"):
            negate = self._take("kw", "NOT")
            if self._take("kw", "NULL"):
                return _bind1(lambda v: (v is not None) if negate else (v is None), left)
            for word, want in (("TRUE", True), ("FALSE", False)):
                if self._take("kw", word):
                    def is_truth(v: Any, want: bool = want) -> Tri:
                        r = _truth(v, text)
                        return (r is want) != negate  # IS never yields unknown

                    return _bind1(is_truth, left)
            raise self._fail("NULL, TRUE or FALSE")
        negate = self._take("kw", "NOT")
        if self._take("kw", "IN"):
            return self._in(left, negate)
        if self._take("kw", "LIKE"):
            return self._like(left, negate)
        if self._take("kw", "BETWEEN"):
            low = self._operand()
            self._expect("kw", "AND", "AND")
            high = self._operand()
            ge, le = _make_cmp(operator.ge, ">=", text), _make_cmp(operator.le, "<=", text)

            def between(row: Mapping[str, Any]) -> Tri:
                v = left(row)
                a, b = ge(v, low(row)), le(v, high(row))
                r = False if (a is False or b is False) else (None if (a is None or b is None) else True)
                return r if r is None or not negate else not r

            return between
        if negate:
            raise self._fail("IN, LIKE or BETWEEN after NOT")
        return _bind1(lambda v: _truth(v, text), left)

    def _at_comparison(self) -> bool:
        t = self.tok
        return (t.kind == "op" and t.value in _OPS) or (t.kind == "kw" and t.value in ("IS", "IN", "LIKE", "BETWEEN")) or (
            t.kind == "kw" and t.value == "NOT" and self.toks[self.i + 1].kind == "kw"
            and self.toks[self.i + 1].value in ("IN", "LIKE", "BETWEEN")
        )

    def _in(self, left: Eval, negate: bool) -> Eval:
        self._expect("op", "(", "'(' after IN")
        items = [self._operand_const()]
        while self._take("op", ","):
            items.append(self._operand_const())
        self._expect("op", ")", "',' or ')'")
        consts = [c for c in items]
        has_null = any(c is None for c in consts)
        values = [c for c in consts if c is not None]
        eq = _make_cmp(operator.eq, "=", self.text)
        strs = frozenset(v for v in values if isinstance(v, str))
        nums = frozenset(v for v in values if not isinstance(v, str))
        nums |= frozenset(float(v) for v in nums if isinstance(v, Decimal))  # DOUBLE columns

        def in_(row: Mapping[str, Any]) -> Tri:
            v = left(row)
            if v is None:
                return None
            tv = type(v)
            if tv is str:
                if v in strs:
                    found: Tri = True
                elif not nums:
                    found = False
                else:
                    found = any(eq(v, c) for c in nums)
            elif tv in (int, float, bool, Decimal) and not strs:
                found = v in nums
            else:
                found = any(eq(v, c) for c in values)
            if not found and has_null:
                return None
            return (not found) if negate else found

        return in_

    def _like(self, left: Eval, negate: bool) -> Eval:
        t = self.tok
        if t.kind != "lit" or not isinstance(t.value, str):
            raise self._fail("a quoted pattern after LIKE")
        self.i += 1
        escape = "\\"
        if self._take("kw", "ESCAPE"):
            e = self.tok
            if e.kind != "lit" or not isinstance(e.value, str) or len(e.value) != 1:
                raise self._fail("one quoted character after ESCAPE")
            self.i += 1
            escape = e.value
        rx = _like_regex(t.value, escape)
        text = self.text

        def like(row: Mapping[str, Any]) -> Tri:
            v = left(row)
            if v is None:
                return None
            if isinstance(v, (bytes, bytearray)):
                v = bytes(v).decode("utf-8", "replace")
            elif not isinstance(v, (str, int, float, Decimal, date)) or isinstance(v, bool):
                raise WhereEvalError(f"where {text!r}: LIKE needs text, got {_short(v)} ({type(v).__name__})")
            found = rx.fullmatch(v if isinstance(v, str) else str(v)) is not None
            return (not found) if negate else found

        return like

    def _operand_const(self) -> Any:
        t = self.tok
        if t.kind == "lit":
            self.i += 1
            return t.value
        if t.kind == "kw" and t.value in ("NULL", "TRUE", "FALSE"):
            self.i += 1
            return {"NULL": None, "TRUE": True, "FALSE": False}[t.value]
        if t.kind == "op" and t.value == "-" and self.toks[self.i + 1].kind == "lit" and not isinstance(
            self.toks[self.i + 1].value, str
        ):
            self.i += 2
            return -self.toks[self.i - 1].value
        raise self._fail("a literal value (IN lists hold literals)")

    def _operand(self) -> Eval:
        t = self.tok
        if t.kind == "col":
            self.i += 1
            name = t.value
            self.columns.add(name)
            text = self.text

            def col(row: Mapping[str, Any]) -> Any:
                try:
                    return row[name]
                except KeyError:
                    raise WhereEvalError(f"where {text!r}: the row has no column {name!r}") from None

            col.column = name  # type: ignore[attr-defined]
            return col
        if t.kind == "op" and t.value == "(":
            self.i += 1
            inner = self._operand()
            self._expect("op", ")", "')'")
            return inner
        value = self._operand_const_or_fail()
        def const(row: Mapping[str, Any]) -> Any:
            return value

        const.constant = value  # type: ignore[attr-defined]
        return const

    def _operand_const_or_fail(self) -> Any:
        try:
            return self._operand_const()
        except ValueError:
            raise self._fail("a column, a literal or '('") from None


_NONE = object()


def _column_vs_literal(
    name: str, op: Callable[[Any, Any], bool], slow: Callable[[Any, Any], Tri], lit: Any, text: str
) -> Eval:
    """The common case, ``deleted = 0``: one closure, no calls when the types already match."""
    lit_type = type(lit)

    def test(row: Mapping[str, Any]) -> Tri:
        try:
            v = row[name]
        except KeyError:
            raise WhereEvalError(f"where {text!r}: the row has no column {name!r}") from None
        if v is None:
            return None
        if type(v) is lit_type and lit_type is not datetime:
            return op(v, lit)
        return slow(v, lit)

    return test


def _bind1(fn: Callable[[Any], Tri], arg: Eval) -> Eval:
    return lambda row: fn(arg(row))


def _bind2(fn: Callable[[Any, Any], Tri], a: Eval, b: Eval) -> Eval:
    return lambda row: fn(a(row), b(row))


def compile_where(expr: str) -> Predicate:
    """Compile a where-expression once; raise ``ValueError("… at column N")`` on a syntax error."""
    if not isinstance(expr, str):
        raise ValueError(f"a where-expression must be text, not {type(expr).__name__} at column 1")
    parser = _Parser(expr)
    test = parser.parse()

    def predicate(row: Mapping[str, Any]) -> bool:  # a plain closure: cheaper to call than __call__
        return test(row) is True

    predicate.text = expr  # type: ignore[attr-defined]
    predicate.columns = frozenset(parser.columns)  # type: ignore[attr-defined]
    predicate.__qualname__ = f"where {expr!r}"
    return cast(Predicate, predicate)
