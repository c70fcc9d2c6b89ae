"""Reading the Kafka dead-letter topic for ``kbgraph dlq … --from kafka``: list, show, replay, purge.

The topic is never changed by kbgraph (Kafka has no delete of single records). What has been dealt
with is tracked by the offsets of a consumer group of its own, ``<dlq topic>.reader``: list, show and
replay read from that group's committed offset (the beginning when it has none) to the end;
``purge`` moves the offset past the matching records, ``replay`` past the records it handled
(applied, or rejected again and so produced again at the end of the topic, where they are
still listed). Records before the first one a filter leaves out stay where they are: an offset can
only move past everything before it. Retention (``retention.ms`` of the topic) removes old records
for good; a reader offset before the oldest record then starts at the oldest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kbgraph.change import Change
from kbgraph.errors import SourceError
from kbgraph.sink.breaker import reason_group
from kbgraph.sources.kafka.dlq import PREFIX
from kbgraph.sources.kafka.message import Message


@dataclass
class KafkaLetter:
    partition: int  # in the dead-letter topic
    offset: int
    reason: str
    stage: str  # decode | map
    fmt: str | None
    row: int | None
    record: Message  # the original record, with its own topic, partition and offset
    changes: list[Change] = field(default_factory=list)  # decoded (none when it does not decode)

    @property
    def id(self) -> str:
        return f"{self.partition}@{self.offset}"

    @property
    def change(self) -> Change | None:
        if not self.changes:
            return None
        return self.changes[self.row] if self.row is not None and self.row < len(self.changes) else self.changes[0]

    @property
    def where(self) -> str:
        c = self.change
        if c is None:
            return "?"
        return f"{c.schema}.{c.table}" if c.schema else c.table

    @property
    def position(self) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {"topic": r.topic, "partition": r.partition, "offset": r.offset}
        if self.row is not None:
            out["row"] = self.row
        return out

    @property
    def group(self) -> str:
        return reason_group(self.reason)

    def key_of(self) -> dict[str, Any]:
        c = self.change
        row = (c.before if c.op == "delete" else c.after) or c.before or c.after or {} if c is not None else {}
        if "id" in row:
            return {"id": row["id"]}
        return {k: row[k] for k in list(row)[:1]}


def reader_group(topic: str) -> str:
    return f"{topic}.reader"


def letter_of(msg: Any) -> KafkaLetter:
    """A record of the dead-letter topic read back: its original record, headers and reason."""
    own = {k[len(PREFIX):]: (v or b"").decode("utf-8", "replace") for k, v in (msg.headers or []) if k.startswith(PREFIX)}
    original = [(k, v) for k, v in (msg.headers or []) if not k.startswith(PREFIX)]
    rec = Message(own.get("topic", "?"), _int(own.get("partition")), _int(own.get("offset")), msg.key, msg.value, original)
    row = int(own["row"]) if own.get("row", "").isdigit() else None
    fmt = own.get("format")
    return KafkaLetter(msg.partition, msg.offset, own.get("reason", ""), own.get("stage", "?"),
                       None if fmt in (None, "unknown") else fmt, row, rec)


def _int(text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        return -1


class Decoders:
    """Decodes each original record with the format its dead letter names (auto when it names none)."""

    def __init__(self, mapping: Any = None) -> None:
        self._mapping = mapping
        self._routers: dict[tuple[str, str], Any] = {}

    def changes(self, letter: KafkaLetter) -> list[Change]:
        """The record's changes, stamped with its coordinates as the consumer stamps them. Raises DecodeError."""
        from kbgraph.sources.kafka.formats import Router, stamp

        fmt = letter.fmt or "auto"
        key = (letter.record.topic, fmt)
        r = self._routers.get(key)
        if r is None:
            r = self._routers[key] = Router({letter.record.topic: fmt}, "auto", self._mapping)
        return stamp(list(r.decode(letter.record).changes), letter.record, r.format_of(letter.record.topic))


