"""What a statement logged as a ``QueryEvent`` does to the tables the mappings read.

In ROW format the binlog carries DML as row events; a ``QueryEvent`` is transaction control
(BEGIN / COMMIT / ...), DDL, or DML that a session logged in STATEMENT format (whose rows the
adapter cannot see). ``classify`` returns a ``DdlStatement`` naming the tables it touches and,
for ALTER TABLE, the columns it touches (None: possibly all of them).

DDL (TRUNCATE, DROP, ALTER, CREATE) is read by sqlglot's MySQL parser. What sqlglot does not
read (it raises, or returns an opaque ``Command``) goes to ``_fallback``, a small token scan for the
MySQL/MariaDB forms sqlglot lacks: ``RENAME TABLE``, ``ALTER ONLINE|IGNORE TABLE``, ``WAIT n``,
``ALTER TABLE … RENAME AS``, ``ADD (a INT, b INT)``. Anything else it cannot tell is reported as
touching every column (``columns=None``), which the policy treats as the safe case (a stop).
The token scan also sorts transaction control and statement-format DML cheaply, without sqlglot.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlglot is imported on the first DDL statement (its import costs ~0.2 s)
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect

CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "XA", "SAVEPOINT", "RELEASE", "START"}
DML = {"INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD", "CALL", "DO"}

_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)  # also /*!50001 … */: dropped, as sqlglot does
_TOKEN = re.compile(r"`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|[A-Za-z0-9_$\u0080-\uffff]+|\S")
_DROP_TAIL = {"RESTRICT", "CASCADE", "WAIT", "NOWAIT"}
_NAME = re.compile(r"^[A-Za-z0-9_$\u0080-\uffff]+$")

# ALTER TABLE actions (sqlglot expression classes, by name: not every sqlglot version has each) that change
# no column data: keys, indexes, constraints, a rebuild
_NO_COLUMN_ACTIONS = {"AddConstraint", "DropPrimaryKey", "RenameIndex", "AlterIndex", "ForceProperty"}
Table = tuple[str | None, str]  # (schema or None = the statement's default schema, table)


@dataclass
class DdlStatement:
    kind: str  # "control" | "xa_rollback" | "dml" | "alter" | "drop" | "rename" | "truncate" | "create" | "drop_database" | "other"
    tables: list[Table] = field(default_factory=list)
    columns: set[str] | None = field(default_factory=set)  # alter: touched columns; None = unknown / all
    words: set[str] = field(default_factory=set)  # dml: every bare identifier (to spot mapped tables)
    text: str = ""


def tokens(sql: str) -> list[str]:
    return _TOKEN.findall(_COMMENT.sub(" ", sql))


def classify(sql: str) -> DdlStatement:
    toks = tokens(sql)
    if not toks:
        return DdlStatement("other", text=sql)
    upper = [t.upper() for t in toks]
    head = upper[0]
    if head == "XA" and len(upper) > 1 and upper[1] == "ROLLBACK":
        return DdlStatement("xa_rollback", text=sql)
    if head in CONTROL and not (head == "START" and len(upper) > 1 and upper[1] == "SLAVE"):
        return DdlStatement("control", text=sql)
    if head in DML or (head == "WITH" and any(w in DML for w in upper)):
        return DdlStatement("dml", words={_unquote(t) for t in toks if _is_name(t)}, text=sql)
    if head not in ("TRUNCATE", "DROP", "ALTER", "CREATE", "RENAME"):
        return DdlStatement("other", text=sql)
    st = _parsed(sql)
    return st if st is not None else _fallback(toks, upper, sql)


# ---------------------------------------------------------------- sqlglot

def _parsed(sql: str) -> DdlStatement | None:
    """The statement as sqlglot reads it; None when it cannot (then ``_fallback`` decides)."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        trees = _mysql().parse(sql)
    except SqlglotError:
        return None
    tree = trees[0] if len(trees) == 1 else None
    if isinstance(tree, exp.TruncateTable):
        return DdlStatement("truncate", tables=[_table(t) for t in tree.expressions], text=sql)
    if isinstance(tree, exp.Drop):
        kind = (tree.args.get("kind") or "").upper()
        targets = _dropped(tree)
        if kind in ("DATABASE", "SCHEMA"):
            return DdlStatement("drop_database", tables=[(t.name, "*") for t in targets], text=sql)
        if kind == "TABLE":
            return DdlStatement("drop", tables=[_table(t) for t in targets], text=sql)
        return DdlStatement("other", text=sql)
    if isinstance(tree, exp.Create):
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if tree.args.get("replace") and (tree.args.get("kind") or "").upper() == "TABLE" and isinstance(target, exp.Table):
            return DdlStatement("drop", tables=[_table(target)], text=sql)  # CREATE OR REPLACE drops the old table
        return DdlStatement("create", text=sql)
    if isinstance(tree, exp.Alter) and (tree.args.get("kind") or "").upper() == "TABLE":
        cols, renames = _alter_columns(tree)
        return DdlStatement("rename" if renames else "alter", tables=[_table(tree.this)], columns=cols, text=sql)
    return None  # exp.Command (sqlglot's "did not understand") and anything unexpected


