"""Papercuts a new user met (issue 10), each checked the way the user meets it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.errors import SourceError
from kbgraph.settings import load_settings
from kbgraph.sources.binlog.reader import BinlogSource
from kbgraph.sources.binlog.server import ConnInfo
from kbgraph.sources.binlog.tables import MappedTables
from tests.support.binlog import conn_info, read_all, sql

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_validate_takes_paths_as_arguments_like_a_linter(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(ROOT / "mappings")])
    assert ok.exit_code == 0, ok.output
    assert "ok" in ok.output and "entity_parent" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities:\n  - table: t\n    label: T\n    key: []\n", encoding="utf-8")
    both = runner.invoke(app, ["validate", str(ROOT / "mappings" / "kb.yaml"), str(bad)])
    assert both.exit_code != 0  # the error reaches main(), which prints it as one line
    assert str(both.exception) == f"{bad}:4: entities[0].key: at least one key column is needed"


def test_sync_names_the_server_id_flag_and_it_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    help_text = " ".join(runner.invoke(app, ["sync", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "--server-id" in help_text and "KBGRAPH_SERVER_ID" in help_text and "unique" in help_text
    monkeypatch.setenv("KBGRAPH_SERVER_ID", "5001")
    assert load_settings().server_id == 5001
    assert load_settings(server_id=5002).server_id == 5002


@pytest.mark.integration
def test_status_with_mappings_lists_every_mapped_label_and_type(graph, graph_server) -> None:
    graph.execute_query("CREATE (:Entity:Person {id: 1, name: 'x'})", database_=graph_server.database)
    env = {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user,
           "NEO4J_PASSWORD": graph_server.password, "NEO4J_DATABASE": graph_server.database, "COLUMNS": "200"}
    result = runner.invoke(app, ["status", "-m", str(ROOT / "mappings")], env=env)
    assert result.exit_code == 0, result.output
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]]
            for ln in result.output.splitlines() if ln.count("│") == 4}
    assert rows[":Person"] == ["1", "yes"]
    assert rows[":Organization"] == ["0", "yes"]  # mapped, none yet
    assert rows["[:WORKS_AT]"] == ["0", "yes"]
    assert graph_server.password not in result.output


@pytest.mark.integration
def test_missing_binlog_privilege_gives_its_advice_once(mysql_url: str, mysql_db: str) -> None:
    sql(mysql_url, "CREATE TABLE a (id INT PRIMARY KEY)", db=mysql_db)
    user = f"{mysql_db}_s"[:32]
    sql(mysql_url, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'", f"GRANT SELECT ON *.* TO '{user}'@'%'")
    try:
        base = conn_info(mysql_url)
        src = BinlogSource(ConnInfo(base.host, base.port, user, "pw"), MappedTables({(mysql_db, "a")}),
                           blocking=False, initial="current", server_id=4904)
        with pytest.raises(SourceError) as info:
            read_all(src)
    finally:
        sql(mysql_url, f"DROP USER '{user}'@'%'")
    text = str(info.value)
    assert "lacks a privilege" in text and "REPLICATION CLIENT" in text, text
    assert text.lower().count("grant") == 1, text


@pytest.mark.integration
def test_snapshot_if_needed_runs_once(mysql_url, mysql_db, graph, graph_server, tmp_path) -> None:
    """What the compose file's snapshot container runs at every start: a second run must not reload."""
    from tests.support.kb_sql import kb_fill, kb_setup

    kb_setup(mysql_url, mysql_db, tmp_path)
    kb_fill(mysql_url, mysql_db, 30)
    env = {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user, "NEO4J_PASSWORD": graph_server.password,
           "NEO4J_DATABASE": graph_server.database, "KBGRAPH_MYSQL_URL": mysql_url, "KBGRAPH_PIPELINE": "once",
           "COLUMNS": "200"}
    files = ["--mappings", str(tmp_path / "mapping.yaml")]
    assert runner.invoke(app, ["schema", "apply", *files], env=env).exit_code == 0

    def snap() -> str:
        done = runner.invoke(app, ["snapshot", "--if-needed", "-q", *files], env=env)
        assert done.exit_code == 0, done.output
        return " ".join(done.output.split())

    assert "snapshot done: 60 rows read" in snap()
    again = snap()
    assert "pipeline once already streams from" in again and "no snapshot needed" in again
