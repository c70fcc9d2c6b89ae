"""``KafkaSource``: change envelopes read in a consumer group, positions kept in the graph.

Several kbgraph processes with the same group (and the same pipeline name) split the partitions;
each writes the graph checkpoint keys of its own partitions only. The graph checkpoint is the
truth: on assignment every partition is sought to it (from the start when the graph has none), so a
crash or a rebalance neither loses nor doubles a change. Offsets are also committed to Kafka after
each graph commit, for lag tools only.

On revoke, every change read so far is flushed to the graph (with its position) before the
partitions are given up (``assignment.py``: seeking, revoking, offsets to Kafka). A record that
cannot be decoded goes to the dead-letter topic and consumption continues (or, with
``on_error="stop"``, the run stops at the checkpoint before it); a change the mapping or the graph
rejects goes there too, through ``report()``, once its dead letter is committed in the graph.

A primary-key change that Debezium wrote as delete, tombstone and create is joined back into one
update when the three sit together in a partition (``keychange.py``).

Records a Debezium connector wrote twice (it delivers at least once) are skipped by their source
position, counted as ``replayed`` and logged (``replay.py``).

Records that yield no change (tombstones, DDL, heartbeats, tables no rule maps) are counted and
logged; when the last records of a poll for a partition are such records, a position-only change
(empty table name, no rows, see ``position_marker``) moves the checkpoint past them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from kbgraph.change import Change
from kbgraph.errors import ChangeError, SourceError, StopAtCheckpoint
from kbgraph.mapping.source_columns import first_images
from kbgraph.sources import BaseSource, SourceContext
from kbgraph.sources.kafka.assignment import Partitions
from kbgraph.sources.kafka.brokers import BrokerWatch, is_connection_error
from kbgraph.sources.kafka.dlq import DeadLetters
from kbgraph.sources.kafka.formats import Router, partition_key, stamp
from kbgraph.sources.kafka.keychange import ABSORBED, KeyChanges, starts_key_change
from kbgraph.sources.kafka.merge import DEFAULT_WAIT_MS, OrderedMerge
from kbgraph.sources.kafka.message import DDL, TOMBSTONE, DecodeError
from kbgraph.sources.kafka.order import record_position, replay_key
from kbgraph.sources.kafka.rebalance import make_listener
from kbgraph.sources.kafka.replay import ReplayGuard, source_key
from kbgraph.sources.kafka.topics import TopicWatch

log = logging.getLogger(__name__)

DEFAULT_CONSUMER = {
    "auto_offset_reset": "earliest",  # only used when a sought offset is gone (retention)
    "max_poll_records": 2000,
    # Partitions and topics added after the join reach the group at the leader's next metadata
    # refresh (Kafka's default: 5 minutes). A short period also bounds a metadata update the client
    # can lose while another request is in flight, which at the first join leaves a group with no
    # partitions until the next refresh.
    "metadata_max_age_ms": 5000,
    "allow_auto_create_topics": False,  # a topic is the producer's to create (topics.py)
}


def _source_of(changes: list[Change]) -> dict[str, Any] | None:
    """The ``source`` block the Debezium decoder kept with a record's change, if any."""
    meta = changes[0].meta
    return meta.get("source") if meta else None


def position_marker(position: dict[str, Any]) -> Change:
    """A change that only moves the checkpoint: no table, no rows, so no rule maps it."""
    return Change.position_only(position, position_only=True)


