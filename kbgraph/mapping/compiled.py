"""Compiled entity and relation rules: one change in, graph operations out. Pure: no I/O.

Each rule turns a row image into a *view* (the element the row stands for: its identity and
properties, or ``None`` when the row is not in the graph: filtered out, NULL endpoint, ...). A
change is then a pair of views, old (before) and new (after), and the operations follow from
comparing them: nothing → something is a create, something → nothing a delete, same identity a
property diff, a different identity a re-key (entities) or a delete + create (relationships,
properties). Loading rows from scratch is the same code with old = nothing, which is what makes
the convergence test meaningful. Attribute (EAV) rules live in ``attributes.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kbgraph.errors import ChangeError
from kbgraph.graph import cypher
from kbgraph.graph.ops import BARRIER, GraphOp, NodeHow, NodeTouch, RowTouch, Statement, Touch
from kbgraph.mapping.columns import (
    NODE_DELETE,
    NODE_UPSERT,
    REKEY,
    REMOVE,
    UPSERT,
    Buckets,
    Chooser,
    Columns,
    Props,
    Row,
    cascade_values,
    row_id,
    state,
    where_of,
)
from kbgraph.mapping.model import EntityRule, Options, RelationRule


@dataclass
class _NodeView:
    key: tuple[Any, ...]
    label: str | None
    props: Props


class EntityCompiled:
    kind = "entity"

    def __init__(self, rule: EntityRule, options: Options, name: str) -> None:
        self.name = name
        self.table = rule.table
        labels = rule.labels
        self.label = labels[0]
        self.fixed = labels[1:]
        self.keys = Columns(rule.key_columns, options)
        self.key_props = self.keys.names
        self.props = Columns(rule.properties, options)
        self.where = where_of(rule.where)
        self.chooser = Chooser(rule.label_from, "label", name) if rule.label_from else None
        allow = self.chooser.allow if self.chooser else []
        self.upserts: dict[str | None, Statement] = {}
        for dyn in [None, *allow]:
            add = [*self.fixed, *([dyn] if dyn else [])]
            drop = [a for a in allow if a != dyn]
            self.upserts[dyn] = Statement(
                f"{name}: upsert :{self.label}{''.join(':' + a for a in add)}",
                cypher.node_upsert(self.label, self.key_props, add, drop),
                "merge",
            )
        self.delete = Statement(
            f"{name}: delete :{self.label}", cypher.node_delete(self.label, self.key_props, [*self.fixed, *allow]), "merge"
        )
        self.rekey = Statement(f"{name}: re-key :{self.label}", cypher.node_rekey(self.label, self.key_props), "none")
        # set by CompiledMapping once every rule is known: moving a stub's relationships, then cascades
        self.rekey_steps: list[Statement] = [self.rekey]
        self.cascades: list[Cascade] = []
        names = self.props.names
        unset = Statement(f"{name}: unset stale JSON leaves of :{self.label}",
                          cypher.props_unset(self.label, self.key_props), "merge")
        self.prune = Statement(f"{name}: find stale JSON leaves of :{self.label}",
                               cypher.node_prune_read(self.label, self.key_props, [n + "." for n in names]),
                               "none", then=unset)
        self.truncate_stmt = Statement(
            f"{name}: truncate :{self.label}",
            cypher.entity_truncate_read(self.label, self.key_props, names, [n + "." for n in names]),
            "same", then=self.delete,
        )

    def truncate(self, out: Buckets) -> None:
        out[NODE_DELETE].append(GraphOp(self.truncate_stmt, {"table": self.table}, BARRIER, "truncate"))

    @property
    def columns(self) -> set[str]:
        cols = set(self.keys.columns) | set(self.props.columns)
        if self.chooser:
            cols.add(self.chooser.column)
        return cols | set(getattr(self.where, "columns", ()))

    def view(self, row: Row | None) -> _NodeView | None:
        if row is None or not self.where(row):
            return None
        return _NodeView(self.key_of(row), self.chooser(row) if self.chooser else None, self.props.props(row))

    def key_of(self, row: Row) -> tuple[Any, ...]:
        key = self.keys.key(row)
        if key is None:
            raise ChangeError(f"rule {self.name!r}: a key column of {self.keys.columns} is NULL", kind="null_key")
        return key

    def translate(self, before: Row | None, after: Row | None, out: Buckets, errors: list[ChangeError]) -> None:
        new = after_view(self.view, after, errors)  # the before image only says what to take away
        old, known = lenient(self.view, before)
        k_old = lenient(self.key_of, before)[0] if before is not None else None
        k_new = lenient(self.key_of, after)[0] if after is not None else k_old
        rekeyed = k_old is not None and k_new is not None and k_old != k_new
        if rekeyed:
            # A key change moves the node, whether or not the row passes the filter: the node may
            # be a stub that rows referencing this key (which follow it, like ON UPDATE CASCADE) keep.
            assert k_old is not None and k_new is not None and before is not None and after is not None
            refs = (NodeTouch("n", self.label, k_old), NodeTouch("n", self.label, k_new))
            for stmt in self.rekey_steps:
                out[REKEY].append(GraphOp(stmt, {"o": list(k_old), "n": list(k_new)}, refs, None))
            for c in self.cascades:
                row = {"n": list(k_new), "prefix": c.prefix, "pos": c.pos,
                       "ov": cascade_values(before, c.columns), "nv": cascade_values(after, c.columns)}
                out[REKEY].append(GraphOp(c.stmt, row, refs, None))
            if old is not None:
                old.key = k_new
        if new is not None:
            ref = NodeTouch("u", self.label, new.key)
            p = state(self.props.names, new.props, old.props if old is not None else None)
            out[NODE_UPSERT].append(GraphOp(self.upserts[new.label], {"k": list(new.key), "p": p}, (ref,), ref))
        elif before is not None and k_new is not None:
            # the row is not (or no longer) in the graph: make sure its node is at most a stub
            ref = NodeTouch("n", self.label, k_new)
            p = state(self.props.names, {}, old.props if old is not None else None)
            out[NODE_DELETE].append(GraphOp(self.delete, {"k": list(k_new), "p": p}, (ref,), ref))
        if (not known or rekeyed) and k_new is not None and self.props.names:
            # the before image did not map, or two nodes were merged: which flattened JSON leaves
            # the node holds is not known from the images
            ref = NodeTouch("n", self.label, k_new)
            keep = list(new.props) if new is not None else []
            out[UPSERT].append(GraphOp(self.prune, {"k": list(k_new), "keep": keep}, (ref,), None))


@dataclass(frozen=True)
class Cascade:
    """Row ids that follow a re-keyed node: one rule's elements whose row key holds its key columns."""

    stmt: Statement  # read step (then: write the new ids)
    prefix: str  # the rule's row-id prefix
    pos: list[int]  # positions in the row id that hold the node's key columns
    columns: list[str]  # the entity table's columns whose values those positions hold


