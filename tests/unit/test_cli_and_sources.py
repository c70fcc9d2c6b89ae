"""CLI commands that need no database, settings precedence, and the JSONL source."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.errors import SourceError
from kbgraph.settings import load_settings
from kbgraph.sources import StandaloneContext
from kbgraph.sources.jsonl import JsonlSource

ROOT = Path(__file__).parents[2]
runner = CliRunner()


def test_validate_reports_the_example_ok():
    result = runner.invoke(app, ["validate", "--mappings", str(ROOT / "mappings")])
    assert result.exit_code == 0, result.output
    assert "rule(s)" in result.output and "entity_parent" in result.output


def test_plan_prints_cypher_and_typed_parameters_without_a_database(tmp_path):
    line = {"schema": "kb", "table": "entity", "op": "insert",
            "after": {"id": 7, "type": "Person", "name": "马云", "born_on": "1964-09-10", "deleted": 0, "parent_id": None}}
    f = tmp_path / "c.jsonl"
    f.write_bytes(orjson.dumps(line) + b"\n")
    result = runner.invoke(app, ["plan", "--changes", str(f), "--mappings", str(ROOT / "mappings")])
    assert result.exit_code == 0, result.output
    assert "UNWIND $rows AS row" in result.output
    assert "CREATE (m:`Entity`:`Person`" in result.output
    assert "date('1964-09-10')" in result.output and "马云" in result.output


def test_schema_print_lists_a_constraint_per_identity_label():
    result = runner.invoke(app, ["schema", "print", "--mappings", str(ROOT / "mappings")])
    assert result.exit_code == 0, result.output
    assert "FOR (n:`Entity`) REQUIRE (n.`id`) IS UNIQUE" in result.output
    assert "FOR ()-[r:`WORKS_AT`]-() ON (r.`_kb_id`)" in result.output
    assert "FOR (n:`KbCheckpoint`) REQUIRE (n.`pipeline`) IS UNIQUE" in result.output


def test_settings_flags_override_environment_override_config_file(tmp_path, monkeypatch):
    cfg = tmp_path / "kbgraph.toml"
    cfg.write_text('pipeline = "from-file"\nbatch_size = 11\nflush_ms = 33\nneo4j_uri = "bolt://file:7687"\n')
    monkeypatch.setenv("KBGRAPH_BATCH_SIZE", "22")
    monkeypatch.setenv("NEO4J_URI", "bolt://env:7687")
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret-pw")
    s = load_settings(cfg, batch_size=None, pipeline="from-flag")
    assert (s.pipeline, s.batch_size, s.flush_ms, s.neo4j_uri) == ("from-flag", 22, 33, "bolt://env:7687")
    assert "s3cret-pw" not in repr(s) and s.neo4j_password.get_secret_value() == "s3cret-pw"


def _write(tmp_path, *lines: bytes) -> Path:
    f = tmp_path / "c.jsonl"
    f.write_bytes(b"".join(line + b"\n" for line in lines))
    return f


def test_jsonl_groups_transactions_and_resumes_after_its_position(tmp_path):
    rows = [{"table": "t", "op": "insert", "after": {"id": i}, "transaction": tx} for i, tx in
            enumerate(["a", "a", "b", None, "c"])]
    f = _write(tmp_path, *(orjson.dumps(r) for r in rows))
    changes = list(JsonlSource(f).changes({}, StandaloneContext()))
    assert [c.tx_end for c in changes] == [False, True, True, True, True]
    resumed = list(JsonlSource(f).changes(changes[1].position, StandaloneContext()))
    assert [c.after["id"] for c in resumed] == [2, 3, 4]
    assert resumed[0].position["line"] == 3


@pytest.mark.parametrize("line, message", [
    (b"{not json", "c.jsonl:2: not JSON"),
    (b'{"table": "t", "op": "upsert", "after": {}}', "c.jsonl:2: 'op' must be one of"),
    (b'{"table": "t", "op": "delete", "before": null}', "c.jsonl:2: a delete needs 'before'"),
    (b'{"op": "insert", "after": {}}', "c.jsonl:2: 'table' must be a non-empty string"),
])
def test_jsonl_bad_line_names_file_and_line(tmp_path, line, message):
    f = _write(tmp_path, b'{"table": "t", "op": "insert", "after": {"id": 1}}', line)
    with pytest.raises(SourceError, match=message.replace("(", r"\(")):
        list(JsonlSource(f).changes({}, StandaloneContext()))


def test_metrics_mirror_the_pipeline_counts():
    from prometheus_client import generate_latest

    from kbgraph.metrics import Metrics
    from kbgraph.pipeline import RunStats
    from kbgraph.sink.writer import Counts

    m = Metrics("p1")
    stats = RunStats(Counts(changes=10, dead_letters=1, transactions=2), {}, 2.0)
    m(stats)
    stats.counts.changes = 25
    m(stats)
    text = generate_latest(m.registry).decode()
    assert 'kbgraph_changes_total{pipeline="p1"} 25.0' in text
    assert 'kbgraph_dead_letters_total{pipeline="p1"} 1.0' in text
    assert 'kbgraph_changes_per_second{pipeline="p1"} 12.5' in text
