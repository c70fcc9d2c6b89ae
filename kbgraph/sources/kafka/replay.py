"""Records a Debezium connector writes twice: found by their source position, per partition.

Debezium delivers at least once: a connector restarted without its last offset writes again, at
new Kafka offsets, records it had written before. Re-applying them is not harmless — a key change
replayed after the old key was used again would move the new row — so a streamed record whose
source position (server, file, pos, row; ``order.replay_key``) is behind the last one read from
its partition, and was committed at the source no later (``ts_ms``), is a replay. Inside one
partition the connector writes in source order, so this does not mistake a new record for an old
one. Positions of another server (a failover, a new connector) are not comparable, and such a
record is taken and becomes the one to compare with; so is a record behind in position but
committed later — the binlog was reset (``RESET MASTER``) and numbers its files from 1 again.

The last position applied is kept in the graph checkpoint under ``source_key`` of the partition,
so a replay that arrives after kbgraph restarted is caught too.
"""

from __future__ import annotations

import logging
from typing import Any

from kbgraph.sources.kafka.order import binlog_order

log = logging.getLogger(__name__)


def source_key(key: str) -> str:
    """The checkpoint key of the source position last applied from a partition (``key`` is its offset's)."""
    return f"{key}@source"


class ReplayGuard:
    """Counts the replays it finds in ``counts["replayed"]`` (the source's counts: one counter)."""

    def __init__(self, counts: dict[str, int]) -> None:
        # partition -> (source position of the last streamed record read, its binlog_order)
        self._at: dict[Any, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
        self.counts = counts
        counts.setdefault("replayed", 0)

    def load(self, tp: Any, value: Any) -> None:
        """Seed a partition from its checkpoint value (``source_key``), on assignment."""
        if isinstance(value, list) and len(value) in (4, 5):
            at = (*value, None) if len(value) == 4 else tuple(value)
            self._at[tp] = (at, binlog_order(at[1:4]))

    def forget(self, tp: Any) -> None:
        self._at.pop(tp, None)

    def is_replay(self, tp: Any, rec: Any, at: tuple[Any, ...]) -> bool:
        """True when the record at ``at`` is behind the last one read from ``tp``; else it becomes the last."""
        order = binlog_order(at[1:4])
        seen = self._at.get(tp)
        if seen is None or seen[0][0] != at[0] or order >= seen[1] or (
                at[4] is not None and seen[0][4] is not None and at[4] > seen[0][4]):
            self._at[tp] = (at, order)
            return False
        last = seen[0]
        n = self.counts["replayed"] = self.counts["replayed"] + 1
        if n == 1 or n % 10_000 == 0:
            log.warning("kafka: %s[%d]@%d is a replay (source position %s:%s row %s is behind %s:%s row %s, read "
                        "before); skipped (%d so far)", rec.topic, rec.partition, rec.offset, *at[1:4], *last[1:4], n)
        return True
