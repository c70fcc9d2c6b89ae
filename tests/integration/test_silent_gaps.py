"""No silent gaps: a mapped column the table lacks stops the run with the mapping's file:line (binlog,
snapshot, `validate --check-source`); zero and partial dates become NULL, counted per column; the
metrics of a real `kbgraph sync` run, scraped over HTTP."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import urllib.request

import pytest

from kbgraph.errors import SourceError
from kbgraph.graph.schema import apply_schema
from kbgraph.pipeline import Pipeline
from kbgraph.processes import free_port
from kbgraph.sources.binlog.reader import BinlogSource
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.sources.snapshot import SnapshotSource
from tests.support.binlog import (
    compile_yaml,
    conn_info,
    position_now,
    sql,
    target_of,
)
from tests.support.cli import KBGRAPH, cli_env

pytestmark = pytest.mark.integration


MAPPING = """\
source:
  schema: {db}
entities:
  - table: person
    label: GapPerson
    key: [id]
    properties:
      name: {name}
      born: {{column: born, type: date}}
  - table: place
    label: GapPlace
    key: [id]
    properties:
      title: title
"""


def _tables(url: str, db: str) -> None:
    sql(url, "CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(40), born DATE NULL)",
        "CREATE TABLE place (id INT PRIMARY KEY, title VARCHAR(40))", db=db)


def _mapping(tmp_path, db: str, name: str = "name"):
    return compile_yaml(tmp_path, MAPPING.format(db=db, name=name))


def _env(mysql_url, graph_server, **extra):
    return cli_env(graph_server, mysql_url=mysql_url, KBGRAPH_SERVER_ID=str(random.randint(20_000, 60_000)),
                   COLUMNS="200", **extra)


def _nodes(driver, database, label):
    records, _, _ = driver.execute_query(f"MATCH (n:{label}) RETURN n.id AS id, properties(n) AS p ORDER BY id",
                                         database_=database)
    return {r["id"]: dict(r["p"]) for r in records}


def test_snapshot_stops_before_any_row_when_a_mapped_column_is_missing(mysql_url, mysql_db, graph, graph_server, tmp_path):
    _tables(mysql_url, mysql_db)
    sql(mysql_url, "INSERT INTO place VALUES (1, 'Rome')", "INSERT INTO person VALUES (1, 'Ada', NULL)", db=mysql_db)
    mapping = _mapping(tmp_path, mysql_db, name="nmae")
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    src = SnapshotSource(conn_info(mysql_url), MappedTables.from_mapping(mapping))
    with pytest.raises(SourceError) as info:
        Pipeline(mapping, target, name="gaps-snap").run(src)
    text = str(info.value)
    assert text == (f"{tmp_path / 'mapping.yaml'}:8: column 'nmae' of rule 'person' is not in table "
                    f"{mysql_db}.person (columns: id, name, born); did you mean 'name'?")
    assert _nodes(graph, target.database, "GapPlace") == {}  # checked before any row is read


def test_binlog_stops_at_the_first_event_of_a_table_lacking_a_mapped_column(mysql_url, mysql_db, graph, graph_server,
                                                                           tmp_path):
    _tables(mysql_url, mysql_db)
    mapping = _mapping(tmp_path, mysql_db, name="nmae")
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    start = position_now(mysql_url)
    sql(mysql_url, "INSERT INTO place VALUES (1, 'Rome')", "INSERT INTO person VALUES (1, 'Ada', NULL)", db=mysql_db)
    src = BinlogSource(conn_info(mysql_url), MappedTables.from_mapping(mapping), blocking=False, initial=start,
                       server_id=random.randint(20_000, 60_000))
    with pytest.raises(SourceError) as info:
        Pipeline(mapping, target, name="gaps-binlog", flush_ms=10_000).run(src)
    assert str(info.value).startswith(f"{tmp_path / 'mapping.yaml'}:8: column 'nmae' of rule 'person' is not in "
                                      f"table {mysql_db}.person (columns: id, name, born)")
    # what came before it is applied with its checkpoint; the person row is not lost: not yet read
    assert _nodes(graph, target.database, "GapPlace") == {1: {"id": 1, "title": "Rome"}}
    assert _nodes(graph, target.database, "GapPerson") == {}


def test_binlog_checks_again_when_the_table_changes_outside_the_stream(mysql_url, mysql_db, graph, graph_server,
                                                                      tmp_path):
    _tables(mysql_url, mysql_db)
    mapping = _mapping(tmp_path, mysql_db)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    start = position_now(mysql_url)
    # a DDL the binlog does not hold (sql_log_bin=0): only the next table map shows the column gone
    sql(mysql_url, "INSERT INTO person VALUES (1, 'Ada', NULL)", "SET SESSION sql_log_bin = 0",
        "ALTER TABLE person CHANGE name full_name VARCHAR(40)", "SET SESSION sql_log_bin = 1",
        "INSERT INTO person VALUES (2, 'Bob', NULL)", db=mysql_db)
    src = BinlogSource(conn_info(mysql_url), MappedTables.from_mapping(mapping), blocking=False, initial=start,
                       server_id=random.randint(20_000, 60_000))
    with pytest.raises(SourceError) as info:
        Pipeline(mapping, target, name="gaps-ddl", flush_ms=10_000).run(src)
    assert str(info.value) == (f"{tmp_path / 'mapping.yaml'}:8: column 'name' of rule 'person' is not in table "
                               f"{mysql_db}.person (columns: id, full_name, born)")
    assert _nodes(graph, target.database, "GapPerson") == {1: {"id": 1, "name": "Ada"}}


def test_validate_check_source(mysql_url, mysql_db, tmp_path):
    _tables(mysql_url, mysql_db)
    sql(mysql_url, "CREATE TABLE tag (a INT, b INT, label VARCHAR(10))", db=mysql_db)
    good = tmp_path / "good.yaml"
    good.write_text(MAPPING.format(db=mysql_db, name="name"), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(MAPPING.format(db=mysql_db, name="nmae").replace("born, type: date", "born, type: time")
                   + "  - table: tag\n    label: GapTag\n    key: [a]\n    properties:\n      label: label\n"
                   + "  - table: nowhere\n    label: GapNowhere\n    key: [id]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_"))} | {"COLUMNS": "300"}
    ok = subprocess.run([*KBGRAPH, "validate", str(good), "--check-source", "--mysql-url", mysql_url],
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "2 table(s)" in ok.stdout and "have every mapped column" in ok.stdout
    out = subprocess.run([*KBGRAPH, "validate", str(bad), "--check-source", "--mysql-url", mysql_url],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[:-1] == [
        f"{bad}:20: table {mysql_db}.nowhere does not exist on root@127.0.0.1:3306".replace(
            "root@127.0.0.1:3306", conn_info(mysql_url).where()),
        f"{bad}:8: column 'nmae' of rule 'person' is not in table {mysql_db}.person (columns: id, name, born); "
        "did you mean 'name'?",
        f"{bad}:9: column 'born' of rule 'person' is DATE in table {mysql_db}.person, which cannot give `type: time`",
        f"{bad}:17: key (a) of rule 'tag' is not the primary key nor a unique key of table {mysql_db}.tag, which "
        "has no primary key: rows with the same key would be one element",
    ], lines
    assert lines[-1].startswith("4 problem(s)")


def _zero_dates(url: str, db: str) -> None:
    sql(url, "SET SESSION sql_mode = ''",
        "INSERT INTO person VALUES (1, 'zero', '0000-00-00'), (2, 'partial', '0701-00-00'), (3, 'fine', '1815-12-10'),"
        " (4, 'none', NULL)", db=db)


def test_zero_and_partial_dates_are_null_and_counted(mysql_url, mysql_db, graph, graph_server, tmp_path):
    _tables(mysql_url, mysql_db)
    mapping = _mapping(tmp_path, mysql_db)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    start = position_now(mysql_url)
    _zero_dates(mysql_url, mysql_db)
    snap = SnapshotSource(conn_info(mysql_url), MappedTables.from_mapping(mapping))
    stats = Pipeline(mapping, target, name="gaps-zero-snap").run(snap)
    assert stats.unrepresentable is snap.unrepresentable
    assert snap.unrepresentable.counts == {f"{mysql_db}.person.born": 2}
    nodes = _nodes(graph, target.database, "GapPerson")
    assert [("born" in nodes[i]) for i in (1, 2, 3, 4)] == [False, False, True, False]

    stream = BinlogSource(conn_info(mysql_url), MappedTables.from_mapping(mapping), blocking=False, initial=start,
                          server_id=random.randint(20_000, 60_000))
    Pipeline(mapping, target, name="gaps-zero-binlog", flush_ms=10_000).run(stream)
    assert stream.unrepresentable.counts == {f"{mysql_db}.person.born": 2}  # the NULL of row 4 is not counted
    assert _nodes(graph, target.database, "GapPerson") == nodes


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_metrics_of_a_running_sync(mysql_url, mysql_db, graph, graph_server, tmp_path):
    _tables(mysql_url, mysql_db)
    mapping = _mapping(tmp_path, mysql_db)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    env = _env(mysql_url, graph_server, KBGRAPH_PIPELINE="gaps-metrics", KBGRAPH_BATCH_SIZE="50",
               KBGRAPH_FLUSH_MS="50")
    files = ["--mappings", str(tmp_path / "mapping.yaml")]
    snap = subprocess.run([*KBGRAPH, "snapshot", *files], env=env, capture_output=True, text=True, timeout=300)
    assert snap.returncode == 0, snap.stderr
    port = free_port()
    proc = subprocess.Popen([*KBGRAPH, "sync", "--source", "binlog", *files, "--metrics-port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rows = ", ".join(f"({i}, 'p{i}', {'NULL' if i % 7 else chr(39) + '0000-00-00' + chr(39)})" for i in range(1, 101))
        sql(mysql_url, "SET SESSION sql_mode = ''", f"INSERT INTO person VALUES {rows}",
            "INSERT INTO place VALUES (1, 'x')", db=mysql_db)
        p = 'pipeline="gaps-metrics"'
        deadline = time.monotonic() + 120
        m: dict[str, float] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            try:
                m = _scrape(port)
            except OSError:
                m = {}
            if m.get(f"kbgraph_changes_total{{{p}}}", 0) >= 101:
                break
            time.sleep(0.2)  # polling a condition with a deadline, not a tuned wait
        assert m.get(f"kbgraph_changes_total{{{p}}}") == 101, m
        assert m[f"kbgraph_commit_to_visible_seconds_count{{{p}}}"] == 101
        assert m[f'kbgraph_commit_to_visible_seconds_bucket{{le="+Inf",{p}}}'] == 101
        assert m[f"kbgraph_batch_commit_seconds_count{{{p}}}"] >= 1
        assert 0 < m[f"kbgraph_batch_commit_seconds_sum{{{p}}}"] < 120
        assert abs(m[f"kbgraph_checkpoint_timestamp_seconds{{{p}}}"] - time.time()) < 120
        assert 0 <= m[f"kbgraph_seconds_since_checkpoint{{{p}}}"] < 120
        assert m[f'kbgraph_unrepresentable_values_total{{column="{mysql_db}.person.born",{p}}}'] == 14
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"written as NULL (zero or partial dates the graph cannot represent): {mysql_db}.person.born 14" in \
        " ".join(out.split())


def test_kafka_stops_when_no_first_record_of_a_table_has_a_mapped_column(kafka_bootstrap, graph, graph_server, tmp_path):
    import json
    import uuid

    from kbgraph.sources.kafka import KafkaSource
    from tests.support.kafka import FAST_GROUP, create_topic, produce

    topic = f"gaps-cols-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap, topic)
    mapping = _mapping(tmp_path, "kb", name="nmae")
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    records = [(None, json.dumps({"schema": "kb", "table": "place", "op": "insert", "after": {"id": 1, "title": "R"}})
                .encode())]
    records += [(None, json.dumps({"schema": "kb", "table": "person", "op": "insert",
                                   "after": {"id": i, "name": f"p{i}", "born": None}}).encode()) for i in range(1, 121)]
    produce(kafka_bootstrap, topic, records)
    source = KafkaSource(kafka_bootstrap, {topic: "native"}, group=f"g-{topic}", mapped=mapping,
                         consumer_options=FAST_GROUP)
    with pytest.raises(SourceError) as info:
        Pipeline(mapping, target, name="gaps-kafka", batch_size=500, flush_ms=10_000).run(source)
    assert str(info.value) == (f"{tmp_path / 'mapping.yaml'}:8: column 'nmae' of rule 'person' is not in table "
                               "kb.person (columns: born, id, name); did you mean 'name'? — absent from all of the "
                               "first 100 records of the table")
    # the records before the 100th are applied (their property is absent), with their checkpoint
    assert len(_nodes(graph, target.database, "GapPerson")) == 99
    assert _nodes(graph, target.database, "GapPlace") == {1: {"id": 1, "title": "R"}}
