"""Values the graph cannot represent, counted per ``schema.table.column`` and logged once.

MySQL / MariaDB accept dates no calendar has: the zero date ``0000-00-00``, partial dates such as
``0701-00-00`` or ``2024-05-00``, the zero DATETIME ``0000-00-00 00:00:00`` and the zero TIMESTAMP.
Neither Python nor Neo4j has such a date; the binlog and the snapshot give NULL for them (the
property is absent in the graph), the same in both so they converge. So that this is never a
silent gap, each source counts what it turned into NULL, logs the first one of each column once
per run, and the counts reach the progress line, the final summary and the metric
``kbgraph_unrepresentable_values_total{column=…}``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Unrepresentable:
    """Counts per column. ``add`` is called by a source's reader thread; ``counts`` read by others."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, where: str, column: str, value: Any = None) -> None:
        key = f"{where}.{column}"
        with self._lock:
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
        if n == 0:
            shown = "" if value is None else f" {_show(value)}"
            log.warning("%s: value%s cannot be represented in the graph and is written as NULL "
                        "(zero or partial date); counted per column, logged once", key, shown)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    @property
    def total(self) -> int:
        return sum(self.snapshot().values())

    def summary(self) -> str:
        """``kb.person.born_on 3, kb.event.at 1`` (largest first), or ''."""
        items = sorted(self.snapshot().items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{k} {n:,}" for k, n in items)


def _show(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    return repr(str(value)[:40])
