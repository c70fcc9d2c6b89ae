"""kbgraph verify against MariaDB/MySQL and the graph server: equal after a snapshot (null leaves, empty
maps, BIGINT UNSIGNED max), each kind of difference by key across chunk borders, --json, --repair
then equal (idempotent, checkpoint untouched), and a user with nothing but SELECT."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import quote, urlsplit

import pytest
from typer.testing import CliRunner

from kbgraph.checkpoint import read_checkpoint
from kbgraph.cli.app import app
from kbgraph.graph.schema import apply_schema
from tests.support.binlog import compile_yaml, snapshot_into, sql, sync_into, target_of
from tests.support.mysql import mysql_connect

pytestmark = pytest.mark.integration

DDL = [
    """CREATE TABLE entity (id INT PRIMARY KEY, type VARCHAR(20), name VARCHAR(100), meta JSON,
       big BIGINT UNSIGNED, parent_id INT NULL, deleted TINYINT NOT NULL DEFAULT 0, KEY (parent_id))""",
    """CREATE TABLE relation (id INT PRIMARY KEY, src_id INT NULL, predicate VARCHAR(20), dst_id INT NULL, weight DOUBLE)""",
    """CREATE TABLE attribute (id INT PRIMARY KEY, entity_id INT NOT NULL, k VARCHAR(20) NOT NULL, v VARCHAR(20),
       UNIQUE KEY (entity_id, k))""",
    """CREATE TABLE alias (id INT PRIMARY KEY, entity_id INT NULL, lang VARCHAR(5), alias VARCHAR(100), KEY (entity_id))""",
]
MAPPING = """
source: {{schema: {db}}}
entities:
  - table: entity
    label: Entity
    label_from: {{column: type, allow: [Person, Organization]}}
    key: [id]
    properties:
      name: name
      meta: {{column: meta, type: json}}
      big: big
    where: "deleted = 0"
relations:
  - table: relation
    key: [id]
    type_from: {{column: predicate, allow: [WORKS_AT, KNOWS]}}
    from: {{label: Entity, key: {{id: src_id}}}}
    to: {{label: Entity, key: {{id: dst_id}}}}
    properties: {{weight: weight}}
  - name: parent
    table: entity
    key: [id]
    type: PART_OF
    from: {{label: Entity, key: {{id: id}}}}
    to: {{label: Entity, key: {{id: parent_id}}}}
properties:
  - table: attribute
    owner: {{label: Entity, key: {{id: entity_id}}}}
    name: k
    value: v
    as: node_property
  - table: alias
    owner: {{label: Entity, key: {{id: entity_id}}}}
    name: lang
    value: alias
    as: property_node
    label: Alias
    rel_type: HAS_ALIAS
