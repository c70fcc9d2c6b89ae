"""kbgraph verify against the real graph server: equal after a sync, and a tampered graph is caught."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource
from tests.support.change_workload import Workload

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).parents[1] / "kb_mapping.yaml"


def test_verify_finds_the_graph_equal_then_catches_a_change(graph_server, graph, tmp_path):
    mapping = compile_mappings([MAPPING])
    target = GraphTarget(graph_server.uri, graph_server.user, graph_server.password, graph_server.database)
    apply_schema(graph, target.database, mapping)
    work = Workload(5, label_switch=not graph_server.is_stand_in)
    Pipeline(mapping, target, name="verify", batch_size=300).run(ListSource(work.run(1200)))
    rows = tmp_path / "rows.jsonl"
    with rows.open("wb") as f:
        for (schema, table), table_rows in work.final_rows().items():
            for row in table_rows:
                f.write(orjson.dumps({"schema": schema, "table": table, "op": "insert", "after": row}) + b"\n")
    env = {"NEO4J_URI": target.uri, "NEO4J_USERNAME": target.user, "NEO4J_PASSWORD": target.password,
           "NEO4J_DATABASE": target.database}
    args = ["verify", "--source", "jsonl", "--changes", str(rows), "--mappings", str(MAPPING)]
    ok = CliRunner().invoke(app, args, env=env)
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.output

    graph.execute_query("MATCH (n:Entity) WHERE n._kb_stub IS NULL WITH n LIMIT 1 SET n.name = 'tampered'",
                        database_=target.database)
    bad = CliRunner().invoke(app, args, env=env)
    assert bad.exit_code == 1
    out = " ".join(bad.output.split())
    assert "name: graph 'tampered' ≠ source" in out and "1 differing" in out and "differs: 1 difference" in out
