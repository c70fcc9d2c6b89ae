"""The graph side of ``kbgraph verify``: extra elements, one chunk of graph keys at a time.

Each keyed label, relationship type and property-node label is scanned in key / row-id order, a
chunk at a time; the rows those keys name are looked up in the source by key, so nothing is held but
the chunk. A stub is expected while anything references it: the writer removes a stub with no
relationships and no attribute properties, so such a stub is extra; a full node without a row is a
stub the writer failed to strip. An extra element's repair is a graph operation with the writer's
own delete statements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kbgraph.errors import ChangeError
from kbgraph.graph import cypher
from kbgraph.graph.cypher import ROW_ID, STUB, esc
from kbgraph.graph.ops import GraphOp, NodeTouch, RowTouch, Statement
from kbgraph.mapping.attributes import PropertyCompiled
from kbgraph.mapping.columns import state, stored
from kbgraph.mapping.compiled import EntityCompiled, after_view
from kbgraph.verify.differences import ABSENT, DIFFERS, EXTRA, Difference, PropDiff, name_of, show
from kbgraph.verify.row_checks import Fix, Graph, Rejects, keys_of, owned_by, rid_name
from kbgraph.verify.source_rows import Row, TableId

# rows: (rule, table ids) → lookup(table id, columns, keys) → rows
Lookup = Callable[[Any, list[str], list[tuple[Any, ...]]], list[tuple[TableId, Row]]]


def scan_nodes(g: Graph, label: str, key: list[str], after: list[Any] | None, size: int) -> list[Any]:
    """One chunk of a keyed label's nodes in key order, after the key ``after``."""
    where = ""
    if after is not None:
        parts = []
        for i in range(len(key)):
            eq = [f"n.{esc(k)} = $after[{j}]" for j, k in enumerate(key[:i])]
            parts.append("(" + " AND ".join([*eq, f"n.{esc(key[i])} > $after[{i}]"]) + ")")
        where = "WHERE " + " OR ".join(parts)
    order = ", ".join(f"n.{esc(k)}" for k in key)
    return g.read(
        f"MATCH (n:{esc(label)}) {where} "
        f"RETURN {keys_of('n', key)} AS k, labels(n) AS labels, properties(n) AS props, "
        f"EXISTS {{ (n)--() }} AS linked ORDER BY {order} LIMIT $size", after=after, size=size)


def scan_ids(g: Graph, pattern: str, var: str, after: str | None, size: int) -> list[str]:
    """One chunk of row ids (``_kb_id``) of a relationship type or property-node label, in order."""
    where = f"WHERE {var}.{ROW_ID} > $after" if after is not None else f"WHERE {var}.{ROW_ID} IS NOT NULL"
    records = g.read(f"MATCH {pattern} {where} RETURN DISTINCT {var}.{ROW_ID} AS id ORDER BY id LIMIT $size",
                     after=after, size=size)
    return [r["id"] for r in records]


def split_id(rid: str) -> tuple[str, list[Any]] | None:
    """``relation:[3]`` → ``("relation", [3])``; None for an id kbgraph did not write."""
    at = rid.find(":[")
    if at < 0:
        return None
    try:
        values = orjson.loads(rid[at + 1:])
    except orjson.JSONDecodeError:
        return None
    return (rid[:at], values) if isinstance(values, list) else None


