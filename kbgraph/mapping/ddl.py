"""Read the column names of each table from MySQL/MariaDB ``CREATE TABLE`` statements.

Only what validation needs: ``{table: [column, ...]}`` in definition order. Keys, constraints,
table options and every other statement are ignored. Handles ```backquoted``` names,
schema-qualified names (``kb.entity`` → ``entity``), ``--``/``#``/``/* */`` comments, quoted
strings (defaults, comments, enum values), ``CREATE TABLE … LIKE other`` and ``IF NOT EXISTS``.
``CREATE TABLE … AS SELECT`` raises ``ValueError``: its columns are not in the text.

Not sqlglot (which reads the binlog's DDL in ``sources/binlog/ddl.py``): ``parse_ddl_types`` must
give each type as written (MySQL's spelling), and sqlglot rewrites types into its own canonical
names — ``REAL`` → ``FLOAT`` (MySQL's REAL is a DOUBLE), ``BOOL`` → ``BOOLEAN``, ``DECIMAL(30, 10)``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_ddl", "parse_ddl_columns", "parse_ddl_types"]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--(?:[ \t][^\n]*)?(?=\n|$)|\#[^\n]*|/\*(?!!).*?\*/)
  | (?P<vcomment>/\*!\d*|\*/)
  | (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<qid>`(?:[^`]|``)*`)
  | (?P<word>[\w$]+)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# a table element that is not a column
_NOT_COLUMN = {
    "PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL", "CHECK", "PERIOD",
}


class _T:
    __slots__ = ("kind", "line", "text")

    def __init__(self, kind: str, text: str, line: int):
        self.kind, self.text, self.line = kind, text, line

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        if self.kind == "qid":
            return self.text[1:-1].replace("``", "`")
        if self.kind == "str":  # "double-quoted" names under ANSI_QUOTES
            return self.text[1:-1]
        return self.text


def _statements(text: str) -> list[list[_T]]:
    stmts: list[list[_T]] = [[]]
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None  # the last alternative matches any character
        kind, raw = m.lastgroup or "", m.group()
        if kind == "punct" and raw in "'\"`":
            raise ValueError(f"line {line}: unterminated quote {raw}")
        if kind == "punct" and raw == ";":
            stmts.append([])
        elif kind in ("word", "qid", "str", "punct"):
            stmts[-1].append(_T(kind, raw, line))
        line += raw.count("\n")
        pos = m.end()
    return [s for s in stmts if s]


def _table_name(toks: list[_T], i: int) -> tuple[str, int]:
    """The (possibly schema-qualified) name at toks[i]; returns the table part and the next index."""
    if i >= len(toks) or toks[i].kind not in ("word", "qid", "str"):
        raise ValueError(f"line {toks[min(i, len(toks) - 1)].line}: CREATE TABLE without a table name")
    name = toks[i].name
    i += 1
    while i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].kind in ("word", "qid", "str"):
        name = toks[i + 1].name
        i += 2
    return name, i


def _columns(toks: list[_T], i: int, table: str) -> list[tuple[str, list[_T]]]:
    """(name, definition tokens) of the columns of the parenthesised definition at toks[i] == '('."""
    cols: list[tuple[str, list[_T]]] = []
    depth, start = 0, True
    for t in toks[i:]:
        if t.text == "(" and t.kind == "punct":
            depth += 1
            if depth == 1:
                start = True
                continue
        elif t.text == ")" and t.kind == "punct":
            depth -= 1
            if depth == 0:
                return cols
        elif t.text == "," and t.kind == "punct" and depth == 1:
            start = True
            continue
        if start and depth == 1:
            start = False
            skipping = t.kind == "word" and t.upper in _NOT_COLUMN
            if skipping:
                cols.append(("", [t]))  # a key or constraint: name ""
                continue
            if t.kind in ("word", "qid", "str"):
                cols.append((t.name, []))
                continue
            raise ValueError(f"line {t.line}: table {table!r}: unexpected {t.text!r} where a column starts")
        if cols:
            cols[-1][1].append(t)
    raise ValueError(f"line {toks[i].line}: table {table!r}: unbalanced parentheses")


def _type_text(defn: list[_T]) -> str:
    """The type part of a column definition, as MySQL's COLUMN_TYPE writes it: ``decimal(30,10) unsigned``."""
    out: list[str] = []
    depth = 0
    for t in defn:
        if depth == 0 and out and t.text != "(" and not (t.kind == "word" and t.upper in ("UNSIGNED", "SIGNED", "ZEROFILL", "PRECISION", "VARYING")):
            break
        depth += t.text == "(" and t.kind == "punct"
        depth -= t.text == ")" and t.kind == "punct"
        out.append(t.text if t.kind != "word" else t.text.lower())
    text = ""
    for piece in out:
        text += piece if (piece in "(),'" or text.endswith(("(", ",")) or not text) else " " + piece
    return text


