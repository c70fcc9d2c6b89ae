"""An ordered merge of several partitions by source position, with a watermark; pure, no I/O.

Debezium writes a topic per table, and Kafka keeps order only inside a partition: a relation
inserted after a key change can reach the consumer before the key change. Records that carry their
source position (Debezium's and ``publish``'s ``source`` block: binlog file, position, row) are
released smallest position first: a buffered record goes out only when every other assigned
partition either has a record buffered too (so nothing smaller can still come from it) or has been
idle for ``wait_s`` — measured from the later of its last record and the candidate's arrival, so a
partition that says nothing delays the others by at most ``wait_s``.

Items without a position (other formats, tombstones, position-only markers) pass at once, in their
partition's order; a partition of another format (no positions at all) never holds the others up.
Order inside a partition is always kept, so each partition's checkpoint (the offset after its
last *released* record) never passes a record that was not yet handed on.

``now`` is whatever clock the caller keeps (the source counts only time spent waiting for Kafka,
so that a reader held up by a slow graph does not take partitions for idle); tests pass numbers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

DEFAULT_WAIT_MS = 300


class _Entry:
    __slots__ = ("arrived", "item", "key")

    def __init__(self, key: Any, arrived: float, item: Any) -> None:
        self.key = key
        self.arrived = arrived
        self.item = item


class OrderedMerge:
    def __init__(self, wait_s: float = DEFAULT_WAIT_MS / 1000) -> None:
        self.wait = wait_s
        self._queues: dict[Any, deque[_Entry]] = {}
        self._last: dict[Any, float] = {}  # arrival of the partition's last item (or its assignment)
        self._rank: dict[Any, int] = {}  # tie-break between equal positions: assignment order
        self._ordered: set[Any] = set()  # partitions that delivered a positioned record
        self._unordered: set[Any] = set()  # partitions that delivered records, none positioned
        self._held: dict[Any, Any] = {}  # partition -> position of a record its source holds back (not pushed yet)
        self._n = 0

    # -- partitions ------------------------------------------------------------------------------
    def assign(self, parts: Iterable[Any], now: float) -> None:
        for p in parts:
            if p not in self._queues:
                self._queues[p] = deque()
                self._rank[p] = self._n
                self._n += 1
            self._last[p] = now  # nothing seen yet: it may hold anything, so it holds the others up to wait

    def revoke(self, parts: Iterable[Any]) -> int:
        """Forget partitions and drop what they had buffered (never handed on: the next owner reads it again)."""
        dropped = 0
        for p in parts:
            q = self._queues.pop(p, None)
            dropped += len(q) if q else 0
            for d in (self._last, self._rank):
                d.pop(p, None)
            self._ordered.discard(p)
            self._unordered.discard(p)
            self._held.pop(p, None)
        return dropped

    def hold(self, part: Any, key: Any) -> None:
        """``part`` has read a record at ``key`` that it will push later (a key change's delete waiting
        for its create): until ``unhold``, nothing after ``key`` passes it (the hold is the source's to bound)."""
        if key is not None:
            self._held[part] = key

    def unhold(self, part: Any) -> None:
        self._held.pop(part, None)

    # -- items -----------------------------------------------------------------------------------
    def push(self, part: Any, key: Any, item: Any, now: float, orderable: bool = True) -> None:
        """Buffer ``item`` of ``part``; ``key`` is its comparable source position or None.

        ``orderable=False``: the partition's records never carry a position (another format), so
        while it has nothing buffered it holds nobody up."""
        q = self._queues.get(part)
        if q is None:
            self.assign([part], now)
            q = self._queues[part]
        q.append(_Entry(key, now, item))
        self._last[part] = now
        if key is not None:
            self._ordered.add(part)
            self._unordered.discard(part)
        elif not orderable and part not in self._ordered:
            self._unordered.add(part)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def release(self, now: float) -> list[Any]:
        """Every item that may go out now, in merged order."""
        out: list[Any] = []
        queues = self._queues
        if len(queues) <= 1:
            for q in queues.values():
                out.extend(e.item for e in q)
                q.clear()
            return out
        while True:
            for q in queues.values():  # items without a position pass in their partition's order
                while q and q[0].key is None:
                    out.append(q.popleft().item)
            best = self._smallest()
            if best is None or self._blocked_until(best, now) > now:
                return out
            out.append(queues[best].popleft().item)

    def deadline(self) -> float | None:
        """When the smallest buffered item may go out if nothing arrives meanwhile (None: nothing waits)."""
        best = self._smallest()
        if best is None:
            return None
        until = self._blocked_until(best, float("-inf"))
        return None if until in (float("-inf"), float("inf")) else until

    # -- internals -------------------------------------------------------------------------------
    def _smallest(self) -> Any:
        best, best_sort = None, None
        for p, q in self._queues.items():
            if q:
                sort = (q[0].key, self._rank[p])
                if best_sort is None or sort < best_sort:
                    best, best_sort = p, sort
        return best

    def _blocked_until(self, best: Any, now: float) -> float:
        """The time before which the head of ``best`` must wait for the empty partitions."""
        head = self._queues[best][0]
        until = now
        for p, q in self._queues.items():
            if q or p == best or p in self._unordered:
                continue
            held = self._held.get(p)
            if held is not None:
                if held < head.key:
                    return float("inf")
                continue  # it holds a record after this one: nothing smaller can come from it
            until = max(until, max(self._last[p], head.arrived) + self.wait)
        return until