class KafkaSource(Partitions, BaseSource):
    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[str, str],
        *,
        group: str = "kbgraph",
        default_format: str = "auto",
        dlq_topic: str | None = None,
        on_error: str = "dead_letter",
        mapped: Any = None,
        consumer_options: Mapping[str, Any] | None = None,
        producer_options: Mapping[str, Any] | None = None,
        merge_wait_ms: int = DEFAULT_WAIT_MS,
        outage_max_s: float | None = None,
    ) -> None:
        if not topics:
            raise SourceError("the kafka source needs at least one topic (kafka_topics)")
        self.bootstrap = bootstrap
        self.topics = dict(topics)
        self.group = group
        self.on_error = on_error
        self.router = Router(self.topics, default_format, mapped)
        self.dlq = DeadLetters(bootstrap, dlq_topic or f"{group}.dlq", producer_options)
        self.consumer_options = {**DEFAULT_CONSUMER, **(consumer_options or {})}
        self._mapped = mapped  # a Mapping (rules_for) or None to pass every table on
        # a mapped column absent from a table's first records stops the run (a typo would be silent)
        self._images = first_images(mapped) if mapped is not None else None
        self._is_mapped: dict[tuple[str | None, str], bool] = {}
        self.consumer: Any = None
        self.counts = {"records": 0, "changes": 0, "tombstones": 0, "control": 0, "ddl": 0, "unmapped": 0, "dead_letters": 0,
                       "revoked": 0, "replayed": 0}
        self.dead_by_kind: dict[str, int] = {}  # dead letters the source itself sent (records that do not decode)
        self._lettered: dict[tuple[str, int, int, int | None], None] = {}  # dead letters sent (a row reported twice is sent once)
        self._owned: set[Any] = set()  # TopicPartitions assigned now
        self._skip: dict[Any, tuple[int, int]] = {}  # tp -> (offset, rows already committed of that record)
        self._keys = KeyChanges()  # the delete of a key change, per partition, until its create arrives
        self._yielded: dict[Any, Any] = {}  # tp -> last position value yielded since assignment
        self._replays = ReplayGuard(self.counts)  # counts["replayed"]
        self._latest: dict[str, Any] = {}  # latest merged checkpoint from committed()
        self._listener_error: BaseException | None = None
        self._kafka_committed: dict[Any, int] = {}
        self._watch: TopicWatch | None = None
        self._merge = OrderedMerge(merge_wait_ms / 1000)  # owned partitions back in source order
        self._clock = 0.0  # seconds spent waiting in poll(): the merge's idea of a partition being idle
        self._lock = threading.Lock()
        self._ctx: SourceContext | None = None
        self._closing = False  # close() revokes too: the pipeline has written all it will by then
        self.outage_max_s = outage_max_s  # give up when no broker answers this long (None: wait forever)

    # -- Source protocol -----------------------------------------------------------------------
    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        self._ctx = ctx
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=self.group,
                enable_auto_commit=False,
                client_id=f"kbgraph-{self.group}",
                **self.consumer_options,
            )
            # fresh metadata of every topic before the join, so that the first assignment has them
            self._watch = TopicWatch(self.topics, self.consumer.topics)
            self._watch.check()
            self._subscribe()
        except KafkaError as e:
            raise SourceError(f"cannot reach Kafka at {self.bootstrap} ({type(e).__name__}: {e})") from None
        brokers = BrokerWatch(self.bootstrap, self.outage_max_s, ctx)
        while not ctx.stopping.is_set():
            try:
                if self._watch.check():
                    self._subscribe()  # a changed subscription rejoins the group
                if not self.consumer.subscription():
                    ctx.stopping.wait(0.2)  # none of the topics exists yet
                    continue
                self._commit_to_kafka()
                started = time.monotonic()
                batch = self.consumer.poll(timeout_ms=self._poll_ms())
                self._clock += time.monotonic() - started
            except KafkaError as e:
                if self._listener_error is not None:
                    raise self._listener_error from None
                if not is_connection_error(e):
                    raise SourceError(f"Kafka consumer failed ({type(e).__name__}: {e})") from None
                brokers.down()  # a metadata or commit request met the outage: wait it out like poll does
                ctx.stopping.wait(0.2)
                continue
            if self._listener_error is not None:
                raise self._listener_error
            brokers.check(self.consumer)
            try:
                for tp, records in batch.items():
                    if tp in self._owned:
                        self._buffer(tp, self._partition_changes(tp, records))
            except StopAtCheckpoint:
                yield from self._merge.release(self._clock)  # what may go out now is applied before the stop
                raise
            for tp in self._keys.expired():  # a key change whose create went to another partition
                self._buffer(tp, self._release(tp))
            for change in self._merge.release(self._clock):
                if self._images is not None:
                    self._images.observe(change.schema, change.table, change.after or change.before)
                yield change
                if ctx.stopping.is_set():
                    return  # what is still buffered was not handed on: read again from the checkpoint

    def _poll_ms(self) -> int:
        """Up to 200 ms, less when a buffered record may go out sooner."""
        due = self._merge.deadline()
        if due is None:
            return 200
        return max(0, min(200, int((due - self._clock) * 1000) + 1))

    def _buffer(self, tp: Any, changes: Iterator[Change]) -> None:
        """Into the merge, with their source position."""
        orderable = self.router.format_of(tp.topic) in (None, "debezium")
        for c in changes:
            self._merge.push(tp, self._position(c), c, self._clock, orderable)

    def _position(self, change: Change) -> Any:
        """The source position of a change's record, when this worker owns more than one partition."""
        if len(self._owned) < 2 or not change.meta:
            return None
        rec = change.meta.get("record")
        return None if rec is None else record_position(change.meta.get("format"), rec, change.meta.get("source"))

    def _subscribe(self) -> None:
        """Subscribe to the topics that exist (the consumer never asks for one that does not)."""
        assert self._watch is not None
        topics = [t for t in self.topics if t not in self._watch.missing]
        if topics:
            self.consumer.subscribe(topics, listener=make_listener(self, self.consumer))
            log.info("kafka: group %s subscribed to %s", self.group, ", ".join(topics))

    def _partition_changes(self, tp: Any, records: list[Any]) -> Iterator[Change]:
        route = self.router.decode
        key = partition_key(tp.topic, tp.partition)
        counts = self.counts
        pending_end: int | None = None  # offset + 1 of trailing records that yielded nothing
        for rec in records:
            counts["records"] += 1
            try:
                decoded = route(rec)
            except DecodeError as e:
                yield from self._release(tp)
                self._reject(rec, str(e))
                pending_end = rec.offset + 1
                continue
            at = replay_key(self.router.format_of(tp.topic), rec, _source_of(decoded.changes)) if decoded.changes else None
            if at is not None and self._replays.is_replay(tp, rec, at):
                pending_end = rec.offset + 1
                continue
            changes = decoded.changes
            if tp in self._keys:
                joined = self._keys.join(tp, rec, decoded)
                if joined is ABSORBED:
                    counts["tombstones"] += 1
                    continue
                if joined is not None:
                    self._merge.unhold(tp)
                    changes = [joined]
                else:
                    yield from self._release(tp)
            if changes:
                first = changes[0]
                if not self._wanted(first.schema, first.table):
                    counts["unmapped"] += len(changes)
                    pending_end = rec.offset + 1
                    continue
                skip = 0
                if self._skip:
                    s = self._skip.pop(tp, None)
                    if s is not None and s[0] == rec.offset:
                        skip = s[1]
                changes = stamp(changes, rec, self.router.format_of(rec.topic), skip)
                if at is not None and changes:
                    changes[-1].position[source_key(key)] = list(at)
                if len(changes) == 1 and starts_key_change(changes[0], rec):
                    self._keys.hold(tp, changes[0])  # wait for its create (Debezium's three records)
                    self._merge.hold(tp, self._position(changes[0]))  # and nothing after it passes meanwhile
                    pending_end = None
                    continue
                counts["changes"] += len(changes)
                pending_end = None
                self._yielded[tp] = rec.offset + 1
                yield from changes
            else:
                self._note(decoded, rec)
                pending_end = rec.offset + 1
        if pending_end is not None and tp not in self._keys:
            self._yielded[tp] = pending_end
            yield position_marker({key: pending_end})

    def _release(self, tp: Any) -> Iterator[Change]:
        held = self._keys.release(tp)
        self._merge.unhold(tp)
        if held is not None:
            self.counts["changes"] += 1
            self._yielded[tp] = held.meta["offset"] + 1  # type: ignore[index]
            yield held

    def committed(self, position: dict[str, Any]) -> None:
        """Called by the writer after each graph commit; the reader thread commits to Kafka."""
        with self._lock:
            self._latest = position

    def report(self, change: Change, reason: str) -> None:
        """A change the mapping or the graph rejected, once its dead letter is in the graph: to the topic."""
        meta = change.meta or {}
        rec = meta.get("record")
        if rec is None:
            raise SourceError(f"dead letter for {change.describe()} has no Kafka record: {reason}")
        row = None
        if change.tx is not None:
            pos = change.position.get(partition_key(rec.topic, rec.partition))
            row = pos[1] - 1 if isinstance(pos, list) else None
        ident = (rec.topic, rec.partition, rec.offset, row)
        if ident in self._lettered:
            return  # the same row reported again (the writer reports each dead letter once per commit)
        self.dlq.send(rec, reason, "map", meta.get("format"), row)
        self._lettered[ident] = None
        if len(self._lettered) > 10_000:
            self._lettered.pop(next(iter(self._lettered)))
        self.counts["dead_letters"] += 1

    def close(self) -> None:
        self._closing = True
        try:
            if self.consumer is not None:
                self._commit_to_kafka(sync=True, again=True)
                self.consumer.close(autocommit=False, timeout_ms=10_000)
        except Exception as e:  # noqa: BLE001 - closing must not hide the run's own outcome
            log.warning("kafka: closing the consumer failed: %s", e)
        finally:
            self.consumer = None
            self.dlq.close()

    # -- internals -----------------------------------------------------------------------------
    def _wanted(self, schema: str | None, table: str) -> bool:
        if self._mapped is None:
            return True
        tid = (schema, table)
        ok = self._is_mapped.get(tid)
        if ok is None:
            try:
                ok = bool(self._mapped.rules_for(schema, table))
            except ChangeError:
                ok = True  # ambiguous: let the pipeline report it on the change itself
            self._is_mapped[tid] = ok
            if not ok:
                log.info("kafka: table %s is not mapped; its changes are skipped", f"{schema}.{table}" if schema else table)
        return ok

    def _note(self, decoded: Any, rec: Any) -> None:
        kind = decoded.kind
        if kind == TOMBSTONE:
            self.counts["tombstones"] += 1
        elif kind == DDL:
            self.counts["ddl"] += 1
            d = decoded.ddl
            mapped = d.table is not None and self._mapped is not None and self._wanted(d.schema, d.table)
            (log.warning if mapped else log.info)(
                "kafka: DDL at %s[%d]@%d on %s: %s (not applied to the graph; later rows carry the new columns)",
                rec.topic, rec.partition, rec.offset, f"{d.schema}.{d.table}", (d.sql or "")[:200],
            )
        else:
            self.counts["control"] += 1
            log.debug("kafka: %s at %s[%d]@%d", decoded.note, rec.topic, rec.partition, rec.offset)

    def _reject(self, rec: Any, reason: str) -> None:
        where = f"{rec.topic}[{rec.partition}]@{rec.offset}"
        if self.on_error == "stop":
            raise StopAtCheckpoint(f"cannot decode Kafka record {where}: {reason}; stopped with the checkpoint before it")
        self.counts["dead_letters"] += 1
        self.dead_by_kind["decode"] = self.dead_by_kind.get("decode", 0) + 1  # for the metrics (by reason kind)
        self.dlq.send(rec, reason, "decode", self.router.format_of(rec.topic))
