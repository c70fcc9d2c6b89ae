"""The pipeline against the real graph server: checkpoint, resume, split transactions, dead letters."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kbgraph.change import Change
from kbgraph.checkpoint import read_checkpoint
from kbgraph.errors import SchemaMissingError, StopAtCheckpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.jsonl import JsonlSource
from kbgraph.sources.memory import ListSource
from kbgraph.verify import dump_graph, reset_graph

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
MAPPING = ROOT / "tests" / "kb_mapping.yaml"
EXAMPLE = ROOT / "mappings"


@pytest.fixture(scope="module")
def mapping():
    return compile_mappings([MAPPING])


@pytest.fixture
def target(graph_server, graph, mapping):
    t = GraphTarget(graph_server.uri, graph_server.user, graph_server.password, graph_server.database)
    apply_schema(graph, t.database, mapping)
    return t


def ent(i, **kw):
    return {"id": i, "type": "Person", "name": f"n{i}", "born_on": None, "meta": None, "score": None,
            "deleted": 0, "parent_id": None, **kw}


def test_sync_refuses_to_start_without_the_schema(graph_server, graph, tmp_path):
    label = f"NoSchema{uuid.uuid4().hex[:8]}"  # a label no other test has made constraints for
    (tmp_path / "m.yaml").write_text(f"entities:\n  - table: t\n    label: {label}\n    key: [id]\n")
    m = compile_mappings([tmp_path / "m.yaml"])
    t = GraphTarget(graph_server.uri, graph_server.user, graph_server.password, graph_server.database)
    with pytest.raises(SchemaMissingError, match="kbgraph schema apply"):
        Pipeline(m, t, name="noschema").run(ListSource([]))


def test_resume_applies_each_line_exactly_once(target, graph, tmp_path):
    m = compile_mappings([EXAMPLE])
    apply_schema(graph, target.database, m)
    lines = (EXAMPLE / "kb-changes.jsonl").read_bytes().splitlines(keepends=True)
    Pipeline(m, target, name="once").run(JsonlSource(EXAMPLE / "kb-changes.jsonl"))
    once = dump_graph(graph, target.database)

    reset_graph(graph, target.database)
    feed = tmp_path / "feed.jsonl"
    cut = len(lines) // 3
    feed.write_bytes(b"".join(lines[:cut]))
    first = Pipeline(m, target, name="twice", batch_size=16).run(JsonlSource(feed))
    with feed.open("ab") as f:  # the producer appends; a restarted sync continues after its checkpoint
        f.write(b"".join(lines[cut:]))
    second = Pipeline(m, target, name="twice", batch_size=16).run(JsonlSource(feed))
    assert first.counts.changes == cut and second.counts.changes == len(lines) - cut
    assert read_checkpoint(graph, target.database, "twice")["line"] == len(lines)
    assert dump_graph(graph, target.database) == once


def test_large_transaction_is_split_with_positions_inside_it(target, mapping, graph):
    changes = [Change("entity", "insert", None, ent(i), schema="kb", tx="big", tx_end=(i == 25)) for i in range(1, 26)]
    changes.append(Change("entity", "insert", None, ent(26), schema="kb", tx="small"))
    source = ListSource(changes)
    stats = Pipeline(mapping, target, name="split", batch_size=10).run(source)
    # two parts of 10 split from the big transaction, then its last 5 with the small one
    assert [p["seq"] for p in source.committed_positions] == [10, 20, 26]
    assert stats.counts.transactions == 3
    n = graph.execute_query("MATCH (n:Entity) RETURN count(n) AS n", database_=target.database).records[0]["n"]
    assert n == 26


@pytest.fixture
def unique_names(graph, target):
    """A constraint a DBA added that kbgraph's mappings know nothing of: rows that break it fail for good."""
    graph.execute_query("CREATE CONSTRAINT test_unique_name IF NOT EXISTS FOR (n:Entity) REQUIRE n.name IS UNIQUE",
                        database_=target.database)
    yield
    graph.execute_query("DROP CONSTRAINT test_unique_name IF EXISTS", database_=target.database)