@functools.cache
def _mysql() -> Dialect:
    """sqlglot's MySQL dialect, whose parser does not log a warning for each statement it leaves to ``_fallback``."""
    from sqlglot.dialects.mysql import MySQL

    class Quiet(MySQL):
        class Parser(MySQL.Parser):  # type: ignore[misc,valid-type]  # sqlglot declares it as a class attribute
            def _warn_unsupported(self) -> None:
                pass

    return Quiet()


def _dropped(drop: exp.Drop) -> list[exp.Expression]:
    """What a DROP names (sqlglot >= 30.1 lists them in ``tables``; before, one in ``this``)."""
    return list(drop.args.get("tables") or ([drop.this] if drop.this is not None else []))


def _table(t: exp.Expression) -> Table:
    return (t.text("db") or None, t.name)


def _alter_columns(tree: exp.Alter) -> tuple[set[str] | None, bool]:
    """Columns an ALTER TABLE touches (None = cannot tell) and whether it renames the table."""
    from sqlglot import exp

    cols: set[str] = set()
    renames = False
    for opt in tree.args.get("options") or []:
        if not isinstance(opt, (exp.Property, exp.Order)):  # table options change no column data
            return None, renames
    for act in tree.args.get("actions") or []:
        if isinstance(act, exp.AlterRename):
            renames = True
        elif type(act).__name__ in _NO_COLUMN_ACTIONS:
            continue  # keys, indexes, constraints, a rebuild: no column data changes
        elif isinstance(act, exp.ColumnDef):  # ADD [COLUMN]
            cols.add(act.name)
        elif isinstance(act, exp.ModifyColumn):  # MODIFY / CHANGE old new
            cols.add(act.this.name)
            if act.args.get("rename_from") is not None:
                cols.add(act.args["rename_from"].name)
        elif isinstance(act, exp.RenameColumn):
            cols.update((act.this.name, act.args["to"].name))
        elif isinstance(act, exp.AlterColumn):
            cols.add(act.name)
        elif isinstance(act, exp.Drop):
            kind = (act.args.get("kind") or "").upper()
            if kind == "COLUMN":
                cols.update(c.name for c in _dropped(act))
            elif kind not in ("INDEX", "KEY", "FOREIGN KEY", "CONSTRAINT", "CHECK"):
                return None, renames  # e.g. a partition: rows go without row events
        else:
            return None, renames
    return cols, renames


# ---------------------------------------------------------------- fallback

