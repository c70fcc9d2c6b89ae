"""A source server outage mid-stream (~30 s): `kbgraph sync` (a real process) waits by itself, says what
it waits for, and carries on from its position when the server is back; the final graph is right and
nothing is doubled. The graph outage is ``test_outage.py``.

MariaDB: the test's own server (``tests/support/own_mariadb.py``), really stopped and started again
on the same port and data. Kafka: the test's own Tansu, cut off and restored on the same port by a
TCP relay (``tests/support/tcp_cut.py`` says why the process itself is not restarted).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.sources.memory import rows_as_inserts
from kbgraph.verify import dump_graph
from tests.support.kill_soak import FAST_GROUP, KB_MAPPING, KBGRAPH, ROOT, compare, dead_letters, graph_env, native_record

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0  # how long the server stays away (the outage); everything else waits on conditions
DEADLINE = 120.0


def _until(condition, what: str, proc: subprocess.Popen | None = None, err: Path | None = None, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the sync exited with {proc.returncode} while waiting for {what}: "
                                 f"{err.read_text()[-2000:] if err else ''}")
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def _hold(seconds: float, proc: subprocess.Popen, err: Path) -> None:
    """The outage itself: ``seconds`` with the server away, the sync staying up all along."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, f"the sync gave up during the outage: {err.read_text()[-2000:]}"
        time.sleep(0.5)


