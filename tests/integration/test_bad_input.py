"""The bad-input matrix (issue 9 item 6), through the command line as an operator runs it: each case
gives a one-line message (no traceback; exit 1 or 2) and loses nothing (a dead letter with its
reason, or a clean stop at the checkpoint that a fixed input resumes from). Secrets never show.

Covered elsewhere, not repeated here: YAML errors and unknown keys in the loader
(``tests/unit/test_mapping_loader.py``), unsafe names in allow-lists (``test_mapping_names.py``),
binlog privileges / positions (``test_binlog_errors.py``), the graph's auth rate limit
(``tests/unit/test_source_outage_lines.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from tests.support.cli import KBGRAPH

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Pa55-word"

EAV = """\
source: {schema: kb}
entities:
  - table: thing
    label: Thing
    label_from: {column: kind, allow: [Tool, Place]}
    key: [id]
    properties: {name: name}
relations:
  - table: link
    key: [id]
    type_from: {column: kind, allow: [NEAR]}
    from: {label: Thing, key: {id: a}}
    to: {label: Thing, key: {id: b}}
properties:
  - table: attr
    owner: {label: Thing, key: {id: thing_id}}
    name: k
    value: v
    as: node_property
"""


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_"))}
    done = subprocess.run([*KBGRAPH, *args], env={**base, **(env or {})}, cwd=ROOT, capture_output=True, timeout=timeout)
    return done.returncode, done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def _one_line(code: int, output: str, *, codes: tuple[int, ...] = (1, 2)) -> str:
    assert code in codes, output
    assert "Traceback" not in output, output
    errors = _error_lines(output)
    assert len(errors) == 1, output
    return errors[0]


def _graph_env(graph_server, pipeline: str) -> dict[str, str]:
    return {"NEO4J_URI": graph_server.uri, "NEO4J_USERNAME": graph_server.user, "NEO4J_PASSWORD": graph_server.password,
            "NEO4J_DATABASE": graph_server.database, "KBGRAPH_PIPELINE": pipeline}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


def _jsonl(path: Path, rows: list[dict | bytes]) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
                              for r in rows))
    return path


def _thing(i: int, kind: str = "Tool", **extra) -> dict:
    return {"schema": "kb", "table": "thing", "op": "insert", "after": {"id": i, "kind": kind, "name": f"t{i}", **extra}}


@pytest.fixture
def eav(tmp_path: Path) -> Path:
    f = tmp_path / "eav.yaml"
    f.write_text(EAV, encoding="utf-8")
    return f


# -- the mapping ---------------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("entities:\n  - table: thing\n    label: [Thing\n    key: [id]\n", encoding="utf-8")
    for command in (["validate", str(f)], ["sync", "--changes", str(_jsonl(tmp_path / "c.jsonl", [_thing(1)])),
                                           "--mappings", str(f)]):
        code, out = _run(command, {"NEO4J_URI": f"bolt://127.0.0.1:{_closed_port()}"})
        assert code in (1, 2) and "Traceback" not in out, out
        assert f"{f}:" in out and "broken.yaml:" in out, out  # file:line


def test_unknown_key_names_file_line_and_the_closest_key(tmp_path: Path) -> None:
    f = tmp_path / "typo.yaml"
    f.write_text(EAV.replace("    key: [id]\n    properties: {name: name}", "    key: [id]\n    propertys: {name: name}"),
                 encoding="utf-8")
    code, out = _run(["sync", "--changes", str(_jsonl(tmp_path / "c.jsonl", [_thing(1)])), "--mappings", str(f)],
                     {"NEO4J_URI": f"bolt://127.0.0.1:{_closed_port()}"})
    assert code in (1, 2) and "Traceback" not in out, out
    assert f"{f}:7" in out and "propertys" in out and "properties" in out, out


# -- changes ---------------------------------------------------------------------------------------


def test_invalid_utf8_in_a_change_file_stops_at_the_checkpoint_and_a_fixed_file_resumes(graph, graph_server, eav, tmp_path):
    apply_schema(graph, graph_server.database, compile_mappings([eav]))
    good = [_thing(1), _thing(2)]
    bad = b'{"schema": "kb", "table": "thing", "op": "insert", "after": {"id": 3, "kind": "Tool", "name": "\xff\xfe"}}'
    feed = _jsonl(tmp_path / "feed.jsonl", [*good, bad, _thing(4)])
    env = {**_graph_env(graph_server, "utf8"), "KBGRAPH_BATCH_SIZE": "1"}
    code, out = _run(["sync", "--changes", str(feed), "--mappings", str(eav)], env)
    line = _one_line(code, out)
    assert f"{feed}:3" in line and "UTF-8" in line, line
    # a clean stop before line 3 (the source holds line 2 back until it knows where its transaction ends)
    assert read_checkpoint(graph, graph_server.database, "utf8")["line"] in (1, 2)
    _jsonl(feed, [*good, _thing(3), _thing(4)])  # the producer fixes its line
    code, out = _run(["sync", "--changes", str(feed), "--mappings", str(eav)], env)
    assert code == 0, out
    ids = graph.execute_query("MATCH (t:Thing) RETURN t.id AS id ORDER BY id", database_=graph_server.database)[0]
    assert [r["id"] for r in ids] == [1, 2, 3, 4]


def test_very_large_values_are_written_or_dead_lettered_never_lost(graph, graph_server, eav, tmp_path):
    apply_schema(graph, graph_server.database, compile_mappings([eav]))
    big = "x" * (16 * 1024 * 1024)
    huge = 2**70 + 1  # a float would round it: 1180591620717411303424
    feed = _jsonl(tmp_path / "big.jsonl", [_thing(1), _thing(2, name=big), _thing(3, name=huge), _thing(4)])
    code, out = _run(["sync", "--changes", str(feed), "--mappings", str(eav)], _graph_env(graph_server, "big"), timeout=300)
    assert code == 0 and "Traceback" not in out, out[-3000:]
    assert big not in out  # the value is not echoed
    rows = graph.execute_query("MATCH (t:Thing) RETURN t.id AS id, t.name AS name ORDER BY id",
                               database_=graph_server.database)[0]
    written = {r["id"]: r["name"] for r in rows}
    assert written == {1: "t1", 2: big, 4: "t4"}, {k: str(v)[:40] for k, v in written.items()}  # 16 MB stored whole
    dead = graph.execute_query("MATCH (d:KbDeadLetter) RETURN d.reason AS reason", database_=graph_server.database)[0]
    assert len(dead) == 1, dead  # the integer the graph cannot hold, never a rounded float
    assert "outside the graph's 64-bit integer range" in dead[0]["reason"] and str(huge)[:15] in dead[0]["reason"], dead


NAMES = ["a`b", "x'y\"z", "{brace}", "with space", "MATCH", "DETACH DELETE n", "名前", "Zürich", "`}) MATCH (n) DETACH DELETE n //"]


def test_property_names_from_data_are_escaped_never_executed(graph, graph_server, eav, tmp_path):
    apply_schema(graph, graph_server.database, compile_mappings([eav]))
    rows = [_thing(1), _thing(2, kind="Place")]
    rows += [{"schema": "kb", "table": "attr", "op": "insert", "after": {"id": 10 + i, "thing_id": 1, "k": k, "v": f"v{i}"}}
             for i, k in enumerate(NAMES)]
    # a label and a type from data outside their allow-lists: dead letters, not labels
    rows += [_thing(3, kind="Tool`) DETACH DELETE (n"), _thing(4, kind="Person"),
             {"schema": "kb", "table": "link", "op": "insert", "after": {"id": 1, "kind": "NEAR", "a": 1, "b": 2}},
             {"schema": "kb", "table": "link", "op": "insert", "after": {"id": 2, "kind": "]->() DELETE r //", "a": 1, "b": 2}}]
    feed = _jsonl(tmp_path / "names.jsonl", rows)
    code, out = _run(["sync", "--changes", str(feed), "--mappings", str(eav)], _graph_env(graph_server, "names"))
    assert code == 0 and "Traceback" not in out, out[-3000:]
    db = graph_server.database
    props = graph.execute_query("MATCH (t:Thing {id: 1}) RETURN properties(t) AS p", database_=db)[0][0]["p"]
    # carried as parameter map keys, never in the statement's text; a backtick is refused all the same
    assert props == {"id": 1, "name": "t1", **{k: f"v{i}" for i, k in enumerate(NAMES) if "`" not in k}}, props
    labels = graph.execute_query("MATCH (t) WHERE NOT t:KbCheckpoint AND NOT t:KbDeadLetter "
                                 "RETURN t.id AS id, labels(t) AS l ORDER BY id", database_=db)[0]
    assert [(r["id"], sorted(r["l"])) for r in labels] == [(1, ["Thing", "Tool"]), (2, ["Place", "Thing"])]
    rels = graph.execute_query("MATCH ()-[r]->() RETURN type(r) AS t", database_=db)[0]
    assert [r["t"] for r in rels] == ["NEAR"]
    reasons = sorted(r["reason"] for r in graph.execute_query("MATCH (d:KbDeadLetter) RETURN d.reason AS reason",
                                                              database_=db)[0])
    assert len(reasons) == 5, reasons  # two backtick attribute names, two labels and a type off their allow-lists
    assert sum("attribute name from column 'k'" in r and "has a backtick" in r for r in reasons) == 2, reasons
    assert sum("is not an allowed label (Tool, Place)" in r for r in reasons) == 2, reasons
    assert sum("is not an allowed relationship type (NEAR)" in r for r in reasons) == 1, reasons


# -- credentials and unreachable servers --------------------------------------------------------------


def test_wrong_graph_password_is_one_line_without_the_password(graph_server, eav, tmp_path):
    feed = _jsonl(tmp_path / "c.jsonl", [_thing(1)])
    env = {**_graph_env(graph_server, "creds"), "NEO4J_PASSWORD": SECRET}
    code, out = _run(["sync", "--changes", str(feed), "--mappings", str(eav)], env)
    line = _one_line(code, out, codes=(2,))
    assert "credentials" in line or "refused" in line, line
    assert SECRET not in out


def test_wrong_mysql_password_is_one_line_without_the_password(mysql_url, graph_server, eav, tmp_path):
    from urllib.parse import urlsplit

    parts = urlsplit(mysql_url)
    url = f"mysql://kbgraph_nobody:{SECRET}@{parts.hostname}:{parts.port or 3306}"
    env = {**_graph_env(graph_server, "mysql-creds"), "KBGRAPH_MYSQL_URL": url}
    code, out = _run(["sync", "--source", "binlog", "--mappings", str(eav)], env)
    line = _one_line(code, out, codes=(2,))
    assert "refused the login" in line and "1045" in line, line
    assert SECRET not in out


def test_kafka_sasl_password_never_shows(kafka_bootstrap, kafka_is_stand_in, graph_server, eav, tmp_path):
    """SASL/PLAIN with a password the broker cannot accept: the run ends (or gives up waiting) with
    one line, and the password is in none of its output. The Tansu stand-in has no SASL user
    store the tests can fill, so there the broker refuses the handshake itself; a real Kafka with a
    SASL listener (``KBGRAPH_TEST_KAFKA_SASL``, its bootstrap) refuses the password."""
    bootstrap = os.environ.get("KBGRAPH_TEST_KAFKA_SASL") or kafka_bootstrap
    options = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_plain_username": "kbgraph",
               "sasl_plain_password": SECRET, "request_timeout_ms": 5000}
    env = {**_graph_env(graph_server, "sasl"), "KBGRAPH_KAFKA_GROUP": f"g-{uuid.uuid4().hex[:6]}",
           "KBGRAPH_KAFKA_CONSUMER_OPTIONS": json.dumps(options), "KBGRAPH_OUTAGE_MAX_S": "3"}
    code, out = _run(["sync", "--source", "kafka", "--kafka", bootstrap, "--topic", "t", "--mappings", str(eav)], env)
    _one_line(code, out, codes=(2,))
    assert SECRET not in out


def test_unreachable_graph_waits_then_one_line_with_the_outage_limit(eav, tmp_path):
    feed = _jsonl(tmp_path / "c.jsonl", [_thing(1)])
    port = _closed_port()
    env = {"NEO4J_URI": f"bolt://127.0.0.1:{port}", "NEO4J_PASSWORD": SECRET, "KBGRAPH_OUTAGE_MAX_S": "2",
           "KBGRAPH_OUTAGE_CAP_S": "0.5", "KBGRAPH_GRAPH_RETRY_S": "0"}
    code, out = _run(["sync", "--changes", str(feed), "--mappings", str(eav)], env)
    line = _one_line(code, out, codes=(2,))
    assert f"the graph at bolt://127.0.0.1:{port} has been unreachable" in line and "KBGRAPH_OUTAGE_MAX_S" in line, line
    assert SECRET not in out


def test_unreachable_mysql_is_one_line(graph_server, eav, tmp_path):
    port = _closed_port()
    env = {**_graph_env(graph_server, "mysql-closed"), "KBGRAPH_MYSQL_URL": f"mysql://root:{SECRET}@127.0.0.1:{port}"}
    code, out = _run(["sync", "--source", "binlog", "--mappings", str(eav)], env)
    line = _one_line(code, out, codes=(2,))
    assert f"127.0.0.1:{port}" in line and "2003" in line, line
    assert SECRET not in out


def test_unreachable_kafka_is_one_line(graph_server, eav, tmp_path):
    port = _closed_port()
    env = {**_graph_env(graph_server, "kafka-closed"), "KBGRAPH_KAFKA_GROUP": f"g-{uuid.uuid4().hex[:6]}"}
    code, out = _run(["sync", "--source", "kafka", "--kafka", f"127.0.0.1:{port}", "--topic", "t", "--mappings", str(eav)],
                     env)
    line = _one_line(code, out, codes=(2,))
    assert f"127.0.0.1:{port}" in line, line


def test_invalid_utf8_in_a_kafka_record_is_a_dead_letter_and_the_rest_goes_on(kafka_bootstrap, graph, graph_server, eav, tmp_path):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    topic, group = f"utf8-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    bad = b'{"schema": "kb", "table": "thing", "op": "insert", "after": {"id": 2, "kind": "Tool", "name": "\xc3\x28"}}'
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for value in (orjson.dumps(_thing(1)), bad, orjson.dumps(_thing(3))):
        producer.send(topic, value=value)
    producer.flush()
    producer.close()
    apply_schema(graph, graph_server.database, compile_mappings([eav]))
    name = f"utf8-{topic}"
    env = {**_graph_env(graph_server, name), "KBGRAPH_KAFKA_GROUP": group, "KBGRAPH_KAFKA_FORMAT": "native",
           "KBGRAPH_KAFKA_CONSUMER_OPTIONS": json.dumps({"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000})}
    proc = subprocess.Popen([*KBGRAPH, "sync", "--source", "kafka", "--kafka", kafka_bootstrap, "--topic", topic,
                             "--mappings", str(eav)], env={**os.environ, **env}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        import time

        deadline = time.monotonic() + 90
        while read_checkpoint(graph, graph_server.database, name).get(f"kafka:{topic}:0") != 3:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the sync did not reach the end of the topic"
            time.sleep(0.2)
        proc.terminate()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = proc.stdout.read().decode(errors="replace")
    assert "Traceback" not in out, out[-3000:]
    ids = graph.execute_query("MATCH (t:Thing) RETURN t.id AS id ORDER BY id", database_=graph_server.database)[0]
    assert [r["id"] for r in ids] == [1, 3]
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    try:
        dlq = TopicPartition(f"{group}.dlq", 0)
        consumer.assign([dlq])
        consumer.seek_to_beginning(dlq)
        records = []
        deadline = time.monotonic() + 30
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    assert len(records) == 1 and records[0].value == bad  # the original record, byte for byte
    headers = dict(records[0].headers)
    assert b"UTF-8" in headers["kbgraph.dlq.reason"] or b"utf-8" in headers["kbgraph.dlq.reason"].lower(), headers
