"""`kbgraph model --format browser`: every saved query runs on the graph server after a demo-sized sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.jsonl import JsonlSource

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "mappings"


def _blocks(text: str) -> list[tuple[str, dict[str, str], str]]:
    """(name, {param: literal}, cypher) of every saved query in the file, as a reader would paste them."""
    out = []
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or not lines[0].startswith("// ") or len(lines) < 2 or lines[1].startswith("//"):
            continue  # the header comment
        params = dict(line[len(":param "):].split(" => ") for line in lines[1:] if line.startswith(":param "))
        cypher = "\n".join(line for line in lines[1:] if not line.startswith(":"))
        assert cypher.endswith(";"), block
        out.append((lines[0][3:], params, cypher[:-1]))
    return out


def test_every_saved_query_runs_after_the_demo_sync(graph_server, graph, tmp_path: Path) -> None:
    mapping = compile_mappings([EXAMPLE])
    target = GraphTarget(graph_server.uri, graph_server.user, graph_server.password, graph_server.database)
    apply_schema(graph, target.database, mapping)
    Pipeline(mapping, target, name="browser").run(JsonlSource(EXAMPLE / "kb-changes.jsonl"))

    out = tmp_path / "kb-browser.cypher"
    result = CliRunner().invoke(app, ["model", str(EXAMPLE), "--format", "browser", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert ":style\nnode {" in text and "node.Entity {" in text
    queries = _blocks(text)
    names = [n for n, _, _ in queries]
    assert len(names) == len(set(names))

    key = graph.execute_query("MATCH (n:Entity)-[:HAS_ALIAS]->() WHERE n._kb_stub IS NULL RETURN n.id AS id LIMIT 1",
                              database_=target.database).records[0]["id"]
    rows: dict[str, int] = {}
    for name, params, cypher in queries:
        values = {p: key for p in params}
        rows[name] = len(graph.execute_query(cypher, values, database_=target.database).records)

    def returned(prefix: str) -> int:
        return rows[next(n for n in rows if n.startswith(prefix))]

    for label in ("Entity: nodes", "Entity: :Person", "Entity: :Organization", "Entity: :Place",
                  "Entity: neighbourhood", "Entity: recently changed", "Alias: property nodes",
                  "WORKS_AT / LOCATED_IN / FOUNDED / KNOWS: relationships", "PART_OF: relationships",
                  "kbgraph: checkpoints"):
        assert returned(label) > 0, (label, rows)
    assert returned("Entity: stubs") >= 0 and returned("kbgraph: dead letters") >= 0  # present, and they ran
