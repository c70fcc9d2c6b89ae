"""The Kafka source: change envelopes (Debezium, Maxwell, Canal, native) consumed in a consumer group.

``kbgraph sync --source kafka`` with ``kafka_bootstrap``, ``kafka_topics`` (``topic`` or
``topic:format``), ``kafka_format`` (default for topics without one; ``auto`` detects it from the
first record), ``kafka_group`` and ``kafka_dlq_topic`` (default ``<group>.dlq``). Run several
processes with the same group and pipeline name to split the partitions between them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kbgraph.errors import SourceError
from kbgraph.sources.kafka.consumer import KafkaSource
from kbgraph.sources.kafka.formats import parse_topics

if TYPE_CHECKING:
    from kbgraph.mapping.rules import Mapping
    from kbgraph.settings import Settings

__all__ = ["KafkaSource", "from_settings"]


def from_settings(settings: Settings, mapping: Mapping) -> KafkaSource:
    if not settings.kafka_bootstrap:
        raise SourceError("the kafka source needs a broker: set kafka_bootstrap (KBGRAPH_KAFKA_BOOTSTRAP)")
    if not settings.kafka_topics:
        raise SourceError("the kafka source needs topics: set kafka_topics (KBGRAPH_KAFKA_TOPICS), e.g. ['dbz.kb.person']")
    return KafkaSource(
        settings.kafka_bootstrap,
        parse_topics(settings.kafka_topics, settings.kafka_format),
        group=settings.kafka_group,
        default_format=settings.kafka_format,
        dlq_topic=settings.kafka_dlq_topic,
        on_error=settings.on_error,
        mapped=mapping,
        consumer_options=settings.kafka_consumer_options,
        producer_options=settings.kafka_producer_options,
    )