def _collision(i):
    # a new entity with the name of entity 2 breaks that constraint: a permanent failure
    return Change("entity", "insert", None, ent(100 + i, name="n2"), schema="kb")


def test_failing_change_is_isolated_into_a_dead_letter_and_the_rest_applies(target, mapping, graph, unique_names):
    changes = [Change("entity", "insert", None, ent(i), schema="kb") for i in range(1, 9)]
    changes.insert(5, _collision(0))
    changes.append(Change("entity", "insert", None, ent(9, type="Planet"), schema="kb"))  # rejected by the mapping
    stats = Pipeline(mapping, target, name="dlq", batch_size=100).run(ListSource(changes))
    assert stats.counts.dead_letters == 2
    rows = graph.execute_query("MATCH (d:KbDeadLetter {pipeline: 'dlq'}) RETURN d.reason AS reason, d.position AS pos "
                               "ORDER BY d.position", database_=target.database).records
    reasons = sorted(r["reason"] for r in rows)
    assert any("graph rejected insert on kb.entity" in r for r in reasons)
    assert any("'Planet'" in r and "not an allowed label" in r for r in reasons)
    names = {r["n"] for r in graph.execute_query("MATCH (n:Entity) RETURN n.name AS n", database_=target.database).records}
    assert names == {f"n{i}" for i in range(1, 9)}
    assert read_checkpoint(graph, target.database, "dlq") == {"seq": 10}


def test_on_error_stop_keeps_the_checkpoint_just_before_the_failing_change(target, mapping, graph, unique_names):
    changes = [Change("entity", "insert", None, ent(i), schema="kb") for i in range(1, 5)]
    changes.insert(3, _collision(0))
    with pytest.raises(StopAtCheckpoint):
        Pipeline(mapping, target, name="stop", batch_size=100, on_error="stop").run(ListSource(changes))
    assert read_checkpoint(graph, target.database, "stop") == {"seq": 3}
    dead = graph.execute_query("MATCH (d:KbDeadLetter {pipeline: 'stop'}) RETURN count(d) AS n",
                               database_=target.database).records[0]["n"]
    assert dead == 0


@pytest.mark.needs_neo4j
def test_label_switch_inside_a_batch(target, mapping, graph):
    changes = [Change("entity", "insert", None, ent(1), schema="kb"),
               Change("entity", "update", ent(1), ent(1, type="Place"), schema="kb")]
    Pipeline(mapping, target, name="switch").run(ListSource(changes))
    labels = graph.execute_query("MATCH (n:Entity {id: 1}) RETURN labels(n) AS l", database_=target.database).records
    assert sorted(labels[0]["l"]) == ["Entity", "Place"]


def test_cli_sync_and_status_against_the_server(graph_server, graph, tmp_path):
    env = {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user,
           "NEO4J_PASSWORD": graph_server.password, "NEO4J_DATABASE": graph_server.database, "PATH": "/usr/bin:/bin"}
    kb = [sys.executable, "-m", "kbgraph"]
    run = lambda *a: subprocess.run([*kb, *a], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: E731
    assert run("schema", "apply").returncode == 0
    done = run("sync", "--changes", "mappings/kb-changes.jsonl", "--pipeline", "cli")
    assert done.returncode == 0, done.stderr
    assert "310 changes" in done.stdout
    again = run("sync", "--changes", "mappings/kb-changes.jsonl", "--pipeline", "cli")
    assert "0 changes" in again.stdout  # resumed at the end: nothing applied twice
    status = run("status", "--pipeline", "cli")
    assert status.returncode == 0 and "310 changes applied" in status.stdout
    assert graph_server.password not in done.stdout + done.stderr + status.stdout
    bad = run("sync", "--changes", "no/such.jsonl", "--pipeline", "cli")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: change file 'no/such.jsonl' does not exist")
