"""The graph model the mapping files imply: labels, relationship types, property nodes, and which
table and rule feeds each; as Mermaid text (``kbgraph model``) or a Neo4j Browser style (GraSS).

Built from the mapping files' models (``kbgraph.mapping.model``), the contract users write, so it
says what the files ask for, rule by rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kbgraph.mapping.loader import LoadedFile, load_mapping_files
from kbgraph.mapping.model import EntityRule, PropertyRule, RelationRule, column_name


@dataclass
class NodeType:
    label: str  # the identity label
    more: list[str] = field(default_factory=list)  # fixed labels after the first
    chosen: tuple[str, list[str]] | None = None  # (column, allowed labels) of label_from
    key: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    fed_by: list[str] = field(default_factory=list)  # "table entity (rule entity)"
    property_node: bool = False  # made by a property rule (as: property_node)


@dataclass
class RelType:
    source: str
    types: list[str]
    target: str
    fed_by: str
    properties: list[str] = field(default_factory=list)


@dataclass
class GraphModel:
    nodes: dict[str, NodeType] = field(default_factory=dict)
    relationships: list[RelType] = field(default_factory=list)

    def node(self, label: str) -> NodeType:
        return self.nodes.setdefault(label, NodeType(label))


def _feed(table: str, rule: str | None, what: str = "") -> str:
    named = f" (rule {rule})" if rule and rule != table else ""
    return f"table {table}{named}{what}"


def build(files: Sequence[LoadedFile]) -> GraphModel:
    g = GraphModel()
    for lf in files:
        for e in lf.model.entities:
            n = _entity(g, e)
            n.fed_by.append(_feed(e.table, e.name))
        for r in lf.model.relations:
            _relation(g, r)
        for p in lf.model.properties:
            _property(g, p)
    return g


def _entity(g: GraphModel, e: EntityRule) -> NodeType:
    n = g.node(e.labels[0])
    n.more += [x for x in e.labels[1:] if x not in n.more]
    if e.label_from:
        n.chosen = (e.label_from.column, list(e.label_from.allow))
    n.key = list(e.key_columns)
    n.properties += [p for p in e.properties if p not in n.properties]
    return n


def _relation(g: GraphModel, r: RelationRule) -> None:
    g.node(r.from_.label)
    g.node(r.to.label)
    types = [r.type] if r.type else list(r.type_from.allow if r.type_from else [])
    via = f", type from column {r.type_from.column}" if r.type_from else ""
    g.relationships.append(RelType(r.from_.label, types, r.to.label, _feed(r.table, r.name, via), list(r.properties)))


def _property(g: GraphModel, p: PropertyRule) -> None:
    owner = g.node(p.owner.label)
    values = f"name from column {p.name}, value from column {column_name(p.value)}"
    if p.as_ == "node_property":
        owner.properties.append(f"‹{p.name}›")
        owner.fed_by.append(_feed(p.table, p.name_, f": a property per row, {values}"))
        return
    node = g.node(p.label)
    node.property_node = True
    node.properties = ["name", "value"]
    node.fed_by.append(_feed(p.table, p.name_, f": one node per row, {values}"))
    g.relationships.append(RelType(p.owner.label, [p.rel_type], p.label, _feed(p.table, p.name_)))


def load(paths: Sequence[str | Path]) -> GraphModel:
    return build(load_mapping_files(paths))


# ------------------------------------------------------------------------------- Mermaid


def _text(s: str) -> str:
    """Text inside a quoted Mermaid label."""
    return s.replace("&", "&amp;").replace('"', "#quot;").replace("<", "&lt;").replace(">", "&gt;")


def mermaid(g: GraphModel) -> str:
    ids = {label: f"n{i}" for i, label in enumerate(g.nodes)}
    lines = ["flowchart LR"]
    for label, n in g.nodes.items():
        head = ":" + label + "".join(":" + x for x in n.more)
        rows = [head]
        if n.chosen:
            rows.append(f"+ one of :{' :'.join(n.chosen[1])} (column {n.chosen[0]})")
        if n.key:
            rows.append("key " + ", ".join(n.key))
        if n.properties:
            rows.append(", ".join(n.properties))
        rows += ["← " + f for f in n.fed_by] or ["(no entity rule: only stubs)"]
        body = "<br/>".join(_text(r) for r in rows)
        shape = ('(["', '"])') if n.property_node else ('["', '"]')
        lines.append(f"  {ids[label]}{shape[0]}{body}{shape[1]}")
    for r in g.relationships:
        rows = [" / ".join(r.types)]
        if r.properties:
            rows.append("{" + ", ".join(r.properties) + "}")
        rows.append("← " + r.fed_by)
        label = "<br/>".join(_text(x) for x in rows)
        lines.append(f'  {ids[r.source]} -->|"{label}"| {ids[r.target]}')
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- GraSS

# Neo4j Browser's own palette (fill, border, text)
_PALETTE = [
    ("#68BDF6", "#5CA8DB", "#FFFFFF"), ("#6DCE9E", "#60B58B", "#FFFFFF"), ("#FF756E", "#E06760", "#FFFFFF"),
    ("#DE9BF9", "#BF85D6", "#FFFFFF"), ("#FB95AF", "#E0849B", "#FFFFFF"), ("#FFD86E", "#EDBA39", "#604A0E"),
    ("#A5ABB6", "#9AA1AC", "#FFFFFF"), ("#C990C0", "#B261A5", "#FFFFFF"), ("#F79767", "#F36924", "#FFFFFF"),
    ("#57C7E3", "#23B3D7", "#2A2C34"), ("#F16667", "#EB2728", "#FFFFFF"), ("#D9C8AE", "#C0A378", "#604A0E"),
    ("#8DCC93", "#5DB665", "#2A2C34"), ("#ECB5C9", "#DA7298", "#604A0E"), ("#4C8EDA", "#2870C2", "#FFFFFF"),
]
_SELECTOR_SAFE = re.compile(r"^\w+$")  # a label with '.', ' ', ':' or '-' cannot be a GraSS selector


def grass(g: GraphModel) -> str:
    out = [
        "/* Neo4j Browser style for the graph these mappings make (kbgraph model --format grass).\n"
        "   Load it: drag this file onto Neo4j Browser, or run :style and paste it. */\n"
        "node {\n  diameter: 50px;\n  color: #A5ABB6;\n  border-color: #9AA1AC;\n  border-width: 2px;\n"
        "  text-color-internal: #FFFFFF;\n  font-size: 10px;\n}",
        "relationship {\n  color: #A5ABB6;\n  shaft-width: 1px;\n  font-size: 8px;\n  padding: 3px;\n"
        "  text-color-external: #000000;\n  text-color-internal: #FFFFFF;\n  caption: '<type>';\n}",
    ]
    labels: list[tuple[str, NodeType]] = []
    for n in g.nodes.values():  # identity labels first: a more specific label below wins
        labels.append((n.label, n))
    for n in g.nodes.values():
        labels += [(x, n) for x in n.more + (n.chosen[1] if n.chosen else [])]
    seen: set[str] = set()
    for i, (label, n) in enumerate(x for x in labels if _SELECTOR_SAFE.match(x[0])):
        if label in seen:
            continue
        seen.add(label)
        fill, border, text = _PALETTE[i % len(_PALETTE)]
        caption = _caption(n)
        size = "40px" if n.property_node else "55px"
        out.append(f"node.{label} {{\n  color: {fill};\n  border-color: {border};\n  text-color-internal: {text};\n"
                   f"  diameter: {size};\n  caption: '{caption}';\n}}")
    return "\n\n".join(out) + "\n"


def _caption(n: NodeType) -> str:
    if n.property_node:
        return "{name}: {value}"
    for prop in ("name", "title", "label", *n.properties):
        if prop in n.properties and _SELECTOR_SAFE.match(prop):
            return "{" + prop + "}"
    return "{" + n.key[0] + "}" if n.key and _SELECTOR_SAFE.match(n.key[0]) else "<id>"
