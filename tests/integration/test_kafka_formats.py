"""Each format through a real broker into the graph: the streamed graph equals one built from the final rows."""

from __future__ import annotations

import uuid

import orjson
import pytest

from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sources.kafka import KafkaSource
from kbgraph.verify import dump_graph
from tests.support.kafka import (
    FAST_GROUP,
    KB_MAPPING,
    create_topic,
    encode_canal,
    encode_debezium,
    encode_maxwell,
    encode_native,
    expected_dump,
    kb_workload,
    produce,
    run_until,
    target_of,
)

pytestmark = pytest.mark.integration


def records_of(fmt: str, changes: list) -> list[tuple[bytes | None, bytes | None]]:
    out: list[tuple[bytes | None, bytes | None]] = []
    if fmt == "canal":
        # consecutive changes of one table and type form one binlog event: up to 4 rows per message
        i = 0
        while i < len(changes):
            table, op = changes[i][0], changes[i][1]
            rows = []
            while i < len(changes) and changes[i][:2] == (table, op) and len(rows) < 4:
                rows.append(changes[i][2:])
                i += 1
            out.append((None, encode_canal(table, op, rows, i)))
        return out
    for seq, (table, op, before, after) in enumerate(changes):
        if fmt == "debezium":
            out += encode_debezium(table, op, before, after, seq, schema=table not in ("alias", "attribute"))
        elif fmt == "maxwell":
            out += encode_maxwell(table, op, before, after, seq)
        else:
            out.append((None, encode_native(table, op, before, after)))
    return out


@pytest.mark.parametrize("fmt", ["debezium", "maxwell", "canal", "native"])
def test_format_streams_to_the_graph_of_the_final_rows(fmt, kafka_bootstrap, graph_server, graph, tmp_path):
    mapping = compile_mappings([KB_MAPPING])
    apply_schema(graph, graph_server.database, mapping)
    w = kb_workload(24, truncate=fmt != "maxwell")  # Maxwell writes no TRUNCATE events
    topic = f"kb-{fmt}-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic, 1)
    recs = records_of(fmt, w.changes)
    ddl = {  # a schema-change record in the middle of the stream is recognised, not mapped
        "debezium": {"source": {"db": "kb"}, "databaseName": "kb", "ddl": "ALTER TABLE entity ADD x INT", "tableChanges": []},
        "maxwell": {"type": "table-alter", "database": "kb", "table": "entity", "sql": "ALTER TABLE entity ADD x INT", "ts": 1},
        "canal": {"data": None, "database": "kb", "table": "entity", "isDdl": True, "type": "ALTER", "sql": "ALTER TABLE entity ADD x INT",
                  "es": 1, "ts": 1, "id": 0, "mysqlType": None, "old": None, "pkNames": None, "sqlType": None},
    }.get(fmt)
    if ddl is not None:
        recs.insert(5, (None, orjson.dumps(ddl)))
    ends = produce(kafka_bootstrap, topic, recs)
    source = KafkaSource(kafka_bootstrap, {topic: "auto"}, group=f"g-{topic}", mapped=mapping, consumer_options=FAST_GROUP)
    pipeline = Pipeline(mapping, target_of(graph_server), name=f"p-{topic}", batch_size=50)
    stats = run_until(pipeline, source, graph, graph_server.database, {f"kafka:{topic}:{p}": e for p, e in ends.items()})
    assert source.router.format_of(topic) == fmt
    assert source.counts["dead_letters"] == 0 and stats.counts.dead_letters == 0
    assert source.counts["ddl"] == (1 if ddl else 0)
    assert source.counts["changes"] == len(w.changes) + (1 if fmt == "debezium" else 0)  # the key change is delete + create
    streamed = dump_graph(graph, graph_server.database)
    assert sum(streamed.nodes.values()) > 24
    expected = expected_dump(graph_server, graph, w.final_inserts(), tmp_path)
    assert streamed == expected, streamed.diff(expected)
