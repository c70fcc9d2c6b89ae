"""Joining Debezium's three records of a primary-key change back into one update.

Debezium (and ``kbgraph publish``) write an update that changes the primary key as a delete of
the old key (header ``__debezium.newkey``), a tombstone of the old key, and a create of the new key
(header ``__debezium.oldkey``). Applied as such, the graph deletes the node and creates another,
losing its relationships; the binlog source gives one update, which re-keys the node. When the
three records sit together in one partition (one topic with one partition, or both keys hashed to
the same partition) they are joined back into that update. A delete whose create does not follow in
its partition is applied alone: as soon as another record of that partition arrives, or after
``HOLD_S`` without one.
"""

from __future__ import annotations

import time
from typing import Any

from kbgraph.change import Change
from kbgraph.debezium.envelope import NEW_KEY, OLD_KEY
from kbgraph.sources.kafka.message import TOMBSTONE

HOLD_S = 1.0  # how long the delete of a key change waits for its create in the same partition
ABSORBED: Any = object()  # join(): the record was the key change's tombstone


def header(rec: Any, name: str) -> bytes | None:
    for k, v in rec.headers or ():
        if k == name:
            return v if v is not None else b""
    return None


def starts_key_change(change: Change, rec: Any) -> bool:
    return change.op == "delete" and header(rec, NEW_KEY) is not None


class KeyChanges:
    """Per partition, the held delete of a key change (already stamped with its own position)."""

    def __init__(self) -> None:
        self.held: dict[Any, tuple[Change, float]] = {}

    def __contains__(self, tp: Any) -> bool:
        return tp in self.held

    def __bool__(self) -> bool:
        return bool(self.held)

    def hold(self, tp: Any, change: Change) -> None:
        self.held[tp] = (change, time.monotonic())

    def join(self, tp: Any, rec: Any, decoded: Any) -> Any:
        """With a delete held for ``tp``: ABSORBED (its tombstone), the joined update, or None (no match)."""
        held, _ = self.held[tp]
        held_rec = held.meta.get("record") if held.meta else None
        if decoded.kind == TOMBSTONE and held_rec is not None and rec.key == held_rec.key:
            return ABSORBED
        changes = decoded.changes
        if (len(changes) == 1 and changes[0].op == "insert" and header(rec, OLD_KEY) is not None
                and (changes[0].schema, changes[0].table) == (held.schema, held.table)):
            c = changes[0]
            del self.held[tp]
            return Change(c.table, "update", held.before, c.after, schema=c.schema, ts_ms=c.ts_ms, meta=c.meta)
        return None

    def release(self, tp: Any) -> Change | None:
        """The held delete of ``tp`` (its create did not follow): a delete after all."""
        entry = self.held.pop(tp, None)
        return entry[0] if entry else None

    def expired(self) -> list[Any]:
        now = time.monotonic()
        return [tp for tp, (_, at) in self.held.items() if now - at > HOLD_S]

    def forget(self, tp: Any) -> None:
        self.held.pop(tp, None)
