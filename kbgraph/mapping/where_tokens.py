"""The tokens of a mapping ``where:`` expression (the language is documented in ``kbgraph.mapping.where``).

Hand-written on purpose: the language is a small subset of SQL, and its errors name the column of
the expression ("unterminated string at column 7"); a full SQL tokenizer (sqlglot's) accepts far
more (double-quoted strings, comments, operators the evaluator does not have) that would then have
to be refused one by one.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["KEYWORDS", "Tok", "tokenize"]


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
KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "BETWEEN", "TRUE", "FALSE", "ESCAPE"}


class Tok:
    __slots__ = ("col", "kind", "raw", "value")

    def __init__(self, kind: str, value: Any, col: int, raw: str = ""):
        self.kind, self.value, self.col, self.raw = kind, value, col, raw

    def show(self) -> str:
        return "the end of the expression" if self.kind == "end" else repr(self.raw)


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] in "'`":
                raise ValueError(f"unterminated {'string' if text[pos] == chr(39) else 'name'} at column {pos + 1}")
            raise ValueError(f"unexpected character {text[pos]!r} at column {pos + 1}")
        kind, raw = m.lastgroup or "", m.group()
        if kind == "num":
            tok = Tok("lit", int(raw) if raw.isdigit() else Decimal(raw), pos + 1)
        elif kind == "str":
            tok = Tok("lit", raw[1:-1].replace("''", "'"), pos + 1)
        elif kind == "qid":
            tok = Tok("col", raw[1:-1].replace("``", "`"), pos + 1)
        elif kind == "word":
            up = raw.upper()
            tok = Tok("kw", up, pos + 1) if up in KEYWORDS else Tok("col", raw, pos + 1)
        elif kind == "op":
            tok = Tok("op", "!=" if raw == "<>" else raw, pos + 1)
        else:
            pos = m.end()
            continue
        tok.raw = raw
        toks.append(tok)
        pos = m.end()
    end = Tok("end", None, len(text) + 1)
    toks.append(end)
    return toks
