"""Saved queries for Neo4j Browser, generated from the mapping files (``kbgraph model --format browser``).

A Browser favourite is plain Cypher whose first line ``// name`` names it. The file holds a ``:style``
block (the GraSS of ``kbgraph model --format grass``) and, per mapped label and relationship type,
queries to look at what the mappings made: the entities of a type, a node's neighbourhood (its key
as a ``:param``), stubs (``_kb_stub: true``), property nodes, relationships, nodes changed recently
(only where the mappings map a change-time column: kbgraph itself records no change time on the
nodes it writes), then kbgraph's own nodes: checkpoints and dead letters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kbgraph import graph_model
from kbgraph.graph.cypher import CHECKPOINT_LABEL, DEAD_LETTER_LABEL, STUB, esc
from kbgraph.mapping.loader import LoadedFile, load_mapping_files
from kbgraph.mapping.model import Column, EntityRule

LIMIT = 100
# A mapped date/datetime property with one of these in its name says when the source row changed.
CHANGE_TIME = re.compile(r"updat|modif|chang|edited|mtime", re.I)
_PARAM_SAFE = re.compile(r"[^0-9A-Za-z_]+")


@dataclass
class SavedQuery:
    name: str  # the favourite's name (its first line, ``// name``)
    cypher: str
    kind: str  # entities, neighbourhood, stubs, property nodes, relationships, recent, checkpoints, dead letters
    params: dict[str, str] = field(default_factory=dict)  # name -> a Cypher literal for the ``:param`` line

    def text(self) -> str:
        params = [f":param {k} => {v}" for k, v in self.params.items()]
        return "\n".join([f"// {self.name}", *params, self.cypher + ";"])


def _param(label: str, prop: str, used: set[str]) -> str:
    base = _PARAM_SAFE.sub("_", f"{label}_{prop}".lower()).strip("_")
    name = base if base and not base[0].isdigit() and base.isascii() else f"key{len(used)}"
    while name in used:
        name += "_"
    used.add(name)
    return name


def _change_time(rule: EntityRule) -> list[str]:
    """Mapped properties that hold the source row's change time (a date/datetime column so named)."""
    return [prop for prop, ref in rule.properties.items()
            if isinstance(ref, Column) and ref.type in ("date", "datetime") and CHANGE_TIME.search(prop)]


def saved_queries(files: Sequence[LoadedFile]) -> list[SavedQuery]:
    g = graph_model.build(files)
    rules = {r.labels[0]: r for f in files for r in f.model.entities}
    endpoint_keys = {e.label: list(e.key) for f in files
                     for e in [*(x for r in f.model.relations for x in (r.from_, r.to)), *(p.owner for p in f.model.properties)]}
    out: list[SavedQuery] = []
    used: set[str] = set()
    for label, n in g.nodes.items():
        if n.property_node:
            continue
        var = f"(n:{esc(label)})"
        out.append(SavedQuery(f"{label}: nodes", f"MATCH {var} WHERE n.{STUB} IS NULL\nRETURN n LIMIT {LIMIT}",
                              "entities"))
        for more in [*n.more, *(n.chosen[1] if n.chosen else [])]:
            out.append(SavedQuery(f"{label}: :{more} nodes", f"MATCH (n:{esc(label)}:{esc(more)})\nRETURN n LIMIT {LIMIT}",
                                  "entities"))
        key = n.key or endpoint_keys.get(label, [])
        if key:
            params = {_param(label, k, used): "1" for k in key}
            match = ", ".join(f"{esc(k)}: ${p}" for k, p in zip(key, params))
            out.append(SavedQuery(
                f"{label}: neighbourhood of one node (set its key with :param)",
                f"MATCH (n:{esc(label)} {{{match}}})\nOPTIONAL MATCH (n)-[r]-(m)\nRETURN n, r, m LIMIT {LIMIT}",
                "neighbourhood", params))
        out.append(SavedQuery(
            f"{label}: stubs (referenced, but their own row is not in the graph) and what references them",
            f"MATCH {var} WHERE n.{STUB} = true\nOPTIONAL MATCH (n)-[r]-(m)\nRETURN n, r, m LIMIT {LIMIT}", "stubs"))
        rule = rules.get(label)
        for prop in _change_time(rule) if rule else []:
            out.append(SavedQuery(
                f"{label}: recently changed (by the source's {prop} column)",
                f"MATCH {var} WHERE n.{esc(prop)} IS NOT NULL\nRETURN n ORDER BY n.{esc(prop)} DESC LIMIT 25", "recent"))
    for f in files:
        for p in f.model.properties:
            if p.as_ == "property_node":
                out.append(SavedQuery(
                    f"{p.label}: property nodes with their owners (table {p.table})",
                    f"MATCH (o:{esc(p.owner.label)})-[r:{esc(p.rel_type)}]->(p:{esc(p.label)})\n"
                    f"RETURN o, r, p LIMIT {LIMIT}", "property nodes"))
        for r in f.model.relations:
            types = [r.type] if r.type else list(r.type_from.allow if r.type_from else [])
            out.append(SavedQuery(
                f"{' / '.join(types)}: relationships (table {r.table})",
                f"MATCH (a:{esc(r.from_.label)})-[r:{'|'.join(esc(t) for t in types)}]->(b:{esc(r.to.label)})\n"
                f"RETURN a, r, b LIMIT {LIMIT}", "relationships"))
    out.append(SavedQuery(
        "kbgraph: checkpoints (what each pipeline applied, and when it last committed)",
        f"MATCH (c:{esc(CHECKPOINT_LABEL)})\n"
        "RETURN c.pipeline AS pipeline, c.updated_at AS committed_at, c.changes AS changes ORDER BY committed_at DESC",
        "checkpoints"))
    out.append(SavedQuery(
        "kbgraph: dead letters, newest first (kbgraph dlq list groups them by reason)",
        f"MATCH (d:{esc(DEAD_LETTER_LABEL)})\n"
        "RETURN d.at AS at, d.pipeline AS pipeline, d.op AS op, d.table AS table, d.reason AS reason\n"
        f"ORDER BY at DESC LIMIT {LIMIT}", "dead letters"))
    return out


def _style(g: graph_model.GraphModel) -> str:
    """The GraSS without its comment, as one ``:style`` command."""
    grass = re.sub(r"/\*.*?\*/\s*", "", graph_model.grass(g), flags=re.S)
    return ":style\n" + grass.strip()


def browser_text(files: Sequence[LoadedFile]) -> str:
    queries = saved_queries(files)
    recent = any(q.kind == "recent" for q in queries)
    head = [
        "// Neo4j Browser saved queries for the graph these mappings make (kbgraph model --format browser).",
        "// Each block below is one favourite: paste it into the editor and save it with the star (its first",
        "// line is its name). A :param line sets the key a neighbourhood query looks up: edit it first.",
        "// The :style block colours and captions every mapped label: run it once.",
        "//",
        "// Recently changed nodes: kbgraph records no change time on the nodes it writes (only its checkpoints'",
        "// updated_at, when a pipeline last committed, and a dead letter's at)."
        + (" The \"recently changed\" queries below order by" if recent else " No mapped date/datetime"),
        ("// a change-time column the mappings map from the source." if recent
         else "// property is named like a change time (updated_at, modified, changed), so there is no such query."),
    ]
    g = graph_model.build(files)
    return "\n".join(head) + "\n\n" + _style(g) + "\n\n" + "\n\n".join(q.text() for q in queries) + "\n"


def load(paths: Sequence[str | Path]) -> str:
    return browser_text(load_mapping_files(paths))
