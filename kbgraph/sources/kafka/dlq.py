"""The dead-letter topic: records that cannot be decoded or mapped, kept with why and where.

A dead letter is the original record (key, value and headers, byte for byte) plus headers
``kbgraph.dlq.reason``, ``kbgraph.dlq.stage`` (decode | map), ``kbgraph.dlq.topic``,
``kbgraph.dlq.partition``, ``kbgraph.dlq.offset``, ``kbgraph.dlq.format`` and, for a record whose
rows are several changes, ``kbgraph.dlq.row``. Each send waits for the broker's acknowledgement, so
the position never moves past a record whose dead letter is not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kbgraph.errors import SourceError

log = logging.getLogger(__name__)

REASON_LIMIT = 2000
PREFIX = "kbgraph.dlq."


def dead_letter_headers(record: Any, reason: str, stage: str, fmt: str | None, row: int | None = None) -> list[tuple[str, bytes]]:
    """The original headers followed by kbgraph's own (the original ones are kept in order)."""
    headers = [(k, v if v is not None else b"") for k, v in (record.headers or [])]
    extra = {
        "reason": reason[:REASON_LIMIT],
        "stage": stage,
        "topic": record.topic,
        "partition": str(record.partition),
        "offset": str(record.offset),
        "format": fmt or "unknown",
    }
    if row is not None:
        extra["row"] = str(row)
    return headers + [(PREFIX + k, v.encode("utf-8", "replace")) for k, v in extra.items()]


class DeadLetters:
    """Sends dead letters to one topic with a producer of its own (thread-safe, made on first use)."""

    def __init__(self, bootstrap: str, topic: str, options: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.options = dict(options or {})
        self.sent = 0
        self._producer: Any = None

    def _get(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            self._ensure_topic()
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", client_id="kbgraph-dlq", **self.options
            )
        return self._producer

    def _ensure_topic(self) -> None:
        """Create the topic if it is missing (brokers may not auto-create topics)."""
        from kafka.admin import KafkaAdminClient, NewTopic
        from kafka.errors import KafkaError, TopicAlreadyExistsError

        admin = None
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="kbgraph-dlq-admin")
            admin.create_topics([NewTopic(self.topic, 1, -1)])
            log.info("created dead-letter topic %s", self.topic)
        except TopicAlreadyExistsError:
            pass
        except KafkaError as e:  # no rights to create topics: the send reports a missing topic itself
            log.debug("could not create dead-letter topic %s: %s", self.topic, e)
        finally:
            if admin is not None:
                admin.close()

    def send(self, record: Any, reason: str, stage: str, fmt: str | None, row: int | None = None) -> None:
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        try:
            future = self._get().send(
                self.topic,
                value=record.value,
                key=record.key,
                headers=dead_letter_headers(record, reason, stage, fmt, row),
            )
            future.get(timeout=30)
        except Exception as e:  # noqa: BLE001 - any failure means the record would be lost: stop
            raise SourceError(
                f"cannot write the dead letter of {where} to topic {self.topic!r} ({type(e).__name__}: {e}); "
                f"stopped before it (reason it was rejected: {reason})"
            ) from None
        self.sent += 1
        log.warning("dead letter: %s -> %s: %s", where, self.topic, reason)

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=10)
            finally:
                self._producer = None