"""


@pytest.fixture
def verify_db(mysql_url):
    """A database of this branch's own (``verify_<hex>``), dropped after the test."""
    name = f"verify_{uuid.uuid4().hex[:10]}"
    sql(mysql_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        sql(mysql_url, f"DROP DATABASE IF EXISTS `{name}`")


def _load(mysql_url, db, graph, graph_server, tmp_path):
    sql(mysql_url, *DDL, db=db)
    (tmp_path / "mapping.yaml").write_text(MAPPING.format(db=db), encoding="utf-8")
    mapping = compile_yaml(tmp_path, MAPPING.format(db=db))
    ents = []
    for i in range(1, 15):
        meta = {1: '{"note": null, "a": {"b": 1}}', 2: "{}", 3: '{"e": {}, "n": null}'}.get(i, f'{{"i": {i}}}')
        big = "18446744073709551615" if i == 5 else str(i * 1000)
        ents.append(f"({i}, '{'Person' if i % 2 else 'Organization'}', 'e{i}', '{meta}', {big}, "
                    f"{'NULL' if i < 3 else i // 2}, {1 if i == 13 else 0})")
    sql(mysql_url, f"INSERT INTO entity VALUES {', '.join(ents)}",
        "UPDATE entity SET name = 'Anne' WHERE id = 7",
        "INSERT INTO relation VALUES " + ", ".join(
            f"({i}, {i}, '{'KNOWS' if i % 3 else 'WORKS_AT'}', {15 - i if i != 9 else 42}, {i / 2})" for i in range(1, 12)),
        "INSERT INTO attribute VALUES (1, 2, 'color', 'red'), (2, 2, 'size', 'L'), (3, 4, 'color', 'green'), "
        "(4, 8, 'size', NULL), (5, 99, 'color', 'grey')",
        "INSERT INTO alias VALUES (1, 3, 'en', 'three'), (2, 3, 'zh', '三'), (3, 6, 'en', 'six'), (4, 77, 'en', 'ghost')",
        db=db)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    stats, _ = snapshot_into(mysql_url, mapping, target, "vf", chunk=4)
    assert stats.counts.dead_letters == 1  # entity 5: BIGINT UNSIGNED max does not fit the graph's integers
    return target


def _verify(mysql_url, graph_server, tmp_path, *args):
    env = {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user, "NEO4J_PASSWORD": graph_server.password,
           "NEO4J_DATABASE": graph_server.database, "KBGRAPH_MYSQL_URL": mysql_url, "KBGRAPH_PIPELINE": "vf",
           "COLUMNS": "400"}
    result = CliRunner().invoke(app, ["verify", "--mappings", str(tmp_path / "mapping.yaml"), "--wait", "5", *args],
                                env=env)
    return result.exit_code, " ".join(result.output.split()), result


def test_verify_equal_then_every_difference_by_key_then_repair(mysql_url, verify_db, graph, graph_server, tmp_path):
    target = _load(mysql_url, verify_db, graph, graph_server, tmp_path)
    code, out, res = _verify(mysql_url, graph_server, tmp_path, "--chunk", "3")
    assert code == 0, res.output
    assert "verified" in out and "1 rows the mappings reject" in out and "big" in out
    # the null leaves and empty maps are as the writer left them: no false positive above
    records, _, _ = graph.execute_query("MATCH (n:Entity) WHERE n.id IN [1, 2, 3] RETURN n.id AS id, properties(n) AS p "
                                        "ORDER BY id", database_=target.database)
    p1, p2, p3 = (r["p"] for r in records)
    assert "meta.note" not in p1 and p1["meta.a.b"] == 1 and p2["meta"] == "{}" and p3["meta.e"] == "{}"

    q = lambda text: graph.execute_query(text, database_=target.database)  # noqa: E731
    q("MATCH (n:Entity {id: 12}) DETACH DELETE n")  # missing node (and its relationships)
    q("CREATE (:Entity:Person {id: 999, name: 'ghost'})")  # extra node
    q("MATCH (n:Entity {id: 7}) SET n.name = 'Ann'")  # differing property
    q("MATCH ()-[r:WORKS_AT {_kb_id: 'relation:[3]'}]->() DELETE r")  # missing relationship
    q("MATCH (a:Entity {id: 1}), (b:Entity {id: 4}) CREATE (a)-[:KNOWS {_kb_id: 'relation:[77]'}]->(b)")  # extra one
    q("MATCH (n:Entity {id: 2}) SET n.color = 'blue', n.nick = 'x'")  # attribute differs, attribute extra
    q("MATCH (p:Alias {_kb_id: 'alias:[3,\"zh\"]'}) DETACH DELETE p")  # missing property node
    cp_before = read_checkpoint(graph, target.database, "vf")

    code, out, res = _verify(mysql_url, graph_server, tmp_path, "--chunk", "3", "--show", "50")
    assert code == 1, res.output
    assert "missing Entity {id: 12}" in out
    assert "extra Entity {id: 999}" in out
    assert "differs Entity {id: 7}: name: graph 'Ann' ≠ source 'Anne'" in out
    assert "missing (Entity {id: 3})-[:WORKS_AT {_kb_id: 'relation:[3]'}]->(Entity {id: 12})" in out
    assert "extra [:KNOWS {_kb_id: 'relation:[77]'}]" in out, res.output
    assert "differs Entity {id: 2}: color: graph 'blue' ≠ source 'red'" in out
    assert "extra Entity {id: 2}: nick = 'x'" in out
    assert "missing Entity {id: 3}-[:HAS_ALIAS]->(Alias {_kb_id: 'alias:[3,\"zh\"]'})" in out, res.output
    assert "rows the mappings reject" in out

    code, _, res = _verify(mysql_url, graph_server, tmp_path, "--chunk", "3", "--json")
    assert code == 1
    report = json.loads(res.stdout)
    by_rule = {r["rule"]: r for r in report["rules"]}
    assert not report["equal"] and report["differences"] == sum(r["missing"] + r["extra"] + r["differs"]
                                                                for r in report["rules"])
    assert by_rule["entity"]["missing"] == 1 and by_rule["entity"]["rows"] == 14 and by_rule["entity"]["rejected"] == 1

    code, out, res = _verify(mysql_url, graph_server, tmp_path, "--chunk", "3", "--repair")
    assert code == 0, res.output
    assert "repaired" in out
    assert read_checkpoint(graph, target.database, "vf") == cp_before  # repair is no step of the stream
    for _ in range(2):  # equal now, and a second repair finds nothing to do
        code, out, res = _verify(mysql_url, graph_server, tmp_path, "--chunk", "3", "--repair")
        assert code == 0 and "verified" in out and "repaired" not in out, res.output


def test_verify_with_a_select_only_user(mysql_url, verify_db, graph, graph_server, tmp_path):
    target = _load(mysql_url, verify_db, graph, graph_server, tmp_path)
    user, password = f"vro_{uuid.uuid4().hex[:8]}", "S3lectOnly!pw"
    sql(mysql_url, f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON `{verify_db}`.* TO '{user}'@'%'")
    try:
        conn = mysql_connect(mysql_url)
        with conn.cursor() as cur:
            cur.execute(f"SHOW GRANTS FOR '{user}'@'%'")
            grants = " ".join(r[0] for r in cur.fetchall())
        conn.close()
        assert "REPLICATION" not in grants and "BINLOG" not in grants
        server = urlsplit(mysql_url)
        url = f"mysql://{user}:{quote(password)}@{server.hostname or '127.0.0.1'}:{server.port or 3306}"
        code, out, res = _verify(url, graph_server, tmp_path, "--chunk", "5")
        assert code == 0, res.output
        assert "verified" in out
        graph.execute_query("MATCH (n:Entity {id: 4}) SET n.name = 'changed'", database_=target.database)
        code, out, res = _verify(url, graph_server, tmp_path, "--chunk", "5")
        assert code == 1 and "Entity {id: 4}: name: graph 'changed' ≠ source 'e4'" in out, res.output
        assert password not in res.output
    finally:
        sql(mysql_url, f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_difference_the_running_sync_clears_is_not_reported(mysql_url, verify_db, graph, graph_server, tmp_path):
    """verify finds entity 4 behind the source, says it waits for the sync, the sync catches up, and
    the re-check finds nothing: exit 0. The sync starts only once verify says it waits."""
    target = _load(mysql_url, verify_db, graph, graph_server, tmp_path)
    mapping = compile_yaml(tmp_path, MAPPING.format(db=verify_db))
    sql(mysql_url, "UPDATE entity SET name = 'renamed' WHERE id = 4", db=verify_db)  # not synced yet
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_"))}
    env.update({"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user,
                "NEO4J_PASSWORD": graph_server.password, "NEO4J_DATABASE": graph_server.database,
                "KBGRAPH_MYSQL_URL": mysql_url, "KBGRAPH_PIPELINE": "vf", "COLUMNS": "400"})
    # --idle: after the sync's last commit the checkpoint stands still (other databases on this shared
    # server move the binlog on, so "passed" may never come); it bounds how long the sync may take to start
    proc = subprocess.Popen([sys.executable, "-c", "from kbgraph.cli import main; main()", "verify", "--mappings",
                             str(tmp_path / "mapping.yaml"), "--chunk", "3", "--wait", "120", "--idle", "30"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()
        deadline = time.monotonic() + 120
        seen = ""
        while "waiting up to" not in seen:
            seen = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert "pipeline 'vf'" in seen
        stats = sync_into(mysql_url, mapping, target, "vf")
        assert stats.counts.changes >= 1
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "verified" in out and "renamed" not in out
