"""Smoke tests: each server fixture gives a working server of the kind the other tests expect."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support.mysql import REQUIRED, binlog_problems, mysql_connect

pytestmark = pytest.mark.integration


# -- the embedded server itself ------------------------------------------------------------


def test_embedded_graph_restarts_on_its_data_and_hides_its_password(tmp_path, monkeypatch):
    import subprocess

    import neo4j

    from kbgraph.embedded import EmbeddedGraph
    from kbgraph.errors import KbgraphError

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "graph"
    g = EmbeddedGraph(Path("graph")).start()  # a relative folder, as `kbgraph demo --data` gives
    assert g.data_dir == data
    try:
        pid = g.pid
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")
        assert "ArcadeDBServer" in args and g.password not in args
        assert not (data / ".server-args").exists()  # the argument file with the password is gone
        with neo4j.GraphDatabase.driver(g.uri, auth=(g.user, g.password)) as d:
            d.execute_query("CREATE (:KbSmoke {id: 7})", database_=g.database)
    finally:
        g.stop()
    assert subprocess.run(["ps", "-p", str(pid)], capture_output=True).returncode != 0  # no java left

    again = EmbeddedGraph(data)  # same folder, no password given: the stored one is used
    with again:
        assert again.password == g.password
        with neo4j.GraphDatabase.driver(again.uri, auth=(again.user, again.password)) as d:
            records, _, _ = d.execute_query("MATCH (n:KbSmoke) RETURN n.id AS id", database_=again.database)
        assert [r["id"] for r in records] == [7]
    assert "Server is down" in (data / "server.log").read_text()

    with pytest.raises(KbgraphError, match="refused the password"):
        EmbeddedGraph(data, password="not-the-one").start()


def test_embedded_graph_failure_names_the_log(tmp_path):
    import socket

    from kbgraph.embedded import EmbeddedGraph
    from kbgraph.errors import KbgraphError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        g = EmbeddedGraph(tmp_path / "g", bolt_port=port, http_port=port)
        with pytest.raises(KbgraphError, match=r"failed to start; last lines of .*server\.log") as err:
            g.start(timeout=60)
    assert "Unable to listen" in str(err.value)
    assert not g.running


# -- graph ---------------------------------------------------------------------------------


def test_graph_answers_bolt(graph_server, graph_driver):
    records, _, _ = graph_driver.execute_query("RETURN 1 AS one", database_=graph_server.database)
    assert records[0]["one"] == 1
    assert graph_server.uri.startswith(("bolt://", "neo4j://", "bolt+s://", "neo4j+s://"))


def test_graph_merge_and_read_back(graph_server, graph):
    db = graph_server.database
    graph.execute_query(
        "UNWIND $rows AS row MERGE (n:KbSmoke {id: row.id}) SET n.name = row.name",
        rows=[{"id": 1, "name": "one"}, {"id": 2, "name": "two"}, {"id": 1, "name": "uno"}],
        database_=db,
    )
    records, _, _ = graph.execute_query("MATCH (n:KbSmoke) RETURN n.id AS id, n.name AS name ORDER BY id", database_=db)
    assert [(r["id"], r["name"]) for r in records] == [(1, "uno"), (2, "two")]


def test_graph_fixture_starts_empty_and_resets_in_chunks(graph_server, graph):
    from tests.support.graph import reset_graph

    db = graph_server.database
    assert graph.execute_query("MATCH (n) RETURN count(n) AS c", database_=db).records[0]["c"] == 0
    graph.execute_query(
        "UNWIND range(1, 25) AS i CREATE (a:KbSmoke {id: i})-[:NEXT]->(:KbSmoke {id: 100 + i})", database_=db
    )
    assert reset_graph(graph, db, chunk=7) == 50
    assert graph.execute_query("MATCH (n) RETURN count(n) AS c", database_=db).records[0]["c"] == 0


def test_graph_server_is_stand_in_unless_neo4j_given(graph_server):
    assert graph_server.is_stand_in == (not os.environ.get("KBGRAPH_TEST_NEO4J_URI"))
    assert graph_server.password not in repr(graph_server)


@pytest.mark.needs_neo4j("this marker check")
def test_needs_neo4j_runs_only_on_real_neo4j(graph_server):
    assert not graph_server.is_stand_in


# -- MariaDB / MySQL -----------------------------------------------------------------------


def test_mysql_writes_full_row_binlog(mysql_url):
    conn = mysql_connect(mysql_url)
    try:
        assert binlog_problems(conn) == []
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL VARIABLES LIKE 'binlog_row_metadata'")
            assert cur.fetchone()[1].upper() == REQUIRED["binlog_row_metadata"]
    finally:
        conn.close()


def test_mysql_db_is_fresh_and_dropped_after(mysql_url, mysql_db):
    assert mysql_db.startswith("kbt_")
    conn = mysql_connect(mysql_url, mysql_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone()[0] == mysql_db
            cur.execute("SHOW TABLES")
            assert cur.fetchall() == ()
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
            cur.execute("INSERT INTO t VALUES (1, 'x')")
            cur.execute("SELECT name FROM t WHERE id = 1")
            assert cur.fetchone()[0] == "x"
    finally:
        conn.close()


# -- Kafka ---------------------------------------------------------------------------------


def test_kafka_produce_and_consume_one_message(kafka_bootstrap):
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"kbsmoke-{uuid.uuid4().hex[:8]}"
    key, value = b"k1", f"hello {uuid.uuid4().hex}".encode()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
        producer.flush(30)
    finally:
        producer.close(5)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"kbsmoke-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
        consumer_timeout_ms=30000,
    )
    try:
        got = next(iter(consumer))
    finally:
        consumer.close()
    assert (got.key, got.value) == (key, value)
    assert got.topic == topic
