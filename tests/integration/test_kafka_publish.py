"""``publish`` (binlog -> Debezium JSON on Kafka) then ``sync --source kafka`` equals a direct binlog sync."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from kbgraph.graph.schema import apply_schema
from kbgraph.pipeline import Pipeline
from kbgraph.publish import build_publisher
from kbgraph.settings import Settings
from kbgraph.sources.kafka import KafkaSource
from kbgraph.verify import dump_graph
from tests.support.binlog import position_now, sync_into
from tests.support.graph import reset_graph
from tests.support.kafka import (
    FAST_GROUP,
    ROOT,
    read_topic,
    run_until,
    target_of,
)
from tests.support.kb_sql import kb_setup
from tests.support.mysql import mysql_connect
from tests.support.sql_workload import SqlWorkload

pytestmark = pytest.mark.integration


def settings_for(mysql_url: str, kafka: str, prefix: str) -> Settings:
    return Settings(mysql_url=mysql_url, kafka_bootstrap=kafka, kafka_topic_prefix=prefix, binlog_until_end=True)


def simple_workload(conn) -> None:
    """Row changes with no cross-table ordering hazards (no key changes, no cascades)."""
    with conn.cursor() as cur:
        for i in range(1, 41):
            cur.execute("INSERT INTO entity (id, type, name, born_on, meta, score, deleted, parent_id) VALUES "
                        "(%s, %s, %s, %s, %s, %s, 0, NULL)",
                        (i, ["Person", "Organization", "Place"][i % 3], f"名 {i}", f"19{50 + i % 40}-01-0{1 + i % 9}",
                         f'{{"a": {i}, "b": {{"c": "x"}}}}', f"{i}.{i % 10}0"))
        for i in range(1, 40):
            cur.execute("INSERT INTO relation (id, src_id, predicate, dst_id, weight) VALUES (%s, %s, %s, %s, %s)",
                        (i, i, ["WORKS_AT", "LOCATED_IN"][i % 2], i + 1, i / 3))
        cur.execute("UPDATE entity SET name = CONCAT(name, ' v2'), score = score + 1 WHERE id % 4 = 0")
        cur.execute("UPDATE relation SET weight = NULL WHERE id % 5 = 0")
        cur.execute("DELETE FROM relation WHERE id % 7 = 0")
        cur.execute("UPDATE entity SET deleted = 1 WHERE id = 40")
    conn.commit()


@pytest.mark.parametrize("layout", ["one-topic", "topic-per-table", "partitions-per-table"])
def test_publish_then_kafka_sync_equals_a_direct_binlog_sync(layout, mysql_url, mysql_db, kafka_bootstrap, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    start = position_now(mysql_url)
    conn = mysql_connect(mysql_url, mysql_db)
    try:
        if layout in ("one-topic", "topic-per-table"):
            # key changes with cascades, key/value rows of re-keyed entities, relations to missing
            # entities: one topic keeps the binlog's total order; a topic per table (publish's
            # default, one partition each) gets it back from the source positions (merge.py)
            work = SqlWorkload(conn, 11)
            work.run(80)
            assert work.committed > 50
        else:
            simple_workload(conn)  # three partitions per table: a row's changes stay in order, per key
    finally:
        conn.close()

    direct = sync_into(mysql_url, mapping, target, "direct", initial=start)
    assert direct.counts.changes > 100 and direct.counts.dead_letters == 0
    expected = dump_graph(graph, target.database)

    prefix = f"pub{uuid.uuid4().hex[:6]}"
    state = tmp_path / "publish.json"
    one = layout == "one-topic"
    publisher = build_publisher(settings_for(mysql_url, kafka_bootstrap, prefix), mapping, state_path=state,
                                start=f"{start.file}:{start.pos}", partitions=3 if layout == "partitions-per-table" else 1,
                                server_id=4950 + one, topic=f"{prefix}.all" if one else None)
    stats = publisher.run()
    assert stats.changes == direct.counts.changes  # every change published once
    saved = json.loads(state.read_text())["position"]
    assert saved["file"] and saved["pos"] > start.pos  # the acknowledged position is durable
    topics = sorted({t for t, _ in stats.ends})
    if one:
        assert topics == [f"{prefix}.all"]
    else:
        assert {f"{prefix}.{mysql_db}.{t}" for t in ("entity", "relation")} <= set(topics)
        if layout == "partitions-per-table":
            assert len(stats.ends) > 2  # rows spread over partitions

    reset_graph(graph, target.database)
    source = KafkaSource(kafka_bootstrap, {t: "auto" for t in topics}, group=f"g-{prefix}", mapped=mapping,
                         consumer_options=FAST_GROUP)
    run = run_until(Pipeline(mapping, target, name=f"k-{prefix}"), source, graph, target.database,
                    {f"kafka:{t}:{p}": e for (t, p), e in stats.ends.items()})
    assert {source.router.format_of(t) for t in topics} == {"debezium"}
    assert run.counts.dead_letters == 0 and source.counts["dead_letters"] == 0
    streamed = dump_graph(graph, target.database)
    assert sum(expected.nodes.values()) > 10
    assert streamed == expected, streamed.diff(expected)


def test_publish_resumes_from_its_state_file_without_losing_changes(mysql_url, mysql_db, kafka_bootstrap, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    start = position_now(mysql_url)
    conn = mysql_connect(mysql_url, mysql_db)
    prefix = f"res{uuid.uuid4().hex[:6]}"
    state = tmp_path / "publish.json"
    s = settings_for(mysql_url, kafka_bootstrap, prefix)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO entity (id, type, name, deleted) VALUES (1, 'Person', 'a', 0), (2, 'Person', 'b', 0)")
        first = build_publisher(s, mapping, state_path=state, start=f"{start.file}:{start.pos}", server_id=4960).run()
        with conn.cursor() as cur:
            cur.execute("UPDATE entity SET name = 'b2' WHERE id = 2")
            cur.execute("INSERT INTO entity (id, type, name, deleted) VALUES (3, 'Place', 'c', 0)")
        second = build_publisher(s, mapping, state_path=state, start="current", server_id=4961).run()
    finally:
        conn.close()
    assert (first.changes, second.changes) == (2, 2)  # the second run started at the saved position, not at "current"
    recs = read_topic(kafka_bootstrap, f"{prefix}.{mysql_db}.entity", 4)
    ops = [(json.loads(r.value)["payload"]["op"], json.loads(r.value)["payload"]["after"]["id"]) for r in recs]
    assert sorted(ops) == [("c", 1), ("c", 2), ("c", 3), ("u", 2)]
    key = json.loads(recs[0].key)
    assert list(key["payload"]) == ["id"] and key["schema"]["fields"][0]["field"] == "id"


def test_publish_command_reports_a_missing_broker_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from kbgraph.cli import main; main()", "publish", "--mappings", str(ROOT / "mappings"),
                          "--mysql-url", "mysql://root@127.0.0.1:3306"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert "kafka_bootstrap" in out.stderr and "Traceback" not in out.stderr
