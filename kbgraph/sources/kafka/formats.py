"""Formats per topic, auto-detection, and the Kafka position each change carries.

Position: one checkpoint key per partition, ``"kafka:<topic>:<partition>"``. The last change of a
record sets it to ``offset + 1`` (resume with the next record). A record with several rows (a Canal
message) is one source transaction; its earlier changes set ``[offset, rows_done]`` so that a batch
split inside it resumes at the right row.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from kbgraph.change import Change
from kbgraph.debezium.payload import PayloadTypes
from kbgraph.errors import KbgraphError
from kbgraph.sources.kafka import canal, debezium, maxwell, native
from kbgraph.sources.kafka.message import (
    NOTHING_TOMBSTONE,
    Decoded,
    DecodeError,
    Message,
)

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping

log = logging.getLogger(__name__)

FORMATS = ("debezium", "maxwell", "canal", "native")


class Decoder(Protocol):
    name: str

    def decode(self, msg: Message) -> Decoded: ...

    def decode_doc(self, doc: Any) -> Decoded: ...


def new_decoder(name: str, types: PayloadTypes | None = None) -> Decoder:
    if name == "debezium":
        return debezium.DebeziumDecoder(types)
    if name == "maxwell":
        return maxwell.MaxwellDecoder()
    if name == "canal":
        return canal.CanalDecoder()
    if name == "native":
        return native.NativeDecoder()
    raise KbgraphError(f"unknown Kafka format {name!r}; choose one of auto, {', '.join(FORMATS)}")


def detect(doc: Any) -> str | None:
    """The format a decoded JSON value is in, or None when it is none of them."""
    if not isinstance(doc, dict):
        return None
    if canal.looks_like(doc):
        return "canal"
    if debezium.looks_like(doc):
        return "debezium"
    if maxwell.looks_like(doc):
        return "maxwell"
    if native.looks_like(doc):
        return "native"
    return None


def partition_key(topic: str, partition: int) -> str:
    return f"kafka:{topic}:{partition}"


def parse_topics(entries: list[str], default: str) -> dict[str, str]:
    """``["orders", "legacy:maxwell"]`` -> ``{"orders": default, "legacy": "maxwell"}``.

    A topic name cannot hold ``:`` in Kafka, so ``topic:format`` is unambiguous.
    """
    out: dict[str, str] = {}
    for entry in entries:
        topic, _, fmt = entry.strip().partition(":")
        fmt = fmt.strip() or default
        if not topic:
            raise KbgraphError(f"kafka_topics entry {entry!r} has no topic name")
        if fmt != "auto" and fmt not in FORMATS:
            raise KbgraphError(f"kafka_topics entry {entry!r}: unknown format {fmt!r}; choose auto, {', '.join(FORMATS)}")
        out[topic] = fmt
    return out


class Router:
    """Decodes records of many topics: a decoder per topic, chosen by name or detected once."""

    def __init__(self, formats: dict[str, str], default: str = "auto", mapped: CompiledMapping | None = None) -> None:
        self._formats = dict(formats)
        self._default = default
        # the mapped tables' column types, for Debezium records (payload-only ones above all)
        self._types = PayloadTypes.from_files(mapped.files) if mapped is not None and mapped.files else None
        self._decoders: dict[str, Decoder] = {}

    def format_of(self, topic: str) -> str | None:
        d = self._decoders.get(topic)
        return d.name if d else None

    def decode(self, msg: Message) -> Decoded:
        dec = self._decoders.get(msg.topic)
        if dec is not None:
            return dec.decode(msg)
        fmt = self._formats.get(msg.topic, self._default)
        if fmt != "auto":
            dec = self._decoders[msg.topic] = new_decoder(fmt, self._types)
            return dec.decode(msg)
        if msg.value is None:
            return NOTHING_TOMBSTONE
        try:
            doc = orjson.loads(msg.value)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"not JSON (format not yet detected for topic {msg.topic!r}): {e}") from None
        found = detect(doc)
        if found is None:
            raise DecodeError(
                f"format of topic {msg.topic!r} not recognised (not Debezium, Maxwell, Canal or native); "
                "set it with kafka_topics = ['<topic>:<format>']"
            )
        log.info("topic %s: detected %s format", msg.topic, found)
        dec = self._decoders[msg.topic] = new_decoder(found, self._types)
        return dec.decode(msg) if found == "maxwell" else dec.decode_doc(doc)


def stamp(changes: list[Change], msg: Message, fmt: str | None, skip: int = 0) -> list[Change]:
    """Give the changes of one record their position, transaction and coordinates.

    ``skip`` drops the first rows of a record that a previous run committed already.
    """
    key = partition_key(msg.topic, msg.partition)
    n = len(changes)
    meta = {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset, "format": fmt, "record": msg}
    if n == 1:
        c = changes[0]
        c.position = {key: msg.offset + 1}
        c.meta = meta if c.meta is None else {**c.meta, **meta}
        return changes
    tx = f"kafka:{msg.topic}:{msg.partition}:{msg.offset}"
    for i, c in enumerate(changes):
        last = i == n - 1
        c.position = {key: msg.offset + 1 if last else [msg.offset, i + 1]}
        c.tx = tx
        c.tx_end = last
        c.meta = meta if c.meta is None else {**c.meta, **meta}
    return changes[skip:] if skip else changes
