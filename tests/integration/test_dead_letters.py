"""The circuit breaker and ``kbgraph dlq list | show | replay | purge`` against the real graph server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbgraph.checkpoint import read_checkpoint
from kbgraph.cli import app
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.breaker import Breaker, CircuitOpen
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.jsonl import JsonlSource
from kbgraph.sources.memory import rows_as_inserts
from kbgraph.verify import dump_graph

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
MAPPING = ROOT / "tests" / "kb_mapping.yaml"


def ent(i, **kw):
    return {"id": i, "type": "Person", "name": f"n{i}", "born_on": None, "meta": None, "score": None,
            "deleted": 0, "parent_id": None, **kw}


def write_changes(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"schema": "kb", "table": "entity", "op": "insert", "after": r}) + "\n"
                            for r in rows))
    return path


def dead_letters(graph, database, pipeline) -> int:
    return graph.execute_query("MATCH (d:KbDeadLetter {pipeline: $p}) RETURN count(d) AS n", p=pipeline,
                               database_=database).records[0]["n"]


@pytest.fixture
def target(graph_server, graph):
    t = GraphTarget(graph_server.uri, graph_server.user, graph_server.password, graph_server.database)
    apply_schema(graph, t.database, compile_mappings([MAPPING]))
    return t


@pytest.fixture
def env(graph_server):
    return {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user,
            "NEO4J_PASSWORD": graph_server.password, "NEO4J_DATABASE": graph_server.database}


def test_a_systematic_error_trips_the_breaker_at_the_checkpoint(target, graph, graph_server, env, tmp_path):
    good = [ent(i) for i in range(1, 21)]
    lacking = [{k: v for k, v in ent(i).items() if k != "deleted"} for i in range(21, 101)]  # the where's column
    feed = write_changes(tmp_path / "feed.jsonl", good + lacking)
    mapping = compile_mappings([MAPPING])
    with pytest.raises(CircuitOpen) as caught:
        Pipeline(mapping, target, name="breaker", batch_size=30, breaker=Breaker(consecutive=25)).run(JsonlSource(feed))
    text = str(caught.value)
    assert "more than 25 consecutive changes went to the dead letters" in text
    assert "most common reason (26 of 26): insert on kb.entity: where 'deleted = 0': the row has no column 'deleted'" in text
    # the 25 dead letters are committed with the checkpoint after them; the 26th is not
    assert read_checkpoint(graph, target.database, "breaker")["line"] == 45
    assert dead_letters(graph, target.database, "breaker") == 25

    # the command line: one line, exit 3 (stopped), resuming where it stopped; the setting from the environment
    run = subprocess.run([sys.executable, "-m", "kbgraph", "sync", "--changes", str(feed), "--pipeline", "breaker",
                          "--mappings", str(MAPPING)], env={**env, "PATH": "/usr/bin:/bin",
                          "KBGRAPH_BREAKER_CONSECUTIVE": "25"}, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, run.stderr
    assert run.stderr.startswith("stopped: circuit breaker: more than 25 consecutive") and "Traceback" not in run.stderr
    assert read_checkpoint(graph, target.database, "breaker")["line"] == 70
    assert dead_letters(graph, target.database, "breaker") == 50
    assert graph_server.password not in run.stdout + run.stderr


def test_dlq_list_show_purge_and_replay_after_fixing_the_mapping(target, graph, env, tmp_path):
    # the mapping's filter names a column the rows do not have: every entity goes to the dead letters
    broken = tmp_path / "broken.yaml"
    broken.write_text(MAPPING.read_text().replace('where: "deleted = 0"', 'where: "deleted = 0 AND status = 1"'))
    rows = [ent(i) for i in range(1, 31)]
    rows[7] = ent(8, type="Planet")  # not an allowed label: still fails after the fix
    feed = write_changes(tmp_path / "feed.jsonl", rows)
    stats = Pipeline(compile_mappings([broken]), target, name="dlq", batch_size=10).run(JsonlSource(feed))
    assert stats.counts.dead_letters == 30

    cli = CliRunner()

    def kb(*args: str, code: int = 0):
        result = cli.invoke(app, [*args, "--pipeline", "dlq"], env=env)
        assert result.exit_code == code, result.output
        return result.output

    listed = kb("dlq", "list")
    assert "30 dead letters" in listed and "kb.entity (30)" in listed
    assert "the row has no column 'status'" in listed

    shown = kb("dlq", "show", "--limit", "3", "--mappings", str(broken))
    heads = [ln for ln in shown.splitlines() if not ln.startswith(" ")]
    assert len(heads) == 3 and all("  insert on kb.entity  key " in h for h in heads) and 'key {"id":1}' in shown and '"line":1' in shown
    first_id = shown.split()[0]

    assert "purged 1 dead letters" in kb("dlq", "purge", first_id, "--yes")
    assert dead_letters(graph, target.database, "dlq") == 29
    assert "say which dead letters" in str(cli.invoke(app, ["dlq", "purge", "--pipeline", "dlq"], env=env).exception)

    # fixed mapping: replay applies the 28 that now translate, removes them, keeps the one that still fails
    replayed = kb("dlq", "replay", "--mappings", str(MAPPING), code=1)
    assert "replayed 29: 28 applied" in replayed and "1 still fail" in replayed
    assert "'Planet'" in replayed
    assert dead_letters(graph, target.database, "dlq") == 1
    mapping = compile_mappings([MAPPING])
    expected = expected_graph(mapping, rows_as_inserts({("kb", "entity"): rows[1:7] + rows[8:]})).dump()
    assert dump_graph(graph, target.database) == expected
    again = kb("dlq", "replay", "--mappings", str(MAPPING), code=1)  # idempotent: nothing applied twice
    assert "replayed 1: 0 applied" in again
    assert dump_graph(graph, target.database) == expected
    left = kb("dlq", "show", "--mappings", str(MAPPING))
    assert 'key {"id":8}' in left and '"line":8' in left  # its original position, not the replay's

    assert "purged 1 dead letters" in kb("dlq", "purge", "--all", "--yes")
    assert "no dead letters" in kb("dlq", "list")