def _start(cmd: list[str], env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp / "sync.out", tmp / "sync.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=o, stderr=e)
    return proc, out, err


def _finish(proc: subprocess.Popen, err: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(60) == 0, err.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- MariaDB -------------------------------------------------------------------------------------


@pytest.fixture
def own_mariadb(tmp_path_factory):
    from tests.support.own_mariadb import OwnMariaDB, skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = OwnMariaDB(tmp_path_factory.mktemp("own-mariadb")).install().start()
    try:
        yield server
    finally:
        server.stop()


def test_sync_waits_for_a_restarted_mariadb_and_carries_on(own_mariadb, graph, graph_server, tmp_path):
    from tests.support.binlog import scratch_dump, snapshot_into, target_of
    from tests.support.kb_sql import kb_setup
    from tests.support.mysql import mysql_connect
    from tests.support.sql_workload import SqlWorkload

    url, db, name = own_mariadb.url, "proof_outage", "mdb-outage"
    admin = mysql_connect(url)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    admin.close()
    mapping = kb_setup(url, db, tmp_path)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    conn = mysql_connect(url, db)
    work = SqlWorkload(conn, 3, label_switch=not graph_server.is_stand_in)
    work.run(30)
    snapshot_into(url, mapping, target, name)
    work.run(60)  # streamed by the sync, five changes a batch: still going when the server stops
    conn.close()

    def checkpoint() -> dict:
        return read_checkpoint(graph, target.database, name)

    snap = checkpoint()
    env = graph_env(graph_server, name, KBGRAPH_MYSQL_URL=url, KBGRAPH_SERVER_ID="4991", KBGRAPH_BATCH_SIZE="5",
                    KBGRAPH_FLUSH_MS="20", KBGRAPH_OUTAGE_CAP_S="2")
    proc, out, err = _start([*KBGRAPH, "sync", "--source", "binlog", "--mappings", str(tmp_path / "mapping.yaml")],
                            env, tmp_path)
    try:
        _until(lambda: checkpoint() != snap, "the first commit", proc, err)
        own_mariadb.stop()
        _until(lambda: "(binlog) is unreachable" in err.read_text(), "the sync to say what it waits for", proc, err)
        _hold(OUTAGE_S, proc, err)
        own_mariadb.start()
        up, old_file = time.monotonic(), checkpoint()["file"]
        conn = mysql_connect(url, db)
        work.c = conn
        work.run(30)  # written after the restart: the binlog continues in a new file
        with conn.cursor() as cur:
            cur.execute("INSERT INTO entity (id, type, name, deleted) VALUES (9999999, 'Person', 'last', 0)")
        conn.close()
        # recovered: a change written after the restart (in the server's next binlog file) is committed
        _until(lambda: checkpoint()["file"] != old_file, "a change written after the restart", proc, err)
        recovered = time.monotonic() - up
        _until(lambda: graph.execute_query("MATCH (n:Entity {id: 9999999}) RETURN count(n) AS n",
                                           database_=target.database)[0][0]["n"] == 1, "the last row", proc, err)
        _finish(proc, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.read_text()
    print(f"\nMariaDB outage: checkpoint moved {recovered:.2f} s after the server answered again")
    assert text.count("(binlog) is unreachable") == 1 and "Traceback" not in text, text[-3000:]
    assert "then carrying on from binlog" in text and text.count("(binlog) is back after") == 1, text[-3000:]
    assert re.search(r"waiting for MySQL at \S+ \(binlog\) since", out.read_text()), out.read_text()[-2000:]
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(url, mapping, target, graph)
    assert compare(streamed, expected) == (0, 0), streamed.diff(expected)


# -- Kafka ---------------------------------------------------------------------------------------


@pytest.fixture
def cut_broker(tmp_path_factory):
    from kbgraph.processes import free_port
    from tests.support.tansu import Tansu
    from tests.support.tcp_cut import TcpCut

    if os.environ.get("KBGRAPH_TEST_KAFKA"):
        pytest.skip("KBGRAPH_TEST_KAFKA names an external broker; an outage test cannot restart someone else's broker")
    relay_port = free_port()
    broker = Tansu(tmp_path_factory.mktemp("tansu-outage"), advertised_port=relay_port).start()
    relay = TcpCut(("127.0.0.1", broker.port), relay_port).restore()
    try:
        yield relay
    finally:
        relay.cut()
        broker.stop()


def test_sync_waits_for_a_restarted_broker_and_carries_on(cut_broker, graph, graph_server, tmp_path):
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from tests.support.change_workload import Workload

    bootstrap, topic, name = f"127.0.0.1:{cut_broker.port}", "proof-outage", "kafka-outage"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    mapping = compile_mappings([KB_MAPPING])
    apply_schema(graph, graph_server.database, mapping)
    work = Workload(11, label_switch=not graph_server.is_stand_in)

    def produce(n: int) -> int:
        start = len(work.changes)
        work.run(start + n)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        for change in work.changes[start:]:
            producer.send(topic, value=native_record(change))
        producer.flush()
        producer.close()
        return len(work.changes)

    first_end = produce(400)
    key = f"kafka:{topic}:0"

    def offset() -> int:
        value = read_checkpoint(graph, graph_server.database, name).get(key)
        return value if isinstance(value, int) else -1

    env = graph_env(graph_server, name, KBGRAPH_KAFKA_GROUP="g-outage", KBGRAPH_KAFKA_FORMAT="native",
                    KBGRAPH_KAFKA_CONSUMER_OPTIONS=json.dumps(FAST_GROUP), KBGRAPH_BATCH_SIZE="5",
                    KBGRAPH_FLUSH_MS="20", KBGRAPH_OUTAGE_CAP_S="2")
    proc, out, err = _start([*KBGRAPH, "sync", "--source", "kafka", "--kafka", bootstrap, "--topic", topic,
                             "--mappings", str(KB_MAPPING)], env, tmp_path)
    try:
        _until(lambda: offset() > 0, "the first commit", proc, err)
        cut_broker.cut()
        _until(lambda: "is unreachable" in err.read_text(), "the sync to say what it waits for", proc, err)
        _hold(OUTAGE_S, proc, err)
        cut_broker.restore()
        up = time.monotonic()
        end = produce(200)
        _until(lambda: offset() > first_end, "a record produced after the restart", proc, err)
        recovered = time.monotonic() - up
        _until(lambda: offset() >= end, "the last record", proc, err, deadline=300)
        _finish(proc, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.read_text()
    print(f"\nbroker outage: checkpoint moved {recovered:.2f} s after the broker answered again")
    assert "Traceback" not in text, text[-3000:]
    assert text.count(f"Kafka at {bootstrap} is unreachable") == 1 and text.count(f"Kafka at {bootstrap} is back after") == 1, text[-3000:]
    assert f"waiting for Kafka at {bootstrap} since" in out.read_text(), out.read_text()[-2000:]
    # kafka-python's own lines: at most one per logger a minute (it logs each failed attempt)
    per_logger = [m.group(1) for m in re.finditer(r"^(?:WARNING|ERROR) (kafka\.\S+):", text, re.M)]
    assert all(per_logger.count(name) <= 2 for name in set(per_logger)), text[-3000:]
    assert dead_letters(graph, graph_server.database) == 0
    streamed = dump_graph(graph, graph_server.database)
    expected = expected_graph(mapping, rows_as_inserts(work.final_rows())).dump()
    assert compare(streamed, expected) == (0, 0), streamed.diff(expected)
