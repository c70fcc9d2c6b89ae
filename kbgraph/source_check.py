"""``kbgraph validate --check-source``: the mappings against a live MySQL / MariaDB database.

Read-only: it selects from ``information_schema`` (TABLES, COLUMNS, STATISTICS) and nothing else,
so any user that can see the tables can run it. One line per problem, ``file:line: …``:

* a mapped table does not exist (in its schema, or in any schema when the file names none);
* a mapped column is not in the table (the same comparison the sources make at run time,
  ``kbgraph.mapping.source_columns``);
* a rule's key columns are not the table's primary key (nor a unique key without NULLs): two rows
  with the same key values would be one graph element;
* a column's declared ``type:`` cannot come from the column's SQL type (``type: date`` over an INT).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kbgraph.mapping.rules import CompiledMapping
from kbgraph.mapping.source_columns import Need, missing, needs, needs_for, table_lines
from kbgraph.mapping.validate import _rule_name, _rules
from kbgraph.mysql import catalog, types
from kbgraph.sources.binlog.server import ConnInfo

_NUMERIC = types.of(types.INTEGER, types.DECIMAL, types.FLOAT, types.YEAR)
_BIT = types.of(types.BIT)
_TEXT = types.TEXTS | types.of(types.ENUM, types.SET)
_BINARY = types.BINARIES
_DATE = types.DATES
# declared `type:` -> SQL data types a value of it can come from (text converts to anything)
COMPATIBLE: dict[str, frozenset[str]] = {
    "int": _NUMERIC | _BIT | _TEXT,
    "float": _NUMERIC | _TEXT,
    "decimal": _NUMERIC | _TEXT,
    "bool": _NUMERIC | _BIT | _TEXT,
    "date": _DATE | _TEXT,
    "datetime": _DATE | _TEXT,
    "time": types.of(types.TIME) | _TEXT,
    "json": types.of(types.JSON) | _TEXT,
    "bytes": _BINARY | _TEXT,
}


def type_problem(declared: str | None, data_type: str) -> bool:
    """Whether a column of SQL ``data_type`` cannot give a value of the declared ``type:``."""
    allowed = COMPATIBLE.get(declared or "")
    return allowed is not None and data_type.lower() not in allowed


def _columns(db: Any, schema: str, table: str) -> list[tuple[str, str]]:
    # the declared DATA_TYPE (mariadb=False): MariaDB's JSON is LONGTEXT, and text converts to anything
    return [(c.name, c.data_type) for c in catalog.table_columns(db, schema, table, mariadb=False)]


def _rule_keys(mapping: CompiledMapping) -> dict[tuple[str | None, str], list[tuple[str, list[str], str]]]:
    """(rule name, key columns, file:line of its key) per (schema, table)."""
    lines: dict[tuple[str, str], str] = {}
    for lf in mapping.files:
        for base, rule in _rules(lf):
            kind = {"entities": "entity", "relations": "relation", "properties": "property"}[str(base[0])]
            lines[(kind, _rule_name(rule)[0])] = f"{lf.path}:{lf.line_of(base + ('key',)) or 1}"
    out: dict[tuple[str | None, str], list[tuple[str, list[str], str]]] = {}
    schema_of = {id(r): s for (s, _), rs in mapping._rules.items() for r in rs}
    for r in mapping.rules():
        cols = list(r.keys.columns) if r.kind == "entity" else list(r.key_cols)  # type: ignore[union-attr]
        out.setdefault((schema_of[id(r)], r.table), []).append((r.name, cols, lines.get((r.kind, r.name), "?")))
    return out


def check_source(mapping: CompiledMapping, conn: ConnInfo) -> tuple[list[str], int]:
    """Problems (one line each) and the number of tables checked."""
    all_needs = needs(mapping.files)
    keys = _rule_keys(mapping)
    lines = table_lines(mapping.files)
    problems: list[str] = []
    checked = 0
    db = conn.connect()
    try:
        for schema, table in sorted(mapping.tables(), key=lambda p: (p[0] or "", p[1])):
            ns = needs_for(all_needs, schema, table)
            found = catalog.table_schemas(db, schema, table)
            if not found:
                where = lines.get((schema, table), "?")
                problems.append(f"{where}: table {schema + '.' if schema else ''}{table} does not exist on "
                                f"{conn.where()}" + ("" if schema else " (in any schema)"))
                continue
            for s in found:
                checked += 1
                problems += _check_table(db, s, table, ns, keys.get((schema, table), []))
    finally:
        db.close()
    return problems, checked


def _check_table(db: Any, schema: str, table: str, ns: Iterable[Need],
                 keys: list[tuple[str, list[str], str]]) -> list[str]:
    ns = list(ns)
    cols = _columns(db, schema, table)
    types = dict(cols)
    out = missing(ns, schema, table, [c for c, _ in cols])
    uniques = catalog.not_null_keys(db, schema, table)
    for rule, key, where in keys:
        if not key or any(c not in types for c in key):
            continue  # a missing key column is reported above
        if not any(set(key) == set(u) for _, u in uniques):
            pk = next((u for i, u in uniques if i == "PRIMARY"), None)
            has = f"primary key ({', '.join(pk)})" if pk else "no primary key"
            out.append(f"{where}: key ({', '.join(key)}) of rule {rule!r} is not the primary key nor a unique key "
                       f"of table {schema}.{table}, which has {has}: rows with the same key would be one element")
    seen: set[tuple[str, str]] = set()
    for n in ns:
        t = types.get(n.column)
        if t is not None and type_problem(n.type, t) and (n.rule, n.column) not in seen:
            seen.add((n.rule, n.column))
            out.append(f"{n.where}: column {n.column!r} of rule {n.rule!r} is {t.upper()} in table {schema}.{table}, "
                       f"which cannot give `type: {n.type}`")
    return out