def after_view(fn: Callable[[Row], Any], row: Row | None, errors: list[ChangeError]) -> Any:
    """``fn(row)``; when the after image does not map, its error is noted and the row counts as not
    in the graph (the change is dead-lettered with that reason, and what it takes away applies)."""
    try:
        return fn(row) if row is not None else None
    except ChangeError as e:
        errors.append(e)
        return None


def lenient(fn: Callable[[Row], Any], row: Row | None) -> tuple[Any, bool]:
    """``fn(row)``, or ``(None, False)`` when the row does not map (a before image that failed then).

    An image that failed the mapping on the before side (a label outside the allow-list, a value
    that does not convert) must not block the after side: that is how a rejected row is corrected.
    """
    if row is None:
        return None, True
    try:
        return fn(row), True
    except ChangeError:
        return None, False


@dataclass
class _EdgeView:
    id: str
    type: str
    f: tuple[Any, ...]
    t: tuple[Any, ...]
    props: Props


class RelationCompiled:
    kind = "relation"

    def __init__(self, rule: RelationRule, options: Options, name: str, key_cols: list[str]) -> None:
        self.name = name
        self.table = rule.table
        self.f_label, self.t_label = rule.from_.label, rule.to.label
        self.f = Columns(rule.from_.key, options)
        self.t = Columns(rule.to.key, options)
        self.props = Columns(rule.properties, options)
        self.where = where_of(rule.where)
        self.chooser = Chooser(rule.type_from, "relationship type", name) if rule.type_from else None
        self.fixed_type = rule.type
        self.key_cols = key_cols
        if self.chooser is None and rule.type is None:
            raise ValueError(f"rule {name!r}: a relation needs type or type_from")  # the model validates this
        types: list[str] = self.chooser.allow if self.chooser else [rule.type]  # type: ignore[list-item]
        f_key, t_key = self.f.names, self.t.names
        self.upserts = {
            t: Statement(f"{name}: upsert [:{t}]", cypher.edge_upsert(t, self.f_label, f_key, self.t_label, t_key), "merge")
            for t in types
        }
        self.deletes = {
            t: Statement(f"{name}: delete [:{t}]", cypher.edge_delete(t, self.f_label, f_key, self.t_label, t_key), "same")
            for t in types
        }
        self.truncates = [
            Statement(f"{name}: truncate [:{t}]", cypher.edge_delete(t, self.f_label, f_key, self.t_label, t_key, by_prefix=True), "same")
            for t in types
        ]

    def truncate(self, out: Buckets) -> None:
        for stmt in self.truncates:
            out[REMOVE].append(GraphOp(stmt, {"prefix": self.name + ":"}, BARRIER, "truncate"))

    @property
    def types(self) -> list[str]:
        return list(self.upserts)

    @property
    def columns(self) -> set[str]:
        cols = set(self.f.columns) | set(self.t.columns) | set(self.props.columns) | set(self.key_cols)
        if self.chooser:
            cols.add(self.chooser.column)
        return cols | set(getattr(self.where, "columns", ()))

    def view(self, row: Row | None) -> _EdgeView | None:
        if row is None or not self.where(row):
            return None
        f, t = self.f.key(row), self.t.key(row)
        if f is None or t is None:
            return None
        rtype = self.chooser(row) if self.chooser else self.fixed_type
        if rtype is None:
            return None
        return _EdgeView(row_id(self.name, self.key_cols, row), rtype, f, t, self.props.props(row))

    def translate(self, before: Row | None, after: Row | None, out: Buckets, errors: list[ChangeError]) -> None:
        new = after_view(self.view, after, errors)
        old, _ = lenient(self.view, before)
        if old is not None and new is not None and (old.id, old.type, old.f, old.t) == (new.id, new.type, new.f, new.t):
            self._upsert(new, state(self.props.names, new.props, old.props), out)
            return
        if old is not None:
            refs = self._refs(old)
            out[REMOVE].append(GraphOp(self.deletes[old.type], {"id": old.id}, refs, refs[0]))
        elif before is not None:
            # the before image names no relationship (the row was not in the graph, or the image
            # did not map): make sure none of its row id is left, wherever it is
            rid = self._id(before)
            for stmt in self.deletes.values():
                touch = RowTouch("e", rid)
                out[REMOVE].append(GraphOp(stmt, {"id": rid}, (touch,), touch))
        if new is not None:
            self._upsert(new, state(self.props.names, new.props), out)

    def _id(self, row: Row) -> str:
        return row_id(self.name, self.key_cols, row)

    def _upsert(self, v: _EdgeView, p: Props, out: Buckets) -> None:
        row = {"id": v.id, "f": list(v.f), "t": list(v.t), "p": p}
        refs = self._refs(v, True)
        out[UPSERT].append(GraphOp(self.upserts[v.type], row, refs, refs[0]))

    def _refs(self, v: _EdgeView, merge: bool = False) -> tuple[Touch, ...]:
        """Elements touched; an upsert only MERGEs its endpoints ("m": commutes with entity upserts)."""
        how: NodeHow = "m" if merge else "n"
        return (RowTouch("e", v.id), NodeTouch(how, self.f_label, v.f), NodeTouch(how, self.t_label, v.t))
