"""A comparable picture of the mapped graph, for ``kbgraph verify`` and the convergence tests.

Nodes are compared by labels and properties, relationships by type, properties and the identity
(label + key) of their endpoints; internal ids never matter. kbgraph's own bookkeeping nodes
(checkpoints, dead letters) are left out.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import neo4j
import neo4j.time
import orjson

from kbgraph.graph.cypher import CHECKPOINT_LABEL, DEAD_LETTER_LABEL

_SKIP = (CHECKPOINT_LABEL, DEAD_LETTER_LABEL)


def plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return f"{type(value).__name__}:{value.iso_format()}"
    return value


def canonical(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=str).decode()


@dataclass
class GraphDump:
    """Equal when both counters are (the dataclass ``__eq__``); not hashable, as it is mutable."""

    nodes: Counter[str]
    relationships: Counter[str]

    def summary(self) -> str:
        return f"{sum(self.nodes.values())} nodes, {sum(self.relationships.values())} relationships"

    def diff(self, other: GraphDump, limit: int = 10) -> str:
        """What ``self`` has that ``other`` lacks, and the reverse (as text, for test failures)."""
        lines = []
        for what, mine, theirs in (("node", self.nodes, other.nodes), ("relationship", self.relationships, other.relationships)):
            extra, missing = mine - theirs, theirs - mine
            for item in list(extra)[:limit]:
                lines.append(f"+ {what} {item}")
            for item in list(missing)[:limit]:
                lines.append(f"- {what} {item}")
            if len(extra) > limit or len(missing) > limit:
                lines.append(f"  ({len(extra)} {what}s only left, {len(missing)} only right)")
        return "\n".join(lines) or "equal"


def dump_graph(driver: neo4j.Driver, database: str, labels: set[str] | None = None,
               types: set[str] | None = None) -> GraphDump:
    """The graph as comparable text; only nodes with one of ``labels`` and relationships of
    ``types`` when given (so a graph shared with other data can be verified)."""
    nodes: dict[Any, str] = {}
    idents: dict[Any, str] = {}
    records, _, _ = driver.execute_query(
        "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props",
        database_=database, routing_=neo4j.RoutingControl.READ,
    )
    for r in records:
        node_labels = sorted(r["labels"])
        if any(label in _SKIP for label in node_labels) or (labels is not None and not labels.intersection(node_labels)):
            continue
        props = {k: plain(v) for k, v in r["props"].items()}
        nodes[r["id"]] = idents[r["id"]] = canonical({"labels": node_labels, "props": props})
    records, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN elementId(a) AS a, type(r) AS type, properties(r) AS props, elementId(b) AS b",
        database_=database, routing_=neo4j.RoutingControl.READ,
    )
    rels: Counter[str] = Counter()
    for r in records:
        if r["a"] not in idents or r["b"] not in idents or (types is not None and r["type"] not in types):
            continue
        props = {k: plain(v) for k, v in r["props"].items()}
        rels[canonical({"type": r["type"], "props": props, "from": idents[r["a"]], "to": idents[r["b"]]})] += 1
    return GraphDump(Counter(nodes.values()), rels)


def reset_graph(driver: neo4j.Driver, database: str, chunk: int = 5000) -> int:
    """DETACH DELETE every node, ``chunk`` nodes per transaction (so a big graph does not fill one
    transaction). Constraints and indexes stay. Returns how many nodes were deleted."""
    total = 0
    while True:
        records, _, _ = driver.execute_query(
            "MATCH (n) WITH n LIMIT $chunk DETACH DELETE n RETURN count(*) AS deleted", chunk=chunk, database_=database
        )
        deleted = int(records[0]["deleted"]) if records else 0
        total += deleted
        if deleted == 0:
            return total


def graph_value(v: Any) -> Any:
    """A Python value as the driver would hand it back (so both sides print alike)."""
    if isinstance(v, dt.datetime):
        return neo4j.time.DateTime.from_native(v)
    if isinstance(v, dt.date):
        return neo4j.time.Date.from_native(v)
    if isinstance(v, dt.time):
        return neo4j.time.Time.from_native(v)
    if isinstance(v, (list, tuple)):
        return [graph_value(x) for x in v]
    return v