def read(bootstrap: str, topic: str, *, mapping: Any = None, options: dict[str, Any] | None = None,
         timeout_s: float = 60.0) -> Iterator[KafkaLetter]:
    """The dead letters from the reader group's offset to the end of the topic, oldest first per partition."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    decoders = Decoders(mapping)
    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=reader_group(topic), enable_auto_commit=False,
                                 client_id="kbgraph-dlq-reader", **(options or {}))
    except KafkaError as e:
        raise SourceError(f"cannot reach Kafka at {bootstrap} ({type(e).__name__}: {e})") from None
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            return
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            at = consumer.committed(tp)
            if at is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, at)
        todo = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise SourceError(f"reading dead-letter topic {topic!r} at {bootstrap} took over {timeout_s:.0f} s")
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                for msg in msgs:
                    if msg.offset < ends[tp]:
                        letter = letter_of(msg)
                        try:
                            letter.changes = decoders.changes(letter)
                        except Exception:  # noqa: BLE001 - a record that does not decode is listed all the same
                            letter.changes = []
                        yield letter
            todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}
    except KafkaError as e:
        raise SourceError(f"cannot read dead-letter topic {topic!r} at {bootstrap} ({type(e).__name__}: {e})") from None
    finally:
        consumer.close(autocommit=False)


def advance(letters: Iterable[KafkaLetter], handled: set[str]) -> dict[int, int]:
    """Per partition, the offset after the leading run of ``handled`` letters (read in order)."""
    out: dict[int, int] = {}
    blocked: set[int] = set()
    for d in letters:
        if d.partition in blocked:
            continue
        if d.id in handled:
            out[d.partition] = d.offset + 1
        else:
            blocked.add(d.partition)
    return out


def commit(bootstrap: str, topic: str, offsets: dict[int, int], options: dict[str, Any] | None = None) -> None:
    """Move the reader group's offsets (never backwards: only called with offsets past what it read)."""
    if not offsets:
        return
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=reader_group(topic), enable_auto_commit=False,
                             client_id="kbgraph-dlq-reader", **(options or {}))
    try:
        tps = {TopicPartition(topic, p): o for p, o in offsets.items()}
        consumer.assign(list(tps))
        consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in tps.items()})
    except KafkaError as e:
        raise SourceError(f"cannot commit the offsets of group {reader_group(topic)!r} ({type(e).__name__}: {e})") from None
    finally:
        consumer.close(autocommit=False)


_NO_CHECKPOINT = "RETURN $count AS replayed"  # run by the writer instead of a checkpoint: replay moves none


def replay(driver: Any, database: str, pipeline: str, mapping: Any, letters: list[KafkaLetter], bootstrap: str,
           topic: str, producer_options: dict[str, Any] | None = None, batch_size: int = 500) -> Any:
    """Apply the dead letters' changes through the normal writer (state-based: applying one twice
    changes nothing). One that fails again is produced again to the topic with its new reason (and
    kept in the graph's dead letters, as a sync does). Returns a ``deadletters.ReplayResult``."""
    from kbgraph.deadletters import ReplayResult
    from kbgraph.errors import ChangeError
    from kbgraph.sink.writer import GraphWriter, Item
    from kbgraph.sources.kafka.dlq import DeadLetters

    result = ReplayResult()
    dlq = DeadLetters(bootstrap, topic, producer_options)
    origin: dict[int, KafkaLetter] = {}

    def failed_again(change: Change, reason: str) -> None:
        d = origin[id(change)]
        result.reasons[reason_group(reason, change)] += 1
        dlq.send(d.record, reason, "map", d.fmt, d.row)

    writer = GraphWriter(driver, database, pipeline, "dead_letter", failed_again, checkpoint=_NO_CHECKPOINT)
    decoders = Decoders(mapping)
    try:
        for i in range(0, len(letters), batch_size):
            items: list[Any] = []
            for d in letters[i:i + batch_size]:
                result.replayed += 1
                try:
                    changes = decoders.changes(d)
                except Exception as e:  # noqa: BLE001 - still does not decode: a dead letter again
                    reason = f"cannot decode {d.record.topic}[{d.record.partition}]@{d.record.offset}: {e}"
                    dlq.send(d.record, reason, "decode", d.fmt)
                    result.still_failing += 1
                    result.reasons[reason_group(reason)] += 1
                    continue
                if d.row is not None and d.row < len(changes):
                    changes = [changes[d.row]]  # the one row of a many-row record that failed
                for c in changes:
                    c.tx, c.tx_end = None, True
                    origin[id(c)] = d
                    try:
                        items.append(Item(c, mapping.translate(c)))
                    except ChangeError as e:
                        items.append(Item(c, e.ops, e))
            before = writer.counts.dead_letters
            writer.write(items)
            failed = writer.counts.dead_letters - before
            result.still_failing += failed
            result.applied += len(items) - failed
    finally:
        dlq.close()
    return result
