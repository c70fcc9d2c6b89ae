"""`kbgraph model --format svg`: a self-contained picture naming every label and relationship type."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from kbgraph import graph_model
from kbgraph.cli.app import app
from kbgraph.model_svg import svg

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
REGENERATE = "kbgraph model -f svg -o docs/model.svg mappings/"


def _texts(doc: str) -> list[str]:
    root = ET.fromstring(doc.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    # self-contained: no external references (images, fonts, stylesheets)
    for el in root.iter():
        assert not any(k.endswith("href") for k in el.attrib), el.tag
        assert el.tag != f"{SVG}image"
    return [el.text or "" for el in root.iter(f"{SVG}text")]


def test_the_example_picture_names_every_label_type_and_table(tmp_path: Path) -> None:
    out = tmp_path / "m.svg"
    result = CliRunner().invoke(app, ["model", str(ROOT / "mappings"), "--format", "svg", "-o", str(out)])
    assert result.exit_code == 0, result.output
    texts = _texts(out.read_text(encoding="utf-8"))
    joined = "\n".join(texts)
    g = graph_model.load([ROOT / "mappings"])
    for label, n in g.nodes.items():
        assert f":{label}" in texts, label
        for allowed in n.chosen[1] if n.chosen else []:
            assert f":{allowed}" in joined
    for r in g.relationships:
        for t in r.types:
            assert t in joined, t
    for table in ("← table entity", "← table relation", "← table attribute", "← table alias (rule entity_alias)",
                  "← table entity (rule entity_parent)"):
        assert table in joined, table


def test_committed_picture_is_not_stale() -> None:
    g = graph_model.load([ROOT / "mappings"])
    on_disk = (ROOT / "docs" / "model.svg").read_text(encoding="utf-8")
    assert on_disk == svg(g, "graph model of the mappings"), f"docs/model.svg is stale; regenerate it with:\n    {REGENERATE}"
    assert "![model](docs/model.svg)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_many_labels_loops_parallel_types_and_escaping(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    labels = ["Person", "Company", "City", "诗人", "Amp", "Event", "Topic", "Paper"]
    rules = "\n".join(f"  - {{table: t{i}, label: {x}, key: [id]}}" for i, x in enumerate(labels))
    rel = "  - {{name: {}, table: r, type: {}, from: {{label: {}, key: {{id: a}}}}, to: {{label: {}, key: {{id: b}}}}}}"
    f.write_text("\n".join([
        "entities:", rules, "relations:",
        rel.format("a", "WORKS_AT", "Person", "Company"), rel.format("b", "FOUNDED", "Company", "Person"),
        rel.format("c", "KNOWS", "Person", "Person"), rel.format("d", '"written by"', "诗人", "Paper"),
        "properties:",
        "  - {table: p, owner: {label: Paper, key: {id: x}}, name: k, value: v, as: property_node, label: Tag}",
    ]) + "\n", encoding="utf-8")
    g = graph_model.load([f])
    doc = svg(g, 'title with "quotes" & <angles>')
    texts = _texts(doc)
    for x in [*labels, "Tag"]:
        assert f":{x}" in texts
    for t in ("WORKS_AT", "FOUNDED", "KNOWS", "written by", "HAS_PROPERTY"):
        assert t in texts
    assert 'title with "quotes" & <angles>' in texts
    assert doc.count('class="rel"') == 5  # one arrow per relationship rule, the loop included
