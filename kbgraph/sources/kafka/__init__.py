"""The Kafka source: change envelopes (Debezium, Maxwell, Canal, native) consumed in a consumer group.

``kbgraph sync --source kafka`` with

* ``kafka_bootstrap`` (``--kafka``), ``kafka_topics`` (``--topic``, repeatable): ``topic`` or
  ``topic:format``; ``kafka_format`` is the default format (``auto`` detects it per topic from its
  first record);
* ``kafka_group`` (default ``kbgraph``): run several processes with the same group *and* the same
  pipeline name (``--pipeline``) to split the partitions between them;
* ``kafka_dlq_topic`` (default ``<group>.dlq``): where records that cannot be decoded or mapped go,
  byte for byte with their headers plus ``kbgraph.dlq.*`` headers (reason, stage, topic, partition,
  offset, format); with ``on_error = "stop"`` the run stops at the checkpoint before such a record;
* ``kafka_consumer_options`` / ``kafka_producer_options``: extra kafka-python options (security,
  ``isolation_level = "read_committed"`` for transactional producers, ``session_timeout_ms``...).

Topics that do not exist yet are waited for (``topics.py``): said once, looked for every 5 s,
subscribed to when they appear; the consumer never creates one. Metadata is refreshed every 5 s
(``metadata_max_age_ms``), so partitions added to a topic are taken up within seconds.

Exactly once into the graph: each partition's position (``"kafka:<topic>:<partition>"``) is
committed in the graph transaction of the changes it covers; on every assignment the consumer seeks
to it, so crashes and rebalances neither lose nor repeat a change. Group offsets are committed to
Kafka too, after the graph commit, only for lag tools.

Order: Kafka keeps order per partition. Across the partitions a worker owns (a topic per table),
records that carry their binlog position (Debezium's and ``publish``'s ``source`` block) are merged
back into the database's order (``merge.py``): a record waits until every other partition has one
buffered or has said nothing for ``kafka_merge_wait_ms`` (default 300). Records of other formats
pass in their partition's order. Several workers each order only their own partitions; a key
change whose delete and create land in different partitions is applied as a delete and a create.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kbgraph.errors import SourceError
from kbgraph.sources.kafka.consumer import KafkaSource
from kbgraph.sources.kafka.formats import parse_topics

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import KafkaSettings

__all__ = ["KafkaSource", "from_settings"]


def from_settings(settings: KafkaSettings, mapping: CompiledMapping) -> KafkaSource:
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
        # a broker back after an outage is reached within the outage backoff cap (kafka-python: 30 s)
        consumer_options={"reconnect_backoff_max_ms": int(settings.outage_cap_s * 1000), **settings.kafka_consumer_options},
        outage_max_s=settings.outage_max_s,
        producer_options=settings.kafka_producer_options,
        merge_wait_ms=settings.kafka_merge_wait_ms,
    )
