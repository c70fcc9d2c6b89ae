"""Topics and partitions that appear after ``sync`` joined its group are taken up (on a real broker too)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sources.kafka import KafkaSource
from tests.support.kafka import (
    FAST_GROUP,
    KB_MAPPING,
    create_topic,
    encode_debezium,
    kb_workload,
    produce,
    reached,
    target_of,
    topic_ends,
)

pytestmark = pytest.mark.integration


def wait_for(what: str, cond: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.1)


@contextmanager
def running(pipeline: Pipeline, source: KafkaSource) -> Iterator[None]:
    errors: list[BaseException] = []

    def go() -> None:
        try:
            pipeline.run(source)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
            errors.append(e)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    try:
        yield
    finally:
        pipeline.stop()
        t.join(60)
    assert not t.is_alive(), "the pipeline did not stop"
    assert not errors, errors


def entity_records(ids: range) -> list[tuple[bytes | None, bytes | None]]:
    w = kb_workload(len(ids))
    out: list[tuple[bytes | None, bytes | None]] = []
    for seq, (table, op, before, after) in enumerate(c for c in w.changes if c[0] == "entity" and c[1] == "insert"):
        if seq < len(ids):
            out += encode_debezium(table, op, before, {**after, "id": ids[seq]}, seq)
    return out


def partitions_of(bootstrap: str, topic: str) -> set[int]:
    from kafka import KafkaConsumer

    c = KafkaConsumer(bootstrap_servers=bootstrap, allow_auto_create_topics=False)
    try:
        return c.partitions_for_topic(topic) or set()
    finally:
        c.close()


def entity_ids(graph: Any, database: str) -> set[int]:
    return {r["id"] for r in graph.execute_query("MATCH (e:Entity) WHERE e._kb_stub IS NULL RETURN e.id AS id",
                                                 database_=database)[0]}


@pytest.fixture
def kb(graph_server, graph):
    mapping = compile_mappings([KB_MAPPING])
    apply_schema(graph, graph_server.database, mapping)
    return mapping


def test_sync_started_before_its_topic_exists_waits_for_it_and_then_consumes_it(kafka_bootstrap, graph_server, graph, kb, caplog):
    topic = f"late-{uuid.uuid4().hex[:8]}"
    source = KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=f"g-{topic}", mapped=kb, consumer_options=FAST_GROUP)
    pipeline = Pipeline(kb, target_of(graph_server), name=f"p-{topic}")
    with caplog.at_level(logging.INFO, logger="kbgraph.sources.kafka"), running(pipeline, source):
        wait_for("the source looked for its topic", lambda: source._watch is not None and source._watch._told)
        assert partitions_of(kafka_bootstrap, topic) == set()  # the consumer did not create it
        create_topic(kafka_bootstrap, topic, 2)
        ends = topic_ends(produce(kafka_bootstrap, topic, entity_records(range(1, 21))), topic)
        wait_for("the checkpoint reaches the records produced after the join",
                 lambda: reached(read_checkpoint(graph, graph_server.database, pipeline.name), ends), 90)
    assert entity_ids(graph, graph_server.database) >= set(range(1, 21))
    said = [r.getMessage() for r in caplog.records if "do not exist yet" in r.getMessage()]
    assert said == [f"kafka: topic(s) {topic} do not exist yet (or this client may not see them); waiting for them (looking again every 5 s)"]


@pytest.mark.needs_real_kafka("adding partitions (CreatePartitions)")
def test_a_partition_added_while_sync_runs_is_consumed(kafka_bootstrap, graph_server, graph, kb):
    from kafka.admin import KafkaAdminClient, NewPartitions

    topic = f"grow-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 1)
    source = KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=f"g-{topic}", mapped=kb, consumer_options=FAST_GROUP)
    pipeline = Pipeline(kb, target_of(graph_server), name=f"p-{topic}")
    with running(pipeline, source):
        wait_for("the first partition is assigned", lambda: {tp.partition for tp in source._owned} == {0})
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.create_partitions({topic: NewPartitions(total_count=2)})
        finally:
            admin.close()
        wait_for("the broker shows the new partition", lambda: partitions_of(kafka_bootstrap, topic) == {0, 1})
        ends = topic_ends(produce(kafka_bootstrap, topic, entity_records(range(100, 110)), partition_of=lambda i: 1), topic)
        assert set(ends) == {f"kafka:{topic}:1"}
        wait_for("the added partition is assigned", lambda: {tp.partition for tp in source._owned} == {0, 1}, 90)
        wait_for("the checkpoint reaches the records of the added partition",
                 lambda: reached(read_checkpoint(graph, graph_server.database, pipeline.name), ends), 90)
    assert entity_ids(graph, graph_server.database) >= set(range(100, 110))
