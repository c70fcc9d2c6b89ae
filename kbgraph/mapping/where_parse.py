"""The parser of a mapping ``where:`` expression: tokens → nested closures that evaluate a row
with MySQL's three-valued logic (the language and its semantics are documented in
``kbgraph.mapping.where``; value comparisons live in ``where_values``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kbgraph.mapping.where_tokens import Tok, tokenize
from kbgraph.mapping.where_values import (
    _OPS,
    Tri,
    WhereEvalError,
    _like_regex,
    _make_cmp,
    _short,
    _truth,
)

__all__ = ["Eval", "Parser"]

Eval = Callable[[Mapping[str, Any]], Any]



class Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.columns: set[str] = set()

    # token helpers
    @property
    def tok(self) -> Tok:
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
