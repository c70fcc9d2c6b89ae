"""A source over changes already in memory: for tests, and for loading rows from scratch."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from kbgraph.change import Change
from kbgraph.sources import BaseSource, SourceContext


class ListSource(BaseSource):
    """Yields the given changes, resuming after the one whose position says ``{"seq": n}``.

    Each change is yielded as a copy with position ``{"seq": i + 1}`` (its index + 1), so a resumed
    run skips exactly the changes already committed; the caller's changes are left as they are.
    ``reported`` holds ``(change, reason)`` of each dead letter the writer reported.
    """

    def __init__(self, changes: Iterable[Change], key: str = "seq") -> None:
        self.key = key
        self.items = [dataclasses.replace(c, position={key: i + 1}) for i, c in enumerate(changes)]
        self.committed_positions: list[dict[str, Any]] = []
        self.reported: list[tuple[Change, str]] = []

    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        for c in self.items[int(start.get(self.key, 0)):]:
            if ctx.stopping.is_set():
                return
            yield c

    def committed(self, position: dict[str, Any]) -> None:
        self.committed_positions.append(position)

    def report(self, change: Change, reason: str) -> None:
        self.reported.append((change, reason))


def rows_as_inserts(tables: dict[tuple[str | None, str], Iterable[dict[str, Any]]]) -> list[Change]:
    """Insert changes for current rows (e.g. the final state to compare a stream against)."""
    return [Change(table, "insert", None, dict(row), schema=schema)
            for (schema, table), rows in tables.items() for row in rows]
