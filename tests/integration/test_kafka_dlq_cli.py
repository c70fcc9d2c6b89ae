"""``kbgraph dlq list | show | replay | purge --from kafka`` over the Kafka source's dead-letter topic,
against the broker the tests start (a real Kafka with KBGRAPH_TEST_KAFKA)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbgraph.cli import app
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sources.kafka import KafkaSource
from tests.support.kafka import FAST_GROUP, create_topic, produce, run_until, target_of, topic_ends

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).parents[1] / "kb_mapping.yaml"


def ent(i, **kw):
    return {"id": i, "type": "Person", "name": f"n{i}", "born_on": None, "meta": None, "score": None,
            "deleted": 0, "parent_id": None, **kw}


def _record(row):
    return json.dumps({"id": row["id"]}).encode(), json.dumps(
        {"schema": "kb", "table": "entity", "op": "insert", "after": row}).encode()


def _ends(bootstrap, topic):
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = c.partitions_for_topic(topic) or set()
        return sum(c.end_offsets([TopicPartition(topic, p) for p in parts]).values()) if parts else 0
    finally:
        c.close()


def _entities(graph, database):
    records, _, _ = graph.execute_query("MATCH (e:Entity) WHERE e._kb_stub IS NULL RETURN e.id AS id",
                                        database_=database)
    return {r["id"] for r in records}


def test_dlq_commands_over_the_kafka_dead_letter_topic(kafka_bootstrap, graph_server, graph, tmp_path):
    topic = f"gaps-dlq-{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}.dlq"
    create_topic(kafka_bootstrap, topic)
    good = compile_mappings([MAPPING])
    apply_schema(graph, graph_server.database, good)
    broken_path = tmp_path / "broken.yaml"  # a filter on a column the rows lack: every row is a dead letter
    broken_path.write_text(MAPPING.read_text().replace('where: "deleted = 0"', 'where: "deleted = 0 AND status = 1"'))
    rows = [ent(i) for i in range(1, 21)]
    rows[4] = ent(5, type="Planet")  # not an allowed label: fails after the fix too
    records = [_record(r) for r in rows[:10]] + [(b"x", b"{not json")] + [_record(r) for r in rows[10:]]
    ends = produce(kafka_bootstrap, topic, records)
    source = KafkaSource(kafka_bootstrap, {topic: "native"}, group=f"g-{topic}", mapped=compile_mappings([broken_path]),
                         dlq_topic=dlq, consumer_options=FAST_GROUP)
    target = target_of(graph_server)
    run_until(Pipeline(compile_mappings([broken_path]), target, name="kdlq", batch_size=7), source, graph,
              target.database, topic_ends(ends, topic))
    assert _ends(kafka_bootstrap, dlq) == 21 and _entities(graph, target.database) == set()

    env = {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user, "NEO4J_PASSWORD": graph_server.password,
           "NEO4J_DATABASE": graph_server.database, "KBGRAPH_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "KBGRAPH_KAFKA_DLQ_TOPIC": dlq, "KBGRAPH_PIPELINE": "kdlq", "COLUMNS": "300"}
    cli = CliRunner()

    def kb(*args, code=0):
        result = cli.invoke(app, [*args, "--from", "kafka"], env=env)
        assert result.exit_code == code, (result.output, result.exception)
        return " ".join(result.output.split())

    listed = kb("dlq", "list")
    assert f"dead-letter topic {dlq}: 21 dead letters" in listed
    assert "20 × insert on kb.entity: where 'deleted = 0 AND status = 1': the row has no column 'status'" in listed
    assert "tables kb.entity (20)" in listed and "tables ? (1)" in listed
    assert f'first at {{"topic":"{topic}","partition":0,"offset":0}}' in listed

    shown = kb("dlq", "show", "--limit", "30", "--mappings", str(broken_path))
    assert 'insert on kb.entity key {"id":1} at {"topic":"' in shown and "(map)" in shown
    assert f'record on ? key {{}} at {{"topic":"{topic}","partition":0,"offset":10}} (decode)' in shown
    assert "record: {not json" in shown
    assert kb("dlq", "show", "--reason", "status", "--limit", "100").count(" (map) reason: ") == 20

    # the mapping fixed: 19 rows apply; the Planet row and the undecodable record fail again and are produced again
    replayed = kb("dlq", "replay", "--mappings", str(MAPPING), code=1)
    assert "replayed 21 from" in replayed and "19 applied" in replayed and "2 still fail" in replayed
    assert _entities(graph, target.database) == {r["id"] for r in rows} - {5}
    assert _ends(kafka_bootstrap, dlq) == 23
    left = kb("dlq", "list")
    assert f"dead-letter topic {dlq}: 2 dead letters" in left and "'Planet'" in left

    again = kb("dlq", "replay", "--mappings", str(MAPPING), code=1)  # idempotent: nothing applied twice
    assert "replayed 2 from" in again and "0 applied" in again
    assert _entities(graph, target.database) == {r["id"] for r in rows} - {5}

    assert "purged 2 dead letters" in kb("dlq", "purge", "--all", "--yes")
    assert "no dead letters after the reader's offset" in kb("dlq", "list")
    assert _ends(kafka_bootstrap, dlq) == 25  # the records stay until the topic's retention removes them
