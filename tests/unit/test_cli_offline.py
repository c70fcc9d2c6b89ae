"""CLI commands that need no database, and the settings precedence they read (flags > environment > file)."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.settings import load_settings

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