def parse_ddl(text: str) -> dict[str, list[str]]:
    """``{table: [columns]}`` from the ``CREATE TABLE`` statements in ``text``."""
    return {table: [name for name, _ in cols if name] for table, cols in _tables(text).items()}


def parse_ddl_types(text: str) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}``, each type as MySQL's ``COLUMN_TYPE`` writes it (``bigint(20) unsigned``)."""
    return {table: {name: _type_text(defn) for name, defn in cols if name} for table, cols in _tables(text).items()}


def parse_ddl_columns(text: str) -> dict[str, tuple[list[dict[str, Any]], list[str]]]:
    """``{table: ([column], [primary key columns])}``, each column ``{"name", "type", "not_null",
    "default", "default_quoted", "comment"}`` (``default`` as written, None when not given)."""
    out: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for table, cols in _tables(text).items():
        columns: list[dict[str, Any]] = []
        pk: list[str] = []
        for name, defn in cols:
            if not name:
                if [t.upper for t in defn[:2]] == ["PRIMARY", "KEY"]:
                    pk = [t.name for t in defn[2:] if t.kind in ("word", "qid", "str") and t.upper not in ("USING", "BTREE", "HASH")]
                continue
            col: dict[str, Any] = {"name": name, "type": _type_text(defn), "not_null": False, "default": None,
                                   "default_quoted": False, "comment": None}
            for j, t in enumerate(defn):
                nxt = defn[j + 1] if j + 1 < len(defn) else None
                if t.upper == "NOT" and nxt is not None and nxt.upper == "NULL":
                    col["not_null"] = True
                elif t.upper == "DEFAULT" and nxt is not None:
                    col["default_quoted"] = nxt.kind == "str"
                    col["default"] = _unquote(nxt.text) if nxt.kind == "str" else nxt.text
                elif t.upper == "COMMENT" and nxt is not None and nxt.kind == "str":
                    col["comment"] = _unquote(nxt.text)
                elif t.upper == "PRIMARY" and nxt is not None and nxt.upper == "KEY":
                    pk = [name]
                    col["not_null"] = True
            columns.append(col)
        out[table] = (columns, pk)
    return out


def _unquote(text: str) -> str:
    q = text[0]
    return text[1:-1].replace(q + q, q).replace("\\" + q, q)


def _tables(text: str) -> dict[str, list[tuple[str, list[_T]]]]:
    tables: dict[str, list[tuple[str, list[_T]]]] = {}
    for toks in _statements(text):
        words = [t.upper for t in toks[:6]]
        if not words or words[0] != "CREATE":
            continue
        i = 1
        if words[i:i + 2] == ["OR", "REPLACE"]:
            i += 2
        if i < len(words) and words[i] == "TEMPORARY":
            i += 1
        if i >= len(words) or words[i] != "TABLE":
            continue
        i += 1
        if [t.upper for t in toks[i:i + 3]] == ["IF", "NOT", "EXISTS"]:
            i += 3
        table, i = _table_name(toks, i)
        if (i < len(toks) and toks[i].upper == "LIKE") or (
            i + 1 < len(toks) and toks[i].text == "(" and toks[i + 1].upper == "LIKE"
        ):
            j = i + 1 if toks[i].upper == "LIKE" else i + 2
            other, _ = _table_name(toks, j)
            if other not in tables:
                raise ValueError(f"line {toks[i].line}: CREATE TABLE {table} LIKE {other}: {other!r} is not defined above")
            tables[table] = list(tables[other])
            continue
        if i >= len(toks) or toks[i].text != "(":
            raise ValueError(
                f"line {toks[min(i, len(toks) - 1)].line}: CREATE TABLE {table}: no column list "
                "(CREATE TABLE … AS SELECT cannot be read; write the columns out)"
            )
        tables[table] = _columns(toks, i, table)
    return tables
