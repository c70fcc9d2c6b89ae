"""Where-expressions: the language, SQL NULL semantics, type rules and syntax errors."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from kbgraph.errors import ChangeError
from kbgraph.mapping.where import WhereEvalError, compile_where


@pytest.mark.parametrize(
    ("expr", "row", "passes"),
    [
        ("deleted = 0", {"deleted": 0}, True),
        ("deleted = 0", {"deleted": 1}, False),
        ("deleted = 0", {"deleted": False}, True),  # bool counts as 0/1
        ("deleted <> 1 AND type != 'Place'", {"deleted": 0, "type": "Person"}, True),
        ("score >= 10.5", {"score": Decimal("10.50")}, True),
        ("score > 3", {"score": "12.50"}, True),  # numeric text against a number: compared as numbers
        ("id = '7'", {"id": 7}, True),
        ("weight = 0.1", {"weight": 0.1}, True),  # a DOUBLE against a decimal literal: as doubles
        ("x < -2", {"x": -3}, True),
        ("type IN ('Person', 'Place')", {"type": "Place"}, True),
        ("type NOT IN ('Person', 'Place')", {"type": "Concept"}, True),
        ("id IN (1, 2, 3)", {"id": Decimal("2")}, True),
        ("name LIKE '马%'", {"name": "马云"}, True),
        ("name LIKE 'a_c'", {"name": "abbc"}, False),
        ("name NOT LIKE '%50\\%%'", {"name": "50% off"}, False),
        ("year BETWEEN 1990 AND 2000", {"year": 2000}, True),
        ("year NOT BETWEEN 1990 AND 2000", {"year": 1989}, True),
        ("born_on >= '1990-01-01'", {"born_on": date(1991, 5, 1)}, True),
        ("born_on >= '1990-01-01'", {"born_on": "1989-12-31"}, False),
        ("at < '2024-01-01 10:00:00'", {"at": datetime(2024, 1, 1, 9, 59)}, True),
        ("`my col` = 1 AND (a = 1 OR b = 2)", {"my col": 1, "a": 0, "b": 2}, True),
        ("NOT (a = 1)", {"a": 2}, True),
        ("(a) = 1", {"a": 1}, True),
        ("flag", {"flag": 1}, True),
        ("flag", {"flag": 0}, False),
        ("TRUE", {}, True),
        ("parent_id IS NOT NULL and DELETED = 0", {"parent_id": 3, "DELETED": 0}, True),  # keywords in any case
    ],
)
def test_rows_pass_or_not(expr: str, row: dict, passes: bool) -> None:
    assert compile_where(expr)(row) is passes


@pytest.mark.parametrize(
    ("expr", "row", "passes"),
    [
        ("deleted = 0", {"deleted": None}, False),  # unknown is not true
        ("NOT deleted = 0", {"deleted": None}, False),  # NOT unknown is unknown
        ("deleted IS NULL", {"deleted": None}, True),
        ("deleted IS NOT NULL", {"deleted": None}, False),
        ("a = 1 OR b = 1", {"a": None, "b": 1}, True),  # unknown OR true = true
        ("a = 1 OR b = 1", {"a": None, "b": 0}, False),  # unknown OR false = unknown
        ("NOT (a = 1 OR b = 1)", {"a": None, "b": 0}, False),
        ("a = 1 AND b = 1", {"a": None, "b": 0}, False),
        ("NOT (a = 1 AND b = 1)", {"a": None, "b": 0}, True),  # unknown AND false = false
        ("a IN (1, NULL)", {"a": 2}, False),
        ("a NOT IN (1, NULL)", {"a": 2}, False),  # SQL: NOT IN with a NULL is never true
        ("a NOT IN (1, 2)", {"a": None}, False),
        ("a BETWEEN 1 AND 5", {"a": None}, False),
        ("a LIKE 'x%'", {"a": None}, False),
        ("flag IS NOT TRUE", {"flag": None}, True),
        ("flag IS FALSE", {"flag": None}, False),
        ("a = NULL", {"a": None}, False),
    ],
)
def test_null_semantics(expr: str, row: dict, passes: bool) -> None:
    assert compile_where(expr)(row) is passes


def test_columns_lists_every_column_named() -> None:
    p = compile_where("a = 1 AND (`b c` IS NULL OR d IN (1, 2)) AND 'x' = e")
    assert p.columns == frozenset({"a", "b c", "d", "e"})
    assert p.text == "a = 1 AND (`b c` IS NULL OR d IN (1, 2)) AND 'x' = e"


def test_quoted_string_escape() -> None:
    assert compile_where("name = 'O''Brien'")({"name": "O'Brien"}) is True


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty where-expression at column 1"),
        ("a =", "expected a column, a literal or '(', found the end of the expression at column 4"),
        ("a = = 1", "expected a column, a literal or '(', found '=' at column 5"),
        ("a = 'x", "unterminated string at column 5"),
        ("a IN 1", "expected '(' after IN, found '1' at column 6"),
        ("lower(a) = 1", "expected AND, OR or the end of the expression, found '(' at column 6"),
        ("a = 1 b", "expected AND, OR or the end of the expression, found 'b' at column 7"),
        ("a ! 1", "unexpected character '!' at column 3"),
        ("(a = 1", "expected ')', found the end of the expression at column 7"),
        ("a IN (b)", "expected a literal value (IN lists hold literals), found 'b' at column 7"),
        ("a IS 5", "expected NULL, TRUE or FALSE, found '5' at column 6"),
    ],
)
def test_syntax_errors_name_the_column(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        compile_where(expr)
    assert str(info.value) == message


def test_missing_column_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(WhereEvalError) as info:
        compile_where("deleted = 0")({"id": 1})
    assert str(info.value) == "where 'deleted = 0': the row has no column 'deleted'"
    assert isinstance(info.value, ChangeError)


@pytest.mark.parametrize(
    ("expr", "row", "text"),
    [
        ("a > 1", {"a": "abc"}, "cannot compare 'abc' (str) > 1 (int)"),
        ("a = 1", {"a": {"k": 1}}, "cannot compare {'k': 1} (dict) = 1 (int)"),
        ("a = '2024-01-01'", {"a": datetime(2024, 1, 1, tzinfo=timezone.utc)}, None),  # aware vs naive text
    ],
)
def test_incomparable_values_raise(expr: str, row: dict, text: str | None) -> None:
    with pytest.raises(WhereEvalError) as info:
        compile_where(expr)(row)
    if text:
        assert str(info.value) == f"where {expr!r}: {text}"
