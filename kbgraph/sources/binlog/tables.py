"""Which (schema, table) pairs the mappings read, and the filters the binlog reader derives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping


class MappedTables:
    """The tables a stream must deliver. A pair with schema None matches the table in any schema."""

    def __init__(
        self,
        pairs: Iterable[tuple[str | None, str]],
        columns: Callable[[str | None, str], set[str]] | None = None,
        check: Callable[[str | None, str, Any], None] | None = None,
    ) -> None:
        # check(schema, table, column names): raises SourceError naming the mapping's file:line for
        # each mapped column the table lacks (kbgraph.mapping.source_columns)
        self.check = check
        self.pairs = sorted(set(pairs), key=lambda p: (p[0] or "", p[1]))
        self._columns = columns
        self._exact: set[tuple[str, str]] = {(s, t) for s, t in self.pairs if s is not None}
        self._any = {t for s, t in self.pairs if s is None}
        self._cache: dict[tuple[str, str], bool] = {}

    @classmethod
    def from_mapping(cls, mapping: CompiledMapping) -> MappedTables:
        from kbgraph.mapping.source_columns import column_check

        return cls(mapping.tables(), mapping.columns, column_check(mapping))

    def check_columns(self, schema: str | None, table: str, columns: Any) -> None:
        """Stop (SourceError) when the mappings name a column ``schema.table`` does not have."""
        if self.check is not None:
            self.check(schema, table, columns)

    def matches(self, schema: str, table: str) -> bool:
        key = (schema, table)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = key in self._exact or table in self._any
        return hit

    def matching(self, schema: str | None, table: str) -> list[tuple[str | None, str]]:
        """The mapping pairs a table touched by a statement belongs to."""
        return [p for p in self.pairs if p[1] == table and (p[0] is None or schema is None or p[0] == schema)]

    def columns(self, schema: str | None, table: str) -> set[str] | None:
        """Columns the rules of this table use; None when unknown (then any column counts)."""
        if self._columns is None:
            return None
        out: set[str] = set()
        for pair in self.matching(schema, table):
            out |= set(self._columns(pair[0], pair[1]))
        return out

    def names(self) -> set[str]:
        return {t for _, t in self.pairs}

    def schemas(self) -> set[str | None]:
        return {s for s, _ in self.pairs}

    def only_schemas(self) -> list[str] | None:
        """For mysql-replication: None when some table is mapped in any schema."""
        return None if self._any else sorted({s for s, _ in self._exact})

    def only_tables(self) -> list[str]:
        # the library matches bare names in every schema: always paired with only_schemas
        # (or our own matches() check) so a same-named table elsewhere is not delivered
        return sorted(self.names())