class LabelCheck:
    """Extras among one keyed label's nodes: full nodes without a row, stubs nothing references,
    properties no rule gives (attributes)."""

    def __init__(self, label: str, key: list[str], entities: list[EntityCompiled], attributes: list[PropertyCompiled],
                 held_elsewhere: bool) -> None:
        self.label, self.key = label, key
        self.entities, self.attributes = entities, attributes
        self.held_elsewhere = held_elsewhere  # the label is also one an entity rule adds to its nodes
        names = [n for e in entities for n in e.props.names]
        self.owned = owned_by(names)
        self.strip = Statement(f"verify: strip :{label}", cypher.props_unset(label, key), "merge")
        self.entity_names = names

    def check(self, nodes: list[Any], lookup: Lookup, rejects: Rejects) -> list[Difference]:
        out: list[Difference] = []
        full = [tuple(n["k"]) for n in nodes if not n["props"].get(STUB)]
        with_row: set[tuple[Any, ...]] = set()
        for e in self.entities:
            if full:
                for _, _, v in _lookup_views(e, e.keys.columns, full, lookup, rejects):
                    with_row.add(v.key)
        attrs = self._attributes(nodes, lookup, rejects)
        for n in nodes:
            key, props = tuple(n["k"]), n["props"]
            what = name_of(self.label, self.key, key)
            other = {p for p in props if p not in self.key and not p.startswith("_kb")}
            unknown = sorted(p for p in other if not self.owned(p))
            if props.get(STUB):
                if not n["linked"] and not other:
                    out.append(Difference(EXTRA, f"{what} (a stub nothing references)", fix=[self._op(key, {})]))
            elif key not in with_row and not self.held_elsewhere:
                if n["linked"] or unknown:
                    p = dict.fromkeys(e for e in other if self.owned(e))
                    out.append(Difference(DIFFERS, what, (PropDiff(STUB, ABSENT, True),), fix=self._delete(key, p)))
                else:
                    out.append(Difference(EXTRA, what, fix=self._delete(key, dict.fromkeys(other))))
            given = attrs.get(key, set())
            for p in unknown:
                if p not in given:
                    out.append(Difference(EXTRA, f"{what}: {p} = {show(props[p])}", fix=[self._op(key, {p: None})]))
        return out

    def _attributes(self, nodes: list[Any], lookup: Lookup, rejects: Rejects) -> dict[tuple[Any, ...], set[str]]:
        owners = [tuple(n["k"]) for n in nodes
                  if any(p not in self.key and not p.startswith("_kb") and not self.owned(p) for p in n["props"])]
        given: dict[tuple[Any, ...], set[str]] = {}
        for a in self.attributes:
            if owners:
                for _, _, v in _lookup_views(a, a.owner.columns, owners, lookup, rejects):
                    given.setdefault(v.owner, set()).update(stored(v.props))
        return given

    def _op(self, key: tuple[Any, ...], p: dict[str, Any]) -> tuple[str, Any, Any]:
        ref = NodeTouch("n", self.label, key)
        return ("op", GraphOp(self.strip, {"k": list(key), "p": p}, (ref,), ref), None)

    def _delete(self, key: tuple[Any, ...], p: dict[str, Any]) -> Fix:
        if not self.entities:
            return [self._op(key, p)]
        e = self.entities[0]
        ref = NodeTouch("n", self.label, key)
        return [("op", GraphOp(e.delete, {"k": list(key), "p": {**state(e.props.names, {}), **p}}, (ref,), ref), None)]


def _lookup_views(rule: Any, cols: list[str], keys: list[tuple[Any, ...]], lookup: Lookup,
                  rejects: Rejects) -> list[tuple[TableId, Row, Any]]:
    out = []
    for tid, row in lookup(rule, cols, keys):
        errors: list[ChangeError] = []
        v = after_view(rule.view, row, errors)
        if v is not None and not errors:
            out.append((tid, row, v))
    return out


class IdCheck:
    """Extras among the relationships of one type, or the nodes of one property-node label, by row id."""

    def __init__(self, name: str, pattern: str, var: str, rules: list[Any], delete: Callable[[Any, str], Statement]) -> None:
        self.name, self.pattern, self.var = name, pattern, var
        self.rules = {r.name: r for r in rules}
        self.delete = delete

    def check(self, ids: list[str], lookup: Lookup, rejects: Rejects) -> list[Difference]:
        by_rule: dict[str, list[tuple[str, list[Any]]]] = {}
        out = []
        for rid in ids:
            parsed = split_id(rid)
            rule = self.rules.get(parsed[0]) if parsed else None
            if rule is None or len(parsed[1]) != len(rule.key_cols):  # type: ignore[index]
                out.append(self._extra(next(iter(self.rules.values())), rid))
                continue
            by_rule.setdefault(rule.name, []).append((rid, parsed[1]))  # type: ignore[index]
        for name, items in by_rule.items():
            rule = self.rules[name]
            want = set()
            for _, _, v in _lookup_views(rule, rule.key_cols, [tuple(vals) for _, vals in items], lookup, rejects):
                if self._same_kind(v):
                    want.add(v.id)
            out += [self._extra(rule, rid) for rid, _ in items if rid not in want]
        return out

    def _same_kind(self, v: Any) -> bool:
        return getattr(v, "type", self.name) == self.name

    def _extra(self, rule: Any, rid: str) -> Difference:
        ref = RowTouch("e", rid)
        op = GraphOp(self.delete(rule, self.name), {"id": rid}, (ref,), ref)
        what = f"[:{self.name} {{{ROW_ID}: {rid!r}}}]" if self.var == "r" else rid_name(self.name, rid)
        return Difference(EXTRA, what,
                          fix=[("op", op, None)])
