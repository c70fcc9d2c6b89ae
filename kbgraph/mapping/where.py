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

The code: ``where_tokens`` (tokens), ``where_parse`` (tokens → closures), ``where_values``
(comparing values), this module (the entry point).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from kbgraph.mapping.where_parse import Parser
from kbgraph.mapping.where_values import WhereEvalError

__all__ = ["Predicate", "WhereEvalError", "compile_where"]


class Predicate(Protocol):
    text: str
    columns: frozenset[str]

    def __call__(self, row: Mapping[str, Any]) -> bool: ...


def compile_where(expr: str) -> Predicate:
    """Compile a where-expression once; raise ``ValueError("… at column N")`` on a syntax error."""
    if not isinstance(expr, str):
        raise ValueError(f"a where-expression must be text, not {type(expr).__name__} at column 1")
    parser = Parser(expr)
    test = parser.parse()

    def predicate(row: Mapping[str, Any]) -> bool:  # a plain closure: cheaper to call than __call__
        return test(row) is True

    predicate.text = expr  # type: ignore[attr-defined]
    predicate.columns = frozenset(parser.columns)  # type: ignore[attr-defined]
    predicate.__qualname__ = f"where {expr!r}"
    return cast(Predicate, predicate)