def _fallback(toks: list[str], upper: list[str], sql: str) -> DdlStatement:
    """MySQL/MariaDB forms sqlglot does not read; an ALTER this cannot read either touches 'every column'."""
    head = upper[0]
    if head == "RENAME" and upper[1:2] == ["TABLE"]:
        names: list[Table] = []
        for part in _split_top(toks[2:]):
            src, j = _table_at(part, 0)
            names.append(src)
            j = j + 2 if [t.upper() for t in part[j : j + 1]] == ["WAIT"] else _skip(part, j, "NOWAIT")
            if j < len(part) and part[j].upper() == "TO":
                names.append(_table_at(part, j + 1)[0])
        return DdlStatement("rename", tables=names, text=sql)
    if head == "CREATE":  # CREATE OR REPLACE [TEMPORARY] TABLE [IF NOT EXISTS] t … drops the old t
        i = _skip(upper, 3, "TEMPORARY")
        if upper[1:3] == ["OR", "REPLACE"] and upper[i : i + 1] == ["TABLE"]:
            return DdlStatement("drop", tables=[_table_at(toks, _skip(upper, i + 1, "IF", "NOT", "EXISTS"))[0]], text=sql)
        return DdlStatement("create", text=sql)
    if head == "TRUNCATE":
        return DdlStatement("truncate", tables=[_table_at(toks, _skip(upper, 1, "TABLE"))[0]], text=sql)
    if head == "DROP":
        i = _skip(upper, 1, "TEMPORARY")
        if upper[i : i + 1] == ["TABLE"]:
            parts = _split_top(toks[_skip(upper, i + 1, "IF", "EXISTS") :])
            return DdlStatement("drop", tables=[_table_at(p, 0)[0] for p in parts if p[0].upper() not in _DROP_TAIL],
                             text=sql)
        if upper[i : i + 1] in (["DATABASE"], ["SCHEMA"]):
            i = _skip(upper, i + 1, "IF", "EXISTS")
            return DdlStatement("drop_database", tables=[(_unquote(toks[i]), "*")] if i < len(toks) else [], text=sql)
        return DdlStatement("other", text=sql)
    i = _skip(upper, 1, "ONLINE", "IGNORE")
    if head != "ALTER" or upper[i : i + 1] != ["TABLE"]:
        return DdlStatement("other", text=sql)
    k = _skip(upper, i + 1, "IF", "EXISTS")
    table, end = _table_at(toks, k)
    j = end + 2 if upper[end : end + 1] == ["WAIT"] else _skip(upper, end, "NOWAIT")
    if i > 1 or j > end:  # ALTER ONLINE / IGNORE, WAIT n / NOWAIT change nothing; sqlglot reads the rest
        again = _parsed(" ".join(["ALTER", "TABLE", *toks[k:end], *toks[j:]]))
        if again is not None:
            again.text = sql
            return again
    specs = _split_top(toks[j:])
    if any(s[0].upper() == "RENAME" and (len(s) == 1 or s[1].upper() not in ("COLUMN", "INDEX", "KEY")) for s in specs):
        return DdlStatement("rename", tables=[table], columns=None, text=sql)  # RENAME AS / TO: the table goes
    lists = [_skip([t.upper() for t in s], 1, "COLUMN", "IF", "NOT", "EXISTS") for s in specs]
    if specs and all(s[0].upper() == "ADD" and s[n:n + 1] == ["("] and s[-1] == ")" for s, n in zip(specs, lists)):
        # ADD [COLUMN] [IF NOT EXISTS] (a INT, b INT)
        cols = {_unquote(c[0]) for s, n in zip(specs, lists) for c in _split_top(s[n + 1 : -1])}
        return DdlStatement("alter", tables=[table], columns=cols, text=sql)
    return DdlStatement("alter", tables=[table], columns=None, text=sql)  # CONVERT TO, partitions, …: cannot tell


def _unquote(tok: str) -> str:
    if tok.startswith("`") and tok.endswith("`") and len(tok) >= 2:
        return tok[1:-1].replace("``", "`")
    return tok


def _is_name(tok: str) -> bool:
    return tok.startswith("`") or bool(_NAME.match(tok))


def _table_at(toks: list[str], i: int) -> tuple[Table, int]:
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
        depth += (t == "(") - (t == ")")
        if t == "," and depth == 0:
            out.append([])
        else:
            out[-1].append(t)
    return [s for s in out if s]
