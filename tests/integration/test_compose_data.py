"""deploy/kb-data.sql, which the compose file's MySQL loads, holds what the example change file leaves."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from kbgraph.change import Change
from kbgraph.expected import expected_graph
from kbgraph.mapping import compile_mappings
from kbgraph.sources import StandaloneContext
from kbgraph.sources.binlog.server import ConnInfo
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.sources.snapshot import SnapshotSource
from tests.support.mysql import mysql_connect

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("make_kb_data", ROOT / "deploy" / "make_kb_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_data_is_generated_from_the_change_file() -> None:
    gen = _generator()
    on_disk = (ROOT / "deploy" / "kb-data.sql").read_text(encoding="utf-8")
    assert on_disk == gen.render(gen.final_rows()), "deploy/kb-data.sql is stale: run python deploy/make_kb_data.py"


@pytest.mark.integration
def test_loaded_data_makes_the_graph_the_change_file_makes(mysql_url: str, mysql_db: str, tmp_path: Path) -> None:
    gen = _generator()
    ddl = (ROOT / "mappings" / "kb.sql").read_text(encoding="utf-8")
    data = (ROOT / "deploy" / "kb-data.sql").read_text(encoding="utf-8")
    conn = mysql_connect(mysql_url, mysql_db)
    try:
        with conn.cursor() as cur:
            for text in (ddl, data):  # as the MySQL image's init does, but into the scratch database
                for statement in text.split(";\n"):
                    body = "\n".join(ln for ln in statement.splitlines() if not ln.startswith("--")).strip()
                    if body and not body.startswith(("CREATE DATABASE", "USE ")):
                        cur.execute(body)
        conn.commit()
    finally:
        conn.close()
    # the example mapping, pointed at the scratch database
    shutil.copy(ROOT / "mappings" / "kb.sql", tmp_path / "kb.sql")
    text = (ROOT / "mappings" / "kb.yaml").read_text(encoding="utf-8")
    assert "\n  schema: kb " in text
    (tmp_path / "kb.yaml").write_text(text.replace("\n  schema: kb ", f"\n  schema: {mysql_db} "), encoding="utf-8")
    m = compile_mappings([tmp_path / "kb.yaml"])

    snap = SnapshotSource(ConnInfo.from_url(mysql_url), MappedTables.from_mapping(m))
    try:
        loaded = expected_graph(m, snap.changes({}, StandaloneContext()))
    finally:
        snap.close()
    replayed = expected_graph(m, (Change(table, "insert", None, row, schema=mysql_db)
                                  for table, rows in gen.final_rows().items() for row in rows.values()))
    assert not loaded.errors and not replayed.errors
    want, got = replayed.dump(), loaded.dump()
    assert got == want, got.diff(want, limit=10)
    assert sum(got.nodes.values()) > 50 and sum(got.relationships.values()) > 50, got.summary()


@pytest.mark.integration
def test_the_compose_login_can_snapshot_and_stream(mysql_url: str, mysql_db: str) -> None:
    """deploy/mysql-users.sh grants what kbgraph checks for (run here under another user name)."""
    from kbgraph.sources.binlog.reader import BinlogSource
    from tests.support.binlog import read_all, sql

    script = (ROOT / "deploy" / "mysql-users.sh").read_text(encoding="utf-8")
    body = script.split("<<SQL\n", 1)[1].split("\nSQL", 1)[0]
    user = f"{mysql_db}_c"[:32]
    statements = [s.strip() for s in body.replace("'kbgraph'@", f"'{user}'@").replace(
        "${KBGRAPH_MYSQL_PASSWORD}", "pw-compose").split(";") if s.strip()]
    assert len(statements) == 2 and all(f"'{user}'@'%'" in s for s in statements)
    sql(mysql_url, "CREATE TABLE a (id INT PRIMARY KEY)", "INSERT INTO a VALUES (1), (2)", db=mysql_db)
    sql(mysql_url, *statements)
    try:
        conn = ConnInfo.from_url(mysql_url)
        login = ConnInfo(conn.host, conn.port, user, "pw-compose")
        tables = MappedTables({(mysql_db, "a")})
        snap = SnapshotSource(login, tables)
        try:
            rows = [c for c in snap.changes({}, StandaloneContext()) if c.op == "insert"]
        finally:
            snap.close()
        assert [r.after["id"] for r in rows] == [1, 2]
        stream = BinlogSource(login, tables, blocking=False, initial="current", server_id=4905)
        read_all(stream)  # check_server and the dump start: no SourceError
    finally:
        sql(mysql_url, f"DROP USER '{user}'@'%'")
