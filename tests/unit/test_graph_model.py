"""`kbgraph model`: the graph model of the mappings as Mermaid text and as a Neo4j Browser style."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from kbgraph import graph_model
from kbgraph.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
NODE = re.compile(r'^  (n\d+)(\["|\(\[")[^"]*("\]|"\]\))$')
EDGE = re.compile(r'^  (n\d+) -->\|"[^"|]*"\| (n\d+)$')


def _check_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Every line is a node or an edge between declared nodes; returns them."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes, edges = {}, []
    for line in lines[1:]:
        if m := NODE.match(line):
            nodes[m.group(1)] = line
        elif m := EDGE.match(line):
            assert m.group(1) in nodes and m.group(2) in nodes, line
            edges.append((m.group(1), line, m.group(2)))
        else:
            raise AssertionError(f"not a Mermaid node or edge: {line!r}")
    return nodes, edges


def test_the_example_model_names_every_label_type_and_feeding_table() -> None:
    result = CliRunner().invoke(app, ["model", str(ROOT / "mappings")])
    assert result.exit_code == 0, result.output
    nodes, edges = _check_mermaid(result.output)
    entity = next(n for n, line in nodes.items() if '":Entity<br/>' in line)
    assert "+ one of :Person :Organization :Place :Concept (column type)" in nodes[entity]
    assert "← table entity<br/>" in nodes[entity] and "← table attribute: a property per row, name from column k, value from column v" in nodes[entity]
    kinds = {line.split('|"')[1].split("<br/>")[0]: (a, b) for a, line, b in edges}
    assert kinds["WORKS_AT / LOCATED_IN / FOUNDED / KNOWS"] == (entity, entity)
    assert kinds["PART_OF"] == (entity, entity)
    alias = kinds["HAS_ALIAS"][1]
    assert nodes[alias].startswith(f'  {alias}([":Alias')  # a property node: its own shape


def test_names_that_need_escaping_stay_valid(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(textwrap.dedent('''\
        entities:
          - table: poet
            label: 诗人
            label_from: {column: era, allow: [唐, "Song dynasty"]}
            key: [id]
            properties: {名字: name, "a\\"b": x}
        relations:
          - table: wrote
            type: "written by"
            from: {label: 诗人, key: {id: a}}
            to: {label: 诗人, key: {id: b}}
        '''), encoding="utf-8")
    g = graph_model.load([f])
    nodes, edges = _check_mermaid(graph_model.mermaid(g))
    assert len(nodes) == 1 and len(edges) == 1 and "a#quot;b" in nodes["n0"]
    style = graph_model.grass(g)
    assert "node.诗人 {" in style and "node.唐 {" in style
    assert "Song dynasty" not in style  # not a GraSS selector: left to the default style
    assert style.count("{") == style.count("}")


def test_grass_captions_and_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "kb.grass"
    result = CliRunner().invoke(app, ["model", "-m", str(ROOT / "mappings"), "--format", "grass", "-o", str(out)])
    assert result.exit_code == 0, result.output
    style = out.read_text(encoding="utf-8")
    blocks = dict(re.findall(r"^(node\.\w+|node|relationship) \{\n(.*?)\n\}", style, re.S | re.M))
    assert "caption: '{name}'" in blocks["node.Entity"] and "caption: '{name}: {value}'" in blocks["node.Alias"]
    assert {"node.Person", "node.Organization", "node.Place", "node.Concept"} <= set(blocks)
    colours = [re.search(r"color: (#\w+);", b).group(1) for k, b in blocks.items() if k.startswith("node.")]
    assert len(set(colours)) == len(colours)


def test_the_quickstart_shows_the_example_model_as_it_is() -> None:
    doc = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    block = doc.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == graph_model.mermaid(graph_model.load([ROOT / "mappings"])), \
        "docs/quickstart.md is stale: paste the output of `kbgraph model mappings/`"
