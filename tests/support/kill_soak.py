"""SIGKILL `kbgraph sync` at random points while changes keep coming, restart it each time, then
compare the graph with the graph of the final rows. Shared by ``bench/kill_soak.py`` (≥ 50 points)
and the kill tests (10 points), for the binlog and the Kafka source.

A point: start ``kbgraph sync`` (a real process), wait until its checkpoint moves (the time from
the start to that commit is the *recovery*), let it run a random time chosen by the seed, SIGKILL
it. After the last point the feed stops, one more run catches up, and the graph is compared:
*divergences* are elements one side has and the other lacks (by content, counted with
multiplicity), *duplicates* are extra copies of an identical node or relationship beyond what the
graph of the final rows holds.
"""

from __future__ import annotations

import json
import random
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from kbgraph.checkpoint import read_checkpoint
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.sources.memory import rows_as_inserts
from kbgraph.verify import GraphDump, dump_graph, reset_graph
from tests.support.cli import KBGRAPH, cli_env

ROOT = Path(__file__).resolve().parents[2]
KB_MAPPING = ROOT / "tests" / "kb_mapping.yaml"  # the mapping of tests/support/change_workload.py
FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}  # Tansu joins take session_timeout/2
DEADLINE_S = 120.0  # a run that commits nothing this long after its start fails the soak


class GraphLike(Protocol):
    uri: str
    user: str
    password: str
    database: str


@dataclass
class SoakReport:
    source: str
    points: int
    recoveries: list[float]  # restart -> first commit of the new run, seconds
    divergences: int = 0
    duplicates: int = 0
    changes: int = 0  # changes fed while the soak ran
    diff: str = ""
    logs: list[str] = field(default_factory=list)

    def line(self) -> str:
        r = self.recoveries
        rec = f"{min(r):.2f} / {statistics.median(r):.2f} / {max(r):.2f} s" if r else "n/a"
        return (f"{self.source}: {self.points} kill points, {self.changes:,} changes fed, divergences {self.divergences}, "
                f"duplicates {self.duplicates}, recovery (restart -> checkpoint moves) min/median/max {rec}")


def compare(streamed: GraphDump, expected: GraphDump) -> tuple[int, int]:
    """(divergences, duplicates) of ``streamed`` against ``expected``; see the module doc."""
    divergences = duplicates = 0
    for mine, theirs in ((streamed.nodes, expected.nodes), (streamed.relationships, expected.relationships)):
        divergences += sum((mine - theirs).values()) + sum((theirs - mine).values())
        duplicates += sum(n - max(theirs.get(k, 0), 1) for k, n in mine.items() if n > 1 and n > theirs.get(k, 0))
    return divergences, duplicates


def graph_env(graph: GraphLike, pipeline: str, **extra: str) -> dict[str, str]:
    return cli_env(graph, pipeline=pipeline, **extra)


def kill_at_random_points(start: Callable[[], subprocess.Popen[bytes]], progress: Callable[[], Any], points: int,
                          seed: int, max_run_s: float = 1.0, say: Callable[[str], None] | None = None) -> list[float]:
    """The kill loop of the module doc; returns the recovery of each point."""
    rng = random.Random(seed)
    recoveries: list[float] = []
    for i in range(points):
        before = progress()
        proc = start()
        started = time.monotonic()
        try:
            while progress() == before:
                if proc.poll() is not None:
                    raise AssertionError(f"point {i}: the sync exited with {proc.returncode}: {_tail(proc)}")
                if time.monotonic() - started > DEADLINE_S:
                    raise AssertionError(f"point {i}: the sync committed nothing within {DEADLINE_S:.0f} s")
                time.sleep(0.02)
            recoveries.append(time.monotonic() - started)
            time.sleep(rng.uniform(0.0, max_run_s))  # the random point (a seeded delay after its first commit)
            if proc.poll() is not None:
                raise AssertionError(f"point {i}: the sync exited with {proc.returncode} before the kill: {_tail(proc)}")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        if say is not None:
            say(f"  point {i + 1}/{points}: recovered in {recoveries[-1]:.2f} s, checkpoint {progress()}")
    return recoveries


def _tail(proc: subprocess.Popen[bytes]) -> str:
    err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
    return err[-2000:]


def _popen(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.PIPE)


# -- binlog ------------------------------------------------------------------------------------


