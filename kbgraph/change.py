"""The one event every source produces and the pipeline consumes.

A source (JSONL file, binlog, Kafka) turns whatever it reads into ``Change`` objects, in source
order. ``position`` is a *fragment* of the source's checkpoint: the pipeline keeps the checkpoint
as a flat dict and applies each committed change's fragment with ``dict.update``. So a source
chooses its own keys: the JSONL source uses ``{"file": ..., "offset": ...}``, the binlog source
``{"gtid": ..., "file": ..., "pos": ..., "index": ...}``, the Kafka source one key per partition
(``{"kafka:topic:0": 1234}``) so that several workers can share one checkpoint.
Values must be JSON-able scalars, lists or dicts.

``position`` must be the point to resume *after* this change: a source that is handed back the
merged checkpoint resumes with the change that follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["insert", "update", "delete", "truncate", "position"]
OPS: tuple[str, ...] = ("insert", "update", "delete", "truncate")  # truncate: every row of the table is gone (before = after = None)


@dataclass(slots=True)
class Change:
    table: str
    op: Op
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    position: dict[str, Any] = field(default_factory=dict)
    schema: str | None = None  # source database / schema; None matches any mapping schema
    tx: str | None = None  # source transaction id (GTID, xid, ...); None = its own transaction
    tx_end: bool = True  # the last change of its source transaction
    ts_ms: int | None = None  # commit time at the source, for lag
    meta: dict[str, Any] | None = None  # source-specific (e.g. Kafka coordinates, raw bytes) for dead letters

    def describe(self) -> str:
        """A short, log-safe description naming the event (table, op, position)."""
        where = f"{self.schema}.{self.table}" if self.schema else self.table
        return f"{self.op} on {where} at {self.position}"

    @classmethod
    def position_only(cls, position: dict[str, Any], **meta: Any) -> Change:
        """A change with no rows: it only moves the checkpoint (a tombstone, a skipped record)."""
        return cls("", "position", None, None, position=position, meta=meta or None)

    @property
    def row(self) -> dict[str, Any] | None:
        """The row image that identifies the change: after for insert/update, before for delete."""
        return self.before if self.op == "delete" else self.after
