"""Columns the mappings need versus columns a live table has: one comparison for every source.

A mapped column the table lacks (a typo, a column dropped or renamed) would otherwise never be
written and nothing would say so. The binlog source checks each mapped table's columns when it
first sees them (the table-map event's names, ``binlog_row_metadata=FULL``) and again after DDL,
the snapshot before it reads rows (``information_schema.COLUMNS``), the Kafka source on a topic's
first records, and ``kbgraph validate --check-source`` against a live database. Each problem is one
line naming the mapping file and line of the column:

    mappings/kb.yaml:12: column 'nmae' of rule 'person' is not in table kb.person (columns: id, name, …)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kbgraph.errors import SourceError
from kbgraph.mapping.validate import _columns_named, _rule_name, _rules, closest
from kbgraph.mapping.where import compile_where

if TYPE_CHECKING:
    from kbgraph.mapping.loader import LoadedFile
    from kbgraph.mapping.rules import CompiledMapping

TableId = tuple[str | None, str]
_SHOWN = 12  # columns listed in a message before "…"


@dataclass(frozen=True)
class Need:
    """One column one rule reads, and where the mapping names it."""

    column: str
    rule: str
    where: str  # "file:line"
    path: tuple[str | int, ...]  # the YAML key path (for the type check of `validate --check-source`)
    type: str | None = None  # declared `type:` of a property/key column, if any


def needs(files: Iterable[LoadedFile]) -> dict[TableId, list[Need]]:
    """Every column every rule names (keys, properties, endpoints, label/type columns, attribute name
    and value, where-expressions), per (schema, table), in file order."""
    out: dict[TableId, list[Need]] = {}
    for lf in files:
        schema = lf.model.source.schema_
        for base, rule in _rules(lf):
            name = _rule_name(rule)[0]
            found = out.setdefault((schema, rule.table), [])
            for shown, line_loc, col in _columns_named(base, rule):
                found.append(Need(col, name, f"{lf.path}:{lf.line_of(line_loc) or 1}", shown, _declared(rule, shown)))
            if rule.where:
                try:
                    cols = sorted(compile_where(rule.where).columns)
                except ValueError:
                    cols = []  # the loader reports an invalid where-expression
                line = lf.line_of(base + ("where",)) or 1
                found += [Need(c, name, f"{lf.path}:{line}", base + ("where",)) for c in cols]
    return out


def table_lines(files: Iterable[LoadedFile]) -> dict[TableId, str]:
    """``file:line`` of the first rule reading each (schema, table), at its ``table:`` key."""
    out: dict[TableId, str] = {}
    for lf in files:
        for base, rule in _rules(lf):
            out.setdefault((lf.model.source.schema_, rule.table), f"{lf.path}:{lf.line_of(base + ('table',)) or 1}")
    return out


def _declared(rule: Any, path: tuple[str | int, ...]) -> str | None:
    node: Any = rule
    for seg in path[2:]:
        if isinstance(seg, str) and isinstance(node, dict):
            node = node.get(seg)
        elif isinstance(seg, str):
            node = getattr(node, {"from": "from_", "to": "to"}.get(seg, seg), None)
        else:
            return None
        if node is None:
            return None
    t = getattr(node, "type", None)
    return t if isinstance(t, str) and t != "auto" else None


def needs_for(all_needs: dict[TableId, list[Need]], schema: str | None, table: str) -> list[Need]:
    """The needs of the rules that read ``schema.table`` (rules without a schema read it in any)."""
    if schema is None:
        return [n for (s, t), ns in all_needs.items() if t == table for n in ns]
    return all_needs.get((schema, table), []) + all_needs.get((None, table), [])


def missing(needs_of_table: Iterable[Need], schema: str | None, table: str, columns: Iterable[str]) -> list[str]:
    """One line per needed column the table lacks (each column of each rule once), else []."""
    have = list(columns)
    known = set(have)
    shown = ", ".join(have[:_SHOWN]) + (", …" if len(have) > _SHOWN else "")
    where = f"{schema}.{table}" if schema else table
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for n in sorted(needs_of_table, key=_by_line):
        if n.column in known or (n.rule, n.column) in seen:
            continue
        seen.add((n.rule, n.column))
        hint = closest(n.column, have)
        guess = f"; did you mean {hint!r}?" if hint else ""
        out.append(f"{n.where}: column {n.column!r} of rule {n.rule!r} is not in table {where} "
                   f"(columns: {shown}){guess}")
    return out


def _by_line(n: Need) -> tuple[str, int]:
    path, _, line = n.where.rpartition(":")
    return path, int(line) if line.isdigit() else 0


class ColumnCheck:
    """``check(schema, table, columns)`` raises ``SourceError`` (one line per missing column) when the
    mappings name a column of that table it lacks. Cheap to call per event: a table's column list is
    compared once until it changes."""

    def __init__(self, files: Iterable[LoadedFile]) -> None:
        self._needs = needs(files)
        self._ok: dict[TableId, tuple[str, ...]] = {}

    def problems(self, schema: str | None, table: str, columns: Iterable[str]) -> list[str]:
        return missing(needs_for(self._needs, schema, table), schema, table, columns)

    def __call__(self, schema: str | None, table: str, columns: Iterable[str]) -> None:
        cols = tuple(columns)
        if self._ok.get((schema, table)) == cols:
            return
        problems = self.problems(schema, table, cols)
        if problems:
            raise SourceError("\n".join(problems))
        self._ok[(schema, table)] = cols

    def forget(self, schema: str | None, table: str) -> None:
        """After DDL: check the table again the next time its columns are seen."""
        self._ok.pop((schema, table), None)


class FirstImages:
    """For sources whose records carry their own field names (Kafka, JSONL): the union of the row
    images' names over a table's first ``n`` records must hold every mapped column. A column absent
    from all of them is a mapping typo (or a column the producer never sends): the run stops with
    the mapping's ``file:line``. Once a table's images had every column, it is not looked at again
    (one dict lookup per change); a table with fewer than ``n`` records so far is not judged."""

    def __init__(self, check: ColumnCheck, n: int = 100) -> None:
        self.check, self.n = check, n
        self._done: set[TableId] = set()
        self._seen: dict[TableId, tuple[int, set[str]]] = {}

    def observe(self, schema: str | None, table: str, row: dict[str, Any] | None) -> None:
        key = (schema, table)
        if key in self._done or row is None:
            return
        count, names = self._seen.get(key, (0, set()))
        names |= row.keys()
        count += 1
        problems = self.check.problems(schema, table, sorted(names))
        if not problems:
            self._done.add(key)
            self._seen.pop(key, None)
            return
        if count >= self.n:
            raise SourceError("\n".join(f"{p} — absent from all of the first {count} records of the table"
                                        for p in problems))
        self._seen[key] = (count, names)


def first_images(mapping: CompiledMapping, n: int = 100) -> FirstImages | None:
    check = column_check(mapping)
    return FirstImages(check, n) if check is not None else None


def column_check(mapping: CompiledMapping) -> ColumnCheck | None:
    """The check for a compiled mapping (None for one built without files)."""
    files = mapping.files
    return ColumnCheck(files) if files else None
