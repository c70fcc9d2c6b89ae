"""SIGKILL a running `kbgraph sync --source binlog` at random points, ten times, while a writer keeps
writing; after a final catch-up run the graph equals a from-scratch load of the rows."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.verify import dump_graph
from tests.integration.binlog_support import scratch_dump, snapshot_into, target_of
from tests.integration.binlog_workload import SqlWorkload
from tests.integration.test_binlog_e2e import kb_setup
from tests.support.mysql import mysql_connect

pytestmark = pytest.mark.integration
KILLS = 10
KBGRAPH = [sys.executable, "-c", "from kbgraph.cli import main; main()"]


def _env(mysql_url, graph_server, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_"))}
    env.update({
        "NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user,
        "NEO4J_PASSWORD": graph_server.password, "NEO4J_DATABASE": graph_server.database,
        "KBGRAPH_MYSQL_URL": mysql_url, "KBGRAPH_PIPELINE": "killed", "KBGRAPH_SERVER_ID": "4971",
        "KBGRAPH_BATCH_SIZE": "5", "KBGRAPH_FLUSH_MS": "20",
    })
    env.update(extra)
    return env


def _sync(mapping_path, env):
    return subprocess.Popen([*KBGRAPH, "sync", "--source", "binlog", "--mappings",
                             str(mapping_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_at_random_points_then_restart(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    mapping_path = tmp_path / "mapping.yaml"
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    conn = mysql_connect(mysql_url, mysql_db)
    work = SqlWorkload(conn, 11, label_switch=not graph_server.is_stand_in)
    work.run(20)
    snapshot_into(mysql_url, mapping, target, "killed")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            work.transaction()
            time.sleep(0.05)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    r = random.Random(5)
    positions = []
    try:
        for _ in range(KILLS):
            before = read_checkpoint(graph, target.database, "killed")
            proc = _sync(mapping_path, _env(mysql_url, graph_server))
            deadline = time.monotonic() + 60
            while read_checkpoint(graph, target.database, "killed") == before:  # wait for its first commit
                assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
                assert time.monotonic() < deadline, "the sync committed nothing within 60 s"
                time.sleep(0.05)
            time.sleep(r.uniform(0.0, 1.0))  # then kill it at a random point of its run
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            cp = read_checkpoint(graph, target.database, "killed")
            positions.append((cp["file"], cp["pos"], cp["index"]))
    finally:
        stop.set()
        writer.join(10)
        conn.close()
    assert len(set(positions)) == KILLS, positions  # every run committed before it was killed
    done = subprocess.run([*KBGRAPH, "sync", "--source", "binlog", "--mappings",
                           str(mapping_path)], env=_env(mysql_url, graph_server, KBGRAPH_BINLOG_UNTIL_END="1", KBGRAPH_BATCH_SIZE="1000"),
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert work.committed > 50
    assert streamed == expected, streamed.diff(expected)
