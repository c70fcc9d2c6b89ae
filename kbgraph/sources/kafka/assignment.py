"""The partitions a ``KafkaSource`` owns: seeking them to the graph checkpoint on assignment,
flushing them to the graph on revoke, and committing their graph checkpoint to Kafka (for lag
tools only). The rebalance listener (``rebalance.py``) calls the public methods here.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kbgraph.errors import SourceError
from kbgraph.sources import SourceContext
from kbgraph.sources.kafka.formats import partition_key
from kbgraph.sources.kafka.keychange import KeyChanges
from kbgraph.sources.kafka.merge import OrderedMerge
from kbgraph.sources.kafka.replay import ReplayGuard, source_key

log = logging.getLogger("kbgraph.sources.kafka.consumer")  # the source's log lines, as before the split


class Partitions:
    """Mixed into ``KafkaSource``, which sets these attributes in its ``__init__``."""

    consumer: Any
    counts: dict[str, int]
    _ctx: SourceContext | None
    _closing: bool
    _lock: threading.Lock
    _latest: dict[str, Any]
    _owned: set[Any]
    _yielded: dict[Any, Any]
    _skip: dict[Any, tuple[int, int]]
    _kafka_committed: dict[Any, int]
    _keys: KeyChanges
    _replays: ReplayGuard
    _merge: OrderedMerge
    _clock: float
    _listener_error: BaseException | None

    def _commit_to_kafka(self, sync: bool = False, only: set[Any] | None = None, again: bool = False) -> None:
        """Commit the graph checkpoint of owned partitions to Kafka (for lag tools).

        ``again``: also offsets sent before, whose asynchronous commit may have failed (at close)."""
        with self._lock:
            position = self._latest
        if not position or self.consumer is None:
            return
        from kafka.structs import OffsetAndMetadata

        offsets = {}
        for tp in only if only is not None else self._owned:
            if tp not in self._yielded:
                continue  # nothing read since assignment: the value may be another worker's
            v = position.get(partition_key(tp.topic, tp.partition))
            off = v if isinstance(v, int) else v[0] if isinstance(v, list) and v else None
            if off is not None and (again or self._kafka_committed.get(tp) != off):
                offsets[tp] = OffsetAndMetadata(off, "", -1)
        if not offsets:
            return
        try:
            if sync:
                self.consumer.commit(offsets)
            else:
                self.consumer.commit_async(offsets, callback=self._commit_failed)
            self._kafka_committed.update({tp: o.offset for tp, o in offsets.items()})
        except Exception as e:  # noqa: BLE001 - the graph holds the truth; Kafka offsets are for lag tools
            log.warning("kafka: committing offsets to Kafka failed (the graph checkpoint is intact): %s", e)

    def _commit_failed(self, offsets: Any, result: Any) -> None:
        """commit_async's callback (IO thread): forget a failed commit, so that it is sent again."""
        if isinstance(result, Exception):
            for tp, o in offsets.items():
                if self._kafka_committed.get(tp) == o.offset:
                    self._kafka_committed.pop(tp, None)
            log.debug("kafka: committing offsets to Kafka failed, will retry: %s", result)

    # -- rebalance (called by the listener, rebalance.py) -----------------------------------------
    def listener_failed(self, error: BaseException) -> None:
        """kafka-python logs and wraps a listener's exception: the original is raised from ``changes()``."""
        self._listener_error = error

    def partitions_assigned(self, partitions: list[Any]) -> None:
        """Seek each partition to its graph checkpoint (from the start when the graph has none)."""
        assert self._ctx is not None
        cp = self._ctx.checkpoint()
        for tp in partitions:
            v = cp.get(partition_key(tp.topic, tp.partition))
            if isinstance(v, int):
                self.consumer.seek(tp, v)
            elif isinstance(v, list) and len(v) == 2:
                self.consumer.seek(tp, int(v[0]))
                self._skip[tp] = (int(v[0]), int(v[1]))
            elif v is None:
                self.consumer.seek_to_beginning(tp)
            else:
                raise SourceError(f"checkpoint value {v!r} of {tp.topic}[{tp.partition}] is not a Kafka position")
            self._replays.load(tp, cp.get(source_key(partition_key(tp.topic, tp.partition))))
            self._owned.add(tp)
        self._merge.assign(partitions, self._clock)
        log.info("kafka: assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{cp.get(partition_key(tp.topic, tp.partition), 'start')}" for tp in partitions) or "nothing")

    def partitions_revoked(self, partitions: list[Any]) -> None:
        """Flush every change read from them to the graph, then give them up."""
        assert self._ctx is not None
        revoked = set(partitions) & self._owned
        if revoked and not self._closing:
            self.counts["revoked"] += len(revoked)
            self._ctx.flush()  # every change read from them is in the graph, with its position
            self._commit_to_kafka(only=revoked)  # async: the client's IO loop is busy rebalancing
        self._forget(partitions)
        log.info("kafka: revoked %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing")

    def partitions_lost(self, partitions: list[Any]) -> None:
        """The group moved on without us (session expired): forget them, write nothing for them."""
        self._forget(partitions)
        log.warning("kafka: lost %s (session expired); changes of them already read may still be written, "
                    "the new owner re-reads from the graph checkpoint", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    def _forget(self, partitions: list[Any]) -> None:
        """What was buffered or held for them was never yielded: the next owner reads it again."""
        self._merge.revoke(partitions)
        for tp in partitions:
            self._owned.discard(tp)
            self._yielded.pop(tp, None)
            self._replays.forget(tp)
            self._skip.pop(tp, None)
            self._keys.forget(tp)
            self._kafka_committed.pop(tp, None)
