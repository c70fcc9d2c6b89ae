"""What a statement logged as a ``QueryEvent`` does to the tables the mappings read.

In ROW format the binlog carries DML as row events; a ``QueryEvent`` is transaction control
(BEGIN / COMMIT / ...), DDL, or DML that a session logged in STATEMENT format (whose rows the
adapter cannot see). ``classify`` returns a ``Statement`` naming the tables it touches and,
for ALTER TABLE, the columns it touches (None: possibly all of them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "XA", "SAVEPOINT", "RELEASE", "START"}
DML = {"INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD", "CALL", "DO"}

_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_TOKEN = re.compile(r"`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|[A-Za-z0-9_$\u0080-\uffff]+|\S")

# ALTER TABLE specifications that change no column data or name
_HARMLESS_ALTER = {
    "ENGINE", "COMMENT", "AUTO_INCREMENT", "ALGORITHM", "LOCK", "FORCE", "ROW_FORMAT", "KEY_BLOCK_SIZE",
    "STATS_PERSISTENT", "STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES", "PACK_KEYS", "CHECKSUM", "MAX_ROWS",
    "MIN_ROWS", "AVG_ROW_LENGTH", "DELAY_KEY_WRITE", "ENABLE", "DISABLE", "ORDER", "PAGE_CHECKSUM",
    "TRANSACTIONAL", "INSERT_METHOD", "ENCRYPTED", "ENCRYPTION_KEY_ID", "PAGE_COMPRESSED",
}
_INDEX_WORDS = {"INDEX", "KEY", "UNIQUE", "PRIMARY", "FULLTEXT", "SPATIAL", "CONSTRAINT", "FOREIGN", "CHECK", "VECTOR"}


@dataclass
class Statement:
    kind: str  # "control" | "xa_rollback" | "dml" | "alter" | "drop" | "rename" | "truncate" | "create" | "drop_database" | "other"
    tables: list[tuple[str | None, str]] = field(default_factory=list)  # (schema or None = default, table)
    columns: set[str] | None = field(default_factory=set)  # alter: touched columns; None = unknown / all
    words: set[str] = field(default_factory=set)  # dml: every bare identifier (to spot mapped tables)
    text: str = ""


def _unquote(tok: str) -> str:
    if tok.startswith("`") and tok.endswith("`") and len(tok) >= 2:
        return tok[1:-1].replace("``", "`")
    return tok


def tokens(sql: str) -> list[str]:
    return _TOKEN.findall(_COMMENT.sub(" ", sql))


def _is_name(tok: str) -> bool:
    return tok.startswith("`") or bool(re.match(r"^[A-Za-z0-9_$\u0080-\uffff]+$", tok))


def _table_at(toks: list[str], i: int) -> tuple[tuple[str | None, str], int]:
    """A possibly schema-qualified table name starting at toks[i]; returns it and the next index."""
    first = _unquote(toks[i])
    if i + 2 < len(toks) and toks[i + 1] == "." and _is_name(toks[i + 2]):
        return (first, _unquote(toks[i + 2])), i + 3
    return (None, first), i + 1


def _skip(toks: list[str], i: int, *words: str) -> int:
    while i < len(toks) and toks[i].upper() in words:
        i += 1
    return i


def _split_top(toks: list[str]) -> list[list[str]]:
    """Split tokens at commas outside parentheses."""
    out: list[list[str]] = [[]]
    depth = 0
    for t in toks:
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        if t == "," and depth == 0:
            out.append([])
        else:
            out[-1].append(t)
    return [s for s in out if s]


def _alter_columns(specs: list[list[str]]) -> tuple[set[str] | None, bool]:
    """Columns an ALTER TABLE touches (None = cannot tell) and whether it renames the table."""
    cols: set[str] = set()
    renames = False
    for spec in specs:
        words = [t.upper() for t in spec]
        w0 = words[0]
        if w0 in _HARMLESS_ALTER or w0 in ("DEFAULT", "CHARACTER", "CHARSET", "COLLATE"):
            continue  # table options: no column data changes
        if w0 == "CONVERT":  # CONVERT TO CHARACTER SET: every text column changes
            return None, renames
        if w0 == "RENAME":
            if len(words) > 1 and words[1] in ("COLUMN",):
                j = 2
                cols.add(_unquote(spec[j]))
                if j + 2 < len(spec):
                    cols.add(_unquote(spec[j + 2]))
                continue
            if len(words) > 1 and words[1] in ("INDEX", "KEY"):
                continue
            renames = True
            continue
        if w0 in ("ADD", "DROP", "CHANGE", "MODIFY", "ALTER"):
            j = _skip(spec, 1)
            if j < len(words) and words[j] in _INDEX_WORDS | {"PARTITION", "PERIOD", "SYSTEM"}:
                if words[j] == "PARTITION" and w0 == "DROP":
                    return None, renames  # dropping a partition deletes rows without row events
                if w0 in ("ADD", "DROP", "ALTER") and words[j] in _INDEX_WORDS:
                    continue
                return None, renames
            if j < len(words) and words[j] == "COLUMN":
                j += 1
            if j + 1 < len(words) and words[j] == "IF":
                if words[j + 1] == "EXISTS":
                    j += 2
                elif words[j + 1] == "NOT" and j + 2 < len(words) and words[j + 2] == "EXISTS":
                    j += 3
            if j < len(spec) and spec[j] == "(":  # ADD (a INT, b INT)
                inner = _split_top(spec[j + 1 : -1])
                cols.update(_unquote(s[0]) for s in inner if s)
                continue
            if j >= len(spec):
                return None, renames
            cols.add(_unquote(spec[j]))
            if w0 == "CHANGE" and j + 1 < len(spec):
                cols.add(_unquote(spec[j + 1]))
            continue
        return None, renames  # anything else (partitions, ...): cannot tell
    return cols, renames


def classify(sql: str) -> Statement:
    toks = tokens(sql)
    if not toks:
        return Statement("other", text=sql)
    head = toks[0].upper()
    upper = [t.upper() for t in toks]
    if head == "XA" and len(upper) > 1 and upper[1] == "ROLLBACK":
        return Statement("xa_rollback", text=sql)
    if head in CONTROL and not (head == "START" and len(upper) > 1 and upper[1] == "SLAVE"):
        return Statement("control", text=sql)
    if head in DML or (head == "WITH" and any(w in DML for w in upper)):
        return Statement("dml", words={_unquote(t) for t in toks if _is_name(t)}, text=sql)
    if head == "TRUNCATE":
        i = _skip(toks, 1, "TABLE")
        return Statement("truncate", tables=[_table_at(toks, i)[0]], text=sql)
    if head == "DROP":
        i = _skip(toks, 1, "TEMPORARY")
        if i < len(toks) and upper[i] in ("DATABASE", "SCHEMA"):
            i = _skip(toks, i + 1, "IF", "EXISTS")
            return Statement("drop_database", tables=[(_unquote(toks[i]), "*")] if i < len(toks) else [], text=sql)
        if i < len(toks) and upper[i] == "TABLE":
            i = _skip(toks, i + 1, "IF", "EXISTS")
            names = []
            for part in _split_top(toks[i:]):
                if part and part[0].upper() not in ("RESTRICT", "CASCADE", "WAIT", "NOWAIT"):
                    names.append(_table_at(part, 0)[0])
            return Statement("drop", tables=names, text=sql)
        return Statement("other", text=sql)
    if head == "RENAME" and len(upper) > 1 and upper[1] == "TABLE":
        names = []
        for part in _split_top(toks[2:]):
            src, j = _table_at(part, 0)
            names.append(src)
            j = _skip(part, j, "WAIT", "NOWAIT")
            if j < len(part) and part[j].upper() == "TO":
                names.append(_table_at(part, j + 1)[0])
        return Statement("rename", tables=names, text=sql)
    if head == "ALTER":
        i = _skip(toks, 1, "ONLINE", "IGNORE")
        if i < len(toks) and upper[i] == "TABLE":
            i = _skip(toks, i + 1, "IF", "EXISTS")
            table, j = _table_at(toks, i)
            j = _skip(toks, j, "WAIT", "NOWAIT")
            cols, renames = _alter_columns(_split_top(toks[j:])) if j < len(toks) else (set(), False)
            kind = "rename" if renames else "alter"
            return Statement(kind, tables=[table], columns=cols, text=sql)
        return Statement("other", text=sql)
    if head == "CREATE":
        i = 1
        replace = False
        if len(upper) > 2 and upper[1] == "OR" and upper[2] == "REPLACE":
            replace, i = True, 3
        i = _skip(toks, i, "TEMPORARY")
        if i < len(toks) and upper[i] == "TABLE" and replace:
            i = _skip(toks, i + 1, "IF", "NOT", "EXISTS")
            return Statement("drop", tables=[_table_at(toks, i)[0]], text=sql)
        return Statement("create", text=sql)
    return Statement("other", text=sql)
