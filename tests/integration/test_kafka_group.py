"""Consumer groups on a real broker: dead letters, two workers splitting partitions, a killed worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sources.kafka import KafkaSource
from kbgraph.verify import dump_graph
from tests.support.kafka import (
    FAST_GROUP,
    KB_MAPPING,
    create_topic,
    encode_debezium,
    expected_dump,
    kb_workload,
    produce,
    reached,
    read_topic,
    run_until,
    target_of,
    topic_ends,
)

pytestmark = pytest.mark.integration


def debezium_records(changes: list) -> list[tuple[bytes | None, bytes | None]]:
    out: list[tuple[bytes | None, bytes | None]] = []
    for seq, (table, op, before, after) in enumerate(changes):
        out += encode_debezium(table, op, before, after, seq)
    return out


@pytest.fixture
def kb_graph(graph_server, graph):
    apply_schema(graph, graph_server.database, compile_mappings([KB_MAPPING]))
    return graph


def test_poison_and_rejected_records_go_to_the_dead_letter_topic_and_the_rest_flows(kafka_bootstrap, graph_server, kb_graph):
    mapping = compile_mappings([KB_MAPPING])
    w = kb_workload(6)
    recs = debezium_records(w.changes[:6])  # six entities
    poison = b"\x00\x01 not an envelope"
    # at the source position of the record before it: a later one would make the records after it replays
    alien = encode_debezium("entity", "insert", None, {**w.changes[0][3], "id": 77, "type": "Alien"}, 1)[0]
    recs[2:2] = [(b'{"id": 0}', poison), alien]
    topic = f"dlq-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 1)
    ends = produce(kafka_bootstrap, topic, recs, headers=[("trace-id", b"t-1")])
    source = KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=f"g-{topic}", dlq_topic=f"{topic}.dlq", mapped=mapping,
                         consumer_options=FAST_GROUP)
    stats = run_until(Pipeline(mapping, target_of(graph_server), name=f"p-{topic}"), source, kb_graph, graph_server.database,
                      topic_ends(ends, topic))
    ids = {r["id"] for r in kb_graph.execute_query("MATCH (e:Entity) RETURN e.id AS id", database_=graph_server.database)[0]}
    assert ids == {1, 2, 3, 4, 5, 6}
    assert stats.counts.dead_letters == 1  # the mapping rejected the Alien; the poison never became a change
    letters = sorted(read_topic(kafka_bootstrap, f"{topic}.dlq", 2), key=lambda r: int(dict(r.headers)["kbgraph.dlq.offset"]))
    assert len(letters) == 2
    first, second = letters
    h1, h2 = dict(first.headers), dict(second.headers)
    assert first.value == poison and first.key == b'{"id": 0}' and h1["trace-id"] == b"t-1"
    assert (h1["kbgraph.dlq.stage"], h1["kbgraph.dlq.topic"], h1["kbgraph.dlq.offset"]) == (b"decode", topic.encode(), b"2")
    assert second.value == alien[1] and h2["kbgraph.dlq.stage"] == b"map" and h2["kbgraph.dlq.offset"] == b"3"
    assert b"Alien" in h2["kbgraph.dlq.reason"]
    # the graph checkpoint was also committed to Kafka, for lag tools
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        committed = admin.list_group_offsets(f"g-{topic}")[f"g-{topic}"]
    finally:
        admin.close()
    assert {f"kafka:{tp.topic}:{tp.partition}": o.offset for tp, o in committed.items()} == topic_ends(ends, topic)


def test_two_workers_in_one_group_split_the_partitions_and_build_the_right_graph(kafka_bootstrap, graph_server, kb_graph, tmp_path):
    mapping = compile_mappings([KB_MAPPING])
    topic = f"split-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 4)
    name, group = f"p-{topic}", f"g-{topic}"
    workers = [KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=group, mapped=mapping, consumer_options=FAST_GROUP)
               for _ in range(2)]
    seen: list[set[int]] = [set(), set()]
    pipelines = [Pipeline(mapping, target_of(graph_server), name=name, batch_size=100) for _ in workers]
    threads = []
    errors: list[BaseException] = []
    for p, s in zip(pipelines, workers):
        def go(p=p, s=s) -> None:
            try:
                p.run(s)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        threads.append(threading.Thread(target=go, daemon=True))
        threads[-1].start()
    # both members joined and hold two partitions each before anything is produced
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not errors and not all(len(s._owned) == 2 for s in workers):
        time.sleep(0.2)
    assert not errors, errors  # a worker that failed leaves the group: the other would hold all four
    assert [len(s._owned) for s in workers] == [2, 2], "the group did not settle on two partitions per worker"
    for i, s in enumerate(workers):
        seen[i] = {tp.partition for tp in s._owned}
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == {0, 1, 2, 3}
    w = kb_workload(60)
    ends = topic_ends(produce(kafka_bootstrap, topic, debezium_records(w.changes)), topic)
    assert len(ends) == 4  # keys spread over every partition
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not reached(read_checkpoint(kb_graph, graph_server.database, name), ends):
        time.sleep(0.3)
    for p in pipelines:
        p.stop()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert reached(read_checkpoint(kb_graph, graph_server.database, name), ends)
    assert all(s.counts["changes"] > 0 for s in workers)  # each worker did its share
    streamed = dump_graph(kb_graph, graph_server.database)
    expected = expected_dump(graph_server, kb_graph, w.final_inserts(), tmp_path)
    assert streamed == expected, streamed.diff(expected)


def sync_command(kafka_bootstrap: str, topic: str, pipeline: str, graph_server) -> tuple[list[str], dict[str, str]]:
    """``kbgraph sync --source kafka`` as a separate process, configured like a deployment (flags + environment)."""
    cmd = [sys.executable, "-c", "from kbgraph.cli import main; main()", "sync", "--source", "kafka",
           "--kafka", kafka_bootstrap, "--topic", topic, "--mappings", str(KB_MAPPING), "--pipeline", pipeline,
           "--batch-size", "50"]
    env = {**os.environ, "NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user,
           "NEO4J_PASSWORD": graph_server.password, "NEO4J_DATABASE": graph_server.database,
           "KBGRAPH_KAFKA_GROUP": f"g-{pipeline}", "KBGRAPH_KAFKA_CONSUMER_OPTIONS": json.dumps(FAST_GROUP)}
    return cmd, env


def test_a_killed_worker_restarts_at_the_graph_checkpoint_with_nothing_lost_or_doubled(kafka_bootstrap, graph_server, kb_graph, tmp_path):
    topic = f"kill-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 2)
    w = kb_workload(300)
    ends = topic_ends(produce(kafka_bootstrap, topic, debezium_records(w.changes)), topic)
    total = sum(ends.values())
    name = f"p-{topic}"
    cmd, env = sync_command(kafka_bootstrap, topic, name, graph_server)
    log = (tmp_path / "worker1.log").open("wb")
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        done = 0
        while time.monotonic() < deadline and first.poll() is None:
            cp = read_checkpoint(kb_graph, graph_server.database, name)
            done = sum(v for v in cp.values() if isinstance(v, int))
            if done > 0:
                break
            time.sleep(0.05)
        assert 0 < done < total, f"the worker should be mid-stream when killed ({done} of {total}): " + \
            (tmp_path / "worker1.log").read_text()[-2000:]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert not reached(read_checkpoint(kb_graph, graph_server.database, name), ends)
    log2 = (tmp_path / "worker2.log").open("wb")
    second = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log2, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and second.poll() is None:
            if reached(read_checkpoint(kb_graph, graph_server.database, name), ends):
                break
            time.sleep(0.3)
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, (tmp_path / "worker2.log").read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    assert reached(read_checkpoint(kb_graph, graph_server.database, name), ends)
    dead = kb_graph.execute_query("MATCH (d:KbDeadLetter) RETURN count(d) AS n", database_=graph_server.database)[0][0]["n"]
    assert dead == 0
    streamed = dump_graph(kb_graph, graph_server.database)
    expected = expected_dump(graph_server, kb_graph, w.final_inserts(), tmp_path)
    assert streamed == expected, streamed.diff(expected)


def test_a_worker_joining_mid_stream_takes_over_partitions_after_the_first_flushed_them(kafka_bootstrap, graph_server, kb_graph, tmp_path):
    mapping = compile_mappings([KB_MAPPING])
    topic = f"join-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 4)
    w = kb_workload(300)
    ends = topic_ends(produce(kafka_bootstrap, topic, debezium_records(w.changes)), topic)
    name, group = f"p-{topic}", f"g-{topic}"
    workers = [KafkaSource(kafka_bootstrap, {topic: "debezium"}, group=group, mapped=mapping, consumer_options=FAST_GROUP)
               for _ in range(2)]
    pipelines = [Pipeline(mapping, target_of(graph_server), name=name, batch_size=20) for _ in workers]
    errors: list[BaseException] = []

    def go(p: Pipeline, s: KafkaSource) -> None:
        try:
            p.run(s)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=go, args=(pipelines[0], workers[0]), daemon=True)]
    threads[0].start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not read_checkpoint(kb_graph, graph_server.database, name):
        time.sleep(0.05)
    threads.append(threading.Thread(target=go, args=(pipelines[1], workers[1]), daemon=True))
    threads[1].start()  # joins while the first is mid-stream: a rebalance revokes its partitions
    deadline = time.monotonic() + 120
    # wait for the join itself too: on a quiet machine the first worker may finish the stream before it
    while time.monotonic() < deadline and not (
            workers[0].counts["revoked"] >= 1 and reached(read_checkpoint(kb_graph, graph_server.database, name), ends)):
        time.sleep(0.3)
    for p in pipelines:
        p.stop()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert reached(read_checkpoint(kb_graph, graph_server.database, name), ends)
    assert workers[0].counts["revoked"] >= 1  # it flushed and gave partitions up
    assert workers[0].counts["dead_letters"] == workers[1].counts["dead_letters"] == 0
    streamed = dump_graph(kb_graph, graph_server.database)
    expected = expected_dump(graph_server, kb_graph, w.final_inserts(), tmp_path)
    assert streamed == expected, streamed.diff(expected)
