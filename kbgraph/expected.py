"""The graph that the current rows should make, computed in memory: an independent oracle.

It reads the same rule *views* as the translation core (what element a row stands for), but
builds the graph directly, from scratch, without Cypher: entity nodes with their labels, a stub
for every referenced key without a row, relationships, attribute properties and property nodes.
``kbgraph verify`` compares it with the live graph; the tests compare it with what the pipeline
wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from kbgraph.change import Change
from kbgraph.errors import ChangeError
from kbgraph.graph.cypher import ROW_ID, STUB
from kbgraph.mapping.attributes import PropertyCompiled
from kbgraph.mapping.columns import stored
from kbgraph.mapping.compiled import EntityCompiled, RelationCompiled
from kbgraph.mapping.rules import CompiledMapping
from kbgraph.verify.dump import GraphDump, canonical, graph_value, plain

NodeId = tuple[str, tuple[Any, ...]]  # (identity label, key)


class ExpectedGraph:
    def __init__(self, mapping: CompiledMapping) -> None:
        self.mapping = mapping
        self.nodes: dict[NodeId, dict[str, Any]] = {}  # {"labels": set, "props": dict, "stub": bool}
        self.key_names: dict[str, list[str]] = {}
        self.edges: list[tuple[NodeId, str, dict[str, Any], NodeId]] = []
        self.errors: list[str] = []

    def _node(self, label: str, key_names: list[str], key: tuple[Any, ...]) -> dict[str, Any]:
        node = self.nodes.get((label, key))
        if node is None:
            node = {"labels": {label}, "props": dict(zip(key_names, key)), "stub": True}
            self.nodes[(label, key)] = node
        return node

    def add(self, change: Change) -> None:
        """Add one current row (an insert change)."""
        row = change.after
        if row is None:
            raise ValueError(f"{change.describe()}: an expected graph is built from insert changes (rows)")
        try:
            for rule in self.mapping.rules_for(change.schema, change.table):
                self._add(rule, row)
        except ChangeError as e:
            self.errors.append(f"{change.describe()}: {e}")

    def _add(self, rule: Any, row: dict[str, Any]) -> None:
        if isinstance(rule, EntityCompiled):
            v = rule.view(row)
            if v is not None:
                node = self._node(rule.label, rule.key_props, v.key)
                node["stub"] = False
                node["labels"].update(rule.fixed)
                if v.label:
                    node["labels"].add(v.label)
                node["props"].update(stored(v.props))
        elif isinstance(rule, RelationCompiled):
            rv = rule.view(row)
            if rv is not None:
                self._node(rule.f_label, rule.f.names, rv.f)
                self._node(rule.t_label, rule.t.names, rv.t)
                self.edges.append(((rule.f_label, rv.f), rv.type, {ROW_ID: rv.id, **stored(rv.props)}, (rule.t_label, rv.t)))
        elif isinstance(rule, PropertyCompiled):
            pv = rule.view(row)
            if pv is None or (not rule.as_node and not stored(pv.props)):  # a NULL attribute value is no property
                return
            owner = self._node(rule.owner_label, rule.owner.names, pv.owner)
            if rule.as_node:
                pnode = self._node(rule.node_label, [ROW_ID], (pv.id,))
                pnode["stub"] = False
                pnode["props"].update(stored(pv.props))
                self.edges.append(((rule.owner_label, pv.owner), rule.rel_type, {}, (rule.node_label, (pv.id,))))
            else:
                owner["props"].update(stored(pv.props))

    def dump(self) -> GraphDump:
        canon: dict[NodeId, str] = {}
        for nid, node in self.nodes.items():
            props = {k: plain(graph_value(v)) for k, v in node["props"].items()}
            if node["stub"]:
                props[STUB] = True
            canon[nid] = canonical({"labels": sorted(node["labels"]), "props": props})
        rels = Counter(
            canonical({"type": t, "props": {k: plain(graph_value(v)) for k, v in p.items()},
                       "from": canon[a], "to": canon[b]})
            for a, t, p, b in self.edges
        )
        return GraphDump(Counter(canon.values()), rels)


def expected_graph(mapping: CompiledMapping, rows: Iterable[Change]) -> ExpectedGraph:
    g = ExpectedGraph(mapping)
    for change in rows:
        if change.op == "insert" and change.after is not None:
            g.add(change)
    return g
