"""`kbgraph snapshot` then `kbgraph sync --source binlog` as a user runs them, and their one-line errors."""

from __future__ import annotations

import subprocess

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.verify import dump_graph
from tests.support.binlog import scratch_dump, sql, target_of
from tests.support.cli import KBGRAPH, cli_env
from tests.support.kb_sql import kb_fill, kb_setup

pytestmark = pytest.mark.integration



def _env(mysql_url, graph_server, **extra):
    return cli_env(graph_server, mysql_url=mysql_url, **{"KBGRAPH_PIPELINE": "killed", "KBGRAPH_SERVER_ID": "4971",
                                                         "KBGRAPH_BATCH_SIZE": "5", "KBGRAPH_FLUSH_MS": "20", **extra})

def _run(args, env):
    return subprocess.run([*KBGRAPH, *args], env=env, capture_output=True, timeout=300, text=True)


def test_snapshot_then_sync_on_the_command_line(mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    env = _env(mysql_url, graph_server, KBGRAPH_PIPELINE="cli", KBGRAPH_BINLOG_UNTIL_END="1",
               KBGRAPH_BATCH_SIZE="500", COLUMNS="120")
    files = ["--mappings", str(tmp_path / "mapping.yaml")]
    early = _run(["sync", "--source", "binlog", *files], env)
    assert early.returncode == 2
    assert early.stderr.strip().splitlines() == [
        "error: the graph holds no binlog position for this pipeline: run `kbgraph snapshot` first "
        "(it loads the tables and records where the stream continues)"]
    kb_fill(mysql_url, mysql_db, 120)
    snap = _run(["snapshot", "--chunk", "50", *files], env)
    assert snap.returncode == 0, snap.stderr
    out = " ".join(snap.stdout.split())  # rich wraps long lines
    assert "snapshot done: 240 rows read, 240 applied" in out and "rows/s" in out
    cp = read_checkpoint(graph, target.database, "cli")
    assert cp["snapshot"]["done"] is True and f"continues at {cp['file']}:{cp['pos']}" in out
    sql(mysql_url, "UPDATE entity SET name = 'after snapshot' WHERE id < 10", "DELETE FROM relation WHERE id > 100",
        db=mysql_db)
    synced = _run(["sync", "--source", "binlog", *files], env)
    assert synced.returncode == 0, synced.stderr
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert streamed == expected, streamed.diff(expected)


def test_command_line_errors_are_one_line(mysql_url, mysql_db, graph, graph_server, tmp_path):
    kb_setup(mysql_url, mysql_db, tmp_path)
    files = ["--mappings", str(tmp_path / "mapping.yaml")]
    bad = _run(["snapshot", *files], _env("mysql://kbgraph:Secr3tPw@127.0.0.1:3306", graph_server, KBGRAPH_PIPELINE="e"))
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the login" in lines[0] and "Secr3tPw" not in lines[0]
    closed = _run(["sync", "--source", "binlog", *files], _env("mysql://root@127.0.0.1:1", graph_server, KBGRAPH_PIPELINE="e"))
    assert closed.returncode == 2 and len(closed.stderr.strip().splitlines()) == 1
    assert "cannot connect to MySQL at root@127.0.0.1:1" in closed.stderr