def binlog_soak(mysql_url: str, graph: GraphLike, driver: Any, tmp: Path, *, points: int, seed: int,
                server_id: int, label_switch: bool = False, say: Callable[[str], None] | None = None) -> SoakReport:
    """The soak for ``sync --source binlog`` in a fresh database ``proof_kill_<hex>`` on ``mysql_url``."""
    from tests.support.binlog import scratch_dump, snapshot_into, target_of
    from tests.support.kb_sql import kb_setup
    from tests.support.mysql import mysql_connect
    from tests.support.sql_workload import SqlWorkload

    db = f"proof_kill_{uuid.uuid4().hex[:10]}"
    admin = mysql_connect(mysql_url)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    try:
        mapping = kb_setup(mysql_url, db, tmp)
        target = target_of(graph)
        reset_graph(driver, graph.database)
        apply_schema(driver, graph.database, mapping)
        conn = mysql_connect(mysql_url, db)
        work = SqlWorkload(conn, seed, label_switch=label_switch)
        work.run(20)
        name = f"kill-{uuid.uuid4().hex[:6]}"
        snapshot_into(mysql_url, mapping, target, name)
        env = graph_env(graph, name, KBGRAPH_MYSQL_URL=mysql_url, KBGRAPH_SERVER_ID=str(server_id),
                        KBGRAPH_BATCH_SIZE="5", KBGRAPH_FLUSH_MS="20")
        cmd = [*KBGRAPH, "sync", "--source", "binlog", "--mappings", str(tmp / "mapping.yaml")]
        stop = threading.Event()

        def write() -> None:
            while not stop.is_set():
                work.transaction()
                time.sleep(0.05)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            recoveries = kill_at_random_points(lambda: _popen(cmd, env, tmp / "sync.log"),
                                               lambda: read_checkpoint(driver, graph.database, name), points, seed, say=say)
        finally:
            stop.set()
            writer.join(30)
            conn.close()
        done = subprocess.run(cmd, env={**env, "KBGRAPH_BINLOG_UNTIL_END": "1", "KBGRAPH_BATCH_SIZE": "1000"},
                              cwd=ROOT, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        streamed = dump_graph(driver, graph.database)
        expected = scratch_dump(mysql_url, mapping, target, driver)
        report = SoakReport("binlog", points, recoveries, changes=work.committed)
        report.divergences, report.duplicates = compare(streamed, expected)
        report.diff = streamed.diff(expected)
        return report
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()


# -- kafka ---------------------------------------------------------------------------------------


def native_record(change: Any) -> bytes:
    """A change as kbgraph's own Kafka envelope (``kbgraph.sources.kafka.native``)."""
    return orjson.dumps({"table": change.table, "schema": change.schema, "op": change.op,
                         "before": change.before, "after": change.after})


def kafka_soak(bootstrap: str, graph: GraphLike, driver: Any, tmp: Path, *, points: int, seed: int,
               label_switch: bool = False, say: Callable[[str], None] | None = None) -> SoakReport:
    """The soak for ``sync --source kafka`` on a fresh one-partition topic of native records, fed
    by a producer thread from ``tests.support.change_workload.Workload`` while the kills go on."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from tests.support.change_workload import Workload

    topic = f"proof-kill-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    mapping = compile_mappings([KB_MAPPING])
    reset_graph(driver, graph.database)
    apply_schema(driver, graph.database, mapping)
    name = f"kill-{topic}"
    env = graph_env(graph, name, KBGRAPH_KAFKA_GROUP=f"g-{topic}", KBGRAPH_KAFKA_FORMAT="native",
                    KBGRAPH_KAFKA_CONSUMER_OPTIONS=json.dumps(FAST_GROUP), KBGRAPH_BATCH_SIZE="5", KBGRAPH_FLUSH_MS="20")
    cmd = [*KBGRAPH, "sync", "--source", "kafka", "--kafka", bootstrap, "--topic", topic, "--mappings", str(KB_MAPPING)]
    work = Workload(seed, label_switch=label_switch)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    stop = threading.Event()
    sent = [0]
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            while not stop.is_set():
                work.run(sent[0] + 5)
                for change in work.changes[sent[0]:]:
                    producer.send(topic, value=native_record(change))
                sent[0] = len(work.changes)
                producer.flush()
                time.sleep(0.2)  # ~25 changes/s: about what a sync committing five a batch keeps up with
        except BaseException as e:  # noqa: BLE001 - reported by the soak
            failure.append(e)

    key = f"kafka:{topic}:0"

    def offset() -> int:
        value = read_checkpoint(driver, graph.database, name).get(key)
        return int(value) if isinstance(value, int) else -1

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        recoveries = kill_at_random_points(lambda: _popen(cmd, env, tmp / "sync.log"), offset, points, seed, say=say)
    finally:
        stop.set()
        feeder.join(60)
        producer.close()
    assert not failure, failure
    end = sent[0]  # one record per change on one partition: the last offset + 1
    proc = _popen(cmd, {**env, "KBGRAPH_BATCH_SIZE": "1000", "KBGRAPH_FLUSH_MS": "500"}, tmp / "sync.log")
    try:
        deadline = time.monotonic() + 1800
        while offset() < end:
            assert proc.poll() is None, _tail(proc)
            assert time.monotonic() < deadline, f"the catch-up run reached offset {offset()} of {end}"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, _tail(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    streamed = dump_graph(driver, graph.database)
    expected = expected_graph(mapping, rows_as_inserts(work.final_rows())).dump()
    report = SoakReport("kafka", points, recoveries, changes=end)
    report.divergences, report.duplicates = compare(streamed, expected)
    report.diff = streamed.diff(expected)
    return report


def dead_letters(driver: Any, database: str) -> int:
    return int(driver.execute_query("MATCH (d:KbDeadLetter) RETURN count(d) AS n", database_=database)[0][0]["n"])

