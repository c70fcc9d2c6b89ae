"""What a decoder reads (one Kafka record) and what it returns.

Decoders are pure: ``decode(Message) -> Decoded``. They never see the consumer, so the unit tests
feed them sample records written from each format's documentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbgraph.change import Change
from kbgraph.errors import KbgraphError

Headers = list[tuple[str, bytes | None]]


class DecodeError(KbgraphError):
    """A record cannot be decoded; the source sends it to the dead-letter topic with this reason."""


@dataclass(slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)
    timestamp: int | None = None

    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(slots=True)
class Ddl:
    """A schema change message: recognised, never mapped as rows."""

    schema: str | None
    table: str | None
    sql: str | None


# What a record held besides rows; logged by the source, never mapped.
TOMBSTONE = "tombstone"
CONTROL = "control"  # heartbeats, transaction markers, bootstrap markers, watermarks
DDL = "ddl"
ROWS = "rows"


@dataclass(slots=True)
class Decoded:
    changes: list[Change]
    kind: str = ROWS
    ddl: Ddl | None = None
    note: str | None = None  # what a control record was, for the log

    @staticmethod
    def rows(changes: list[Change]) -> Decoded:
        return Decoded(changes)


NOTHING_TOMBSTONE = Decoded([], TOMBSTONE)


def control(note: str) -> Decoded:
    return Decoded([], CONTROL, note=note)


def ddl(schema: str | None, table: str | None, sql: str | None) -> Decoded:
    return Decoded([], DDL, ddl=Ddl(schema, table, sql))


def need(obj: dict[str, Any], key: str, what: str) -> Any:
    """``obj[key]`` or a DecodeError naming the missing field."""
    try:
        return obj[key]
    except KeyError:
        raise DecodeError(f"{what} message has no {key!r} field") from None
