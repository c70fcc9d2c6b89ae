"""A source over changes already in memory: for tests, and for loading rows from scratch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kbgraph.change import Change


class ListSource:
    """Yields the given changes, resuming after the one whose position says ``{"seq": n}``.

    Each change gets position ``{"seq": i + 1}`` (its index + 1), so a resumed run skips exactly
    the changes already committed.
    """

    def __init__(self, changes: Iterable[Change], key: str = "seq") -> None:
        self.items = list(changes)
        self.key = key
        for i, c in enumerate(self.items):
            c.position = {key: i + 1}
        self.committed_positions: list[dict[str, Any]] = []

    def changes(self, start: dict[str, Any], ctx: Any) -> Iterator[Change]:
        for c in self.items[int(start.get(self.key, 0)):]:
            if ctx.stopping.is_set():
                return
            yield c

    def committed(self, position: dict[str, Any]) -> None:
        self.committed_positions.append(position)

    def close(self) -> None:
        pass


def rows_as_inserts(tables: dict[tuple[str | None, str], Iterable[dict[str, Any]]]) -> list[Change]:
    """Insert changes for current rows (e.g. the final state to compare a stream against)."""
    return [Change(table, "insert", None, dict(row), schema=schema)
            for (schema, table), rows in tables.items() for row in rows]
