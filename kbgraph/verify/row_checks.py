"""The source side of ``kbgraph verify``: missing and differing elements, one chunk of rows at a time.

A chunk of rows is translated through the compiled rule (``rule.view``, the writer's own code, with
``after_view``: a row the mapping rejects counts as not in the graph, as the writer dead-letters it)
and the graph elements with the same identities are fetched by key: entity nodes by label + key,
relationships and property nodes by their row id ``_kb_id``, attribute properties on their owner.
The graph side (extra elements) is in ``kbgraph.verify.extras``.

Each difference carries its repair: the source rows to apply again as inserts, or a graph operation
with the writer's own delete statements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import neo4j

from kbgraph.errors import ChangeError
from kbgraph.graph import cypher
from kbgraph.graph.cypher import ROW_ID, STUB, esc
from kbgraph.mapping.attributes import PropertyCompiled
from kbgraph.mapping.columns import stored
from kbgraph.mapping.compiled import EntityCompiled, RelationCompiled, after_view
from kbgraph.verify.differences import ABSENT, DIFFERS, MISSING, Difference, PropDiff, diff_props, name_of
from kbgraph.verify.source_rows import Row, TableId

Rejects = Callable[[str], None]
Fix = list[tuple[str, Any, Any]]  # ("row", table id, row) or ("op", GraphOp, what)


class Graph:
    def __init__(self, driver: neo4j.Driver, database: str) -> None:
        self.driver, self.database = driver, database

    def read(self, text: str, **params: Any) -> list[Any]:
        records, _, _ = self.driver.execute_query(text, params, database_=self.database,
                                                  routing_=neo4j.RoutingControl.READ)
        return records


def keys_of(var: str, props: list[str]) -> str:
    return "[" + ", ".join(f"{var}.{esc(p)}" for p in props) + "]"


def _views(fn: Callable[[Row], Any], rows: list[Row], rejects: Rejects) -> list[tuple[Row, Any]]:
    out = []
    for row in rows:
        errors: list[ChangeError] = []
        v = after_view(fn, row, errors)
        if errors:
            rejects(str(errors[0]))
        elif v is not None:
            out.append((row, v))
    return out


def owned_by(names: list[str]) -> Callable[[str], bool]:
    """Properties a rule owns: its property names and their flattened JSON leaves (``meta.a``)."""
    plain, prefixes = set(names), tuple(n + "." for n in names)
    return lambda n: n in plain or n.startswith(prefixes)


def rid_name(rule_type: str, rid: str) -> str:
    return f"{rule_type} {{{ROW_ID}: {rid!r}}}"


# ---------------------------------------------------------------------- source side


def entity_rows(rule: EntityCompiled, tid: TableId, rows: list[Row], g: Graph, rejects: Rejects) -> list[Difference]:
    expected: dict[tuple[Any, ...], tuple[set[str], dict[str, Any], Row]] = {}
    for row, v in _views(rule.view, rows, rejects):
        labels = {rule.label, *rule.fixed, *([v.label] if v.label else [])}
        expected[v.key] = (labels, {**dict(zip(rule.key_props, v.key)), **stored(v.props)}, row)
    if not expected:
        return []
    keys = list(expected)
    records = g.read(
        f"UNWIND $rows AS row OPTIONAL MATCH (n:{esc(rule.label)} {cypher.key_map(rule.key_props, 'row.k')}) "
        "RETURN row.i AS i, labels(n) AS labels, properties(n) AS props",
        rows=[{"i": i, "k": list(k)} for i, k in enumerate(keys)])
    possible = {rule.label, *rule.fixed, *(rule.chooser.allow if rule.chooser else [])}
    owned = owned_by([*rule.key_props, *rule.props.names])
    out = []
    for r in records:
        key = keys[r["i"]]
        labels, props, row = expected[key]
        what = name_of(rule.label, rule.key_props, key)
        fix: Fix = [("row", tid, row)]
        if r["labels"] is None:
            out.append(Difference(MISSING, what, fix=fix))
            continue
        diffs = []
        have = set(r["labels"]) & possible
        if have != labels:
            diffs.append(PropDiff("labels", sorted(have), sorted(labels)))
        if r["props"].get(STUB):
            diffs.append(PropDiff(STUB, True, ABSENT))
        diffs += diff_props(r["props"], props, owned)
        if diffs:
            out.append(Difference(DIFFERS, what, tuple(diffs), fix=fix))
    return out


def _edge_name(t: str, rid: str, f: str, to: str) -> str:
    return f"({f})-[:{t} {{{ROW_ID}: {rid!r}}}]->({to})"


def relation_rows(rule: RelationCompiled, tid: TableId, rows: list[Row], g: Graph, rejects: Rejects) -> list[Difference]:
    expected = {v.id: (v, row) for row, v in _views(rule.view, rows, rejects)}
    if not expected:
        return []
    found: dict[str, list[tuple[str, dict[str, Any], list[Any], list[Any], bool, bool]]] = {}
    ret = (f"RETURN id, properties(r) AS props, {keys_of('a', rule.f.names)} AS f, {keys_of('b', rule.t.names)} AS t, "
           f"a:{esc(rule.f_label)} AS fl, b:{esc(rule.t_label)} AS tl")
    for t in rule.types:
        # by the endpoints first (two unique-key lookups and an expand), then what was not found there
        # by the row id alone (the relationship index): an element with other endpoints is found too
        want = [{"id": rid, "f": list(v.f), "t": list(v.t)} for rid, (v, _) in expected.items() if v.type == t]
        records = g.read(
            f"UNWIND $rows AS row MATCH (a:{esc(rule.f_label)} {cypher.key_map(rule.f.names, 'row.f')})"
            f"-[r:{esc(t)}]->(b:{esc(rule.t_label)} {cypher.key_map(rule.t.names, 'row.t')}) "
            f"WHERE r.{ROW_ID} = row.id WITH row.id AS id, r, a, b {ret}", rows=want) if want else []
        for r in records:
            found.setdefault(r["id"], []).append((t, r["props"], r["f"], r["t"], r["fl"], r["tl"]))
    for t in rule.types:
        rest = [rid for rid in expected if rid not in found]
        if not rest:
            break
        records = g.read(f"UNWIND $ids AS id MATCH (a)-[r:{esc(t)} {{{ROW_ID}: id}}]->(b) {ret}", ids=rest)
        for r in records:
            found.setdefault(r["id"], []).append((t, r["props"], r["f"], r["t"], r["fl"], r["tl"]))
    out = []
    for rid, (v, row) in expected.items():
        what = _edge_name(v.type, rid, name_of(rule.f_label, rule.f.names, v.f), name_of(rule.t_label, rule.t.names, v.t))
        fix: Fix = [("row", tid, row)]
        have = found.get(rid, [])
        if not have:
            out.append(Difference(MISSING, what, fix=fix))
            continue
        diffs = []
        if len(have) > 1:
            diffs.append(PropDiff("relationships with this id", len(have), 1))
        t, props, f, to, fl, tl = have[0]
        if t != v.type:
            diffs.append(PropDiff("type", t, v.type))
        if list(f) != list(v.f) or not fl:
            diffs.append(PropDiff("from", f if fl else f"not :{rule.f_label}", list(v.f)))
        if list(to) != list(v.t) or not tl:
            diffs.append(PropDiff("to", to if tl else f"not :{rule.t_label}", list(v.t)))
        diffs += diff_props({k: x for k, x in props.items() if k != ROW_ID}, stored(v.props))
        if diffs:
            out.append(Difference(DIFFERS, what, tuple(diffs), fix=fix))
    return out


def property_node_rows(rule: PropertyCompiled, tid: TableId, rows: list[Row], g: Graph,
                       rejects: Rejects) -> list[Difference]:
    expected = {v.id: (v, row) for row, v in _views(rule.view, rows, rejects)}
    if not expected:
        return []
    records = g.read(
        f"UNWIND $ids AS id MATCH (p:{esc(rule.node_label)} {{{ROW_ID}: id}}) "
        f"OPTIONAL MATCH (o:{esc(rule.owner_label)})-[:{esc(rule.rel_type)}]->(p) "
        f"RETURN id, properties(p) AS props, collect({keys_of('o', rule.owner.names)}) AS owners",
        ids=list(expected))
    found = {r["id"]: r for r in records}
    out = []
    for rid, (v, row) in expected.items():
        what = f"{name_of(rule.owner_label, rule.owner.names, v.owner)}-[:{rule.rel_type}]->" \
               f"({rid_name(rule.node_label, rid)})"
        fix: Fix = [("row", tid, row)]
        r = found.get(rid)
        if r is None:
            out.append(Difference(MISSING, what, fix=fix))
            continue
        diffs = list(diff_props({k: x for k, x in r["props"].items() if k != ROW_ID}, stored(v.props)))
        owners = [list(o) for o in r["owners"] if o is not None and any(x is not None for x in o)]
        if owners != [list(v.owner)]:
            diffs.append(PropDiff("owner", owners, [list(v.owner)]))
        if diffs:
            out.append(Difference(DIFFERS, what, tuple(diffs), fix=fix))
    return out


def attribute_rows(rule: PropertyCompiled, tid: TableId, rows: list[Row], g: Graph, rejects: Rejects) -> list[Difference]:
    expected: dict[tuple[Any, ...], tuple[dict[str, Any], list[Row]]] = {}
    for row, v in _views(rule.view, rows, rejects):
        props = stored(v.props)
        if props:
            have = expected.setdefault(v.owner, ({}, []))
            have[0].update(props)
            have[1].append(row)
    if not expected:
        return []
    keys = list(expected)
    records = g.read(
        f"UNWIND $rows AS row OPTIONAL MATCH (n:{esc(rule.owner_label)} {cypher.key_map(rule.owner.names, 'row.k')}) "
        "RETURN row.i AS i, properties(n) AS props",
        rows=[{"i": i, "k": list(k)} for i, k in enumerate(keys)])
    out = []
    for r in records:
        key = keys[r["i"]]
        props, owner_rows = expected[key]
        what = name_of(rule.owner_label, rule.owner.names, key)
        fix: Fix = [("row", tid, row) for row in owner_rows]
        if r["props"] is None:
            out.append(Difference(MISSING, what, fix=fix))
            continue
        diffs = diff_props(r["props"], props, owned=lambda n: False)
        if diffs:
            out.append(Difference(DIFFERS, what, diffs, fix=fix))
    return out


def check_rows(rule: Any, tid: TableId, rows: list[Row], g: Graph, rejects: Rejects) -> list[Difference]:
    if isinstance(rule, EntityCompiled):
        return entity_rows(rule, tid, rows, g, rejects)
    if isinstance(rule, RelationCompiled):
        return relation_rows(rule, tid, rows, g, rejects)
    if rule.as_node:
        return property_node_rows(rule, tid, rows, g, rejects)
    return attribute_rows(rule, tid, rows, g, rejects)


def describe(rule: Any, tid: TableId) -> str:
    src = f"{tid[0]}.{tid[1]}" if tid[0] else tid[1]
    if isinstance(rule, EntityCompiled):
        return f"{src} → :{rule.label}"
    if isinstance(rule, RelationCompiled):
        return f"{src} → [:{'|'.join(rule.types)}]"
    if rule.as_node:
        return f"{src} → :{rule.owner_label}-[:{rule.rel_type}]->(:{rule.node_label})"
    return f"{src} → attributes of :{rule.owner_label}"
