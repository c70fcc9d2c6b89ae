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

from dataclasses import dataclass
from typing import Any

from kbgraph.errors import ChangeError
from kbgraph.graph import cypher
from kbgraph.graph.ops import BARRIER, GraphOp, Statement
from kbgraph.mapping.columns import (
    NODE_DELETE, NODE_UPSERT, REKEY, REMOVE, UPSERT, Chooser, Columns, Props, Row, diff, nulls, row_id, where_of,
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
        names = self.props.names
        self.truncate_stmt = Statement(
            f"{name}: truncate :{self.label}",
            cypher.entity_truncate_read(self.label, self.key_props, names, [n + "." for n in names]),
            "same", then=self.delete,
        )

    def truncate(self, out: list[list[GraphOp]]) -> None:
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
            raise ChangeError(f"rule {self.name!r}: a key column of {self.keys.columns} is NULL")
        return key

    def translate(self, before: Row | None, after: Row | None, out: list[list[GraphOp]]) -> None:
        old, new = self.view(before), self.view(after)
        if before is not None and after is not None:
            # A key change moves the node, whether or not the row passes the filter: the node may
            # be a stub that rows referencing this key (which follow it, like ON UPDATE CASCADE) keep.
            k_old, k_new = self.key_of(before), self.key_of(after)
            if k_old != k_new:
                refs = (("n", self.label, k_old), ("n", self.label, k_new))
                out[REKEY].append(GraphOp(self.rekey, {"o": list(k_old), "n": list(k_new)}, refs, None))
                if old is not None:
                    old.key = k_new
        self.ops(old, new, out)

    def ops(self, old: _NodeView | None, new: _NodeView | None, out: list[list[GraphOp]]) -> None:
        """``old`` and ``new`` have the same key here (a re-key was emitted before)."""
        if old is None and new is None:
            return
        if new is None:
            ref = ("n", self.label, old.key)
            out[NODE_DELETE].append(GraphOp(self.delete, {"k": list(old.key), "p": nulls(old.props)}, (ref,), ref))
            return
        ref = ("u", self.label, new.key)
        if old is None:
            p = new.props
        else:
            p = diff(old.props, new.props)
            if not p and old.label == new.label:
                return
        out[NODE_UPSERT].append(GraphOp(self.upserts[new.label], {"k": list(new.key), "p": p}, (ref,), ref))


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
        types = self.chooser.allow if self.chooser else [rule.type]
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

    def truncate(self, out: list[list[GraphOp]]) -> None:
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

    def translate(self, before: Row | None, after: Row | None, out: list[list[GraphOp]]) -> None:
        self.ops(self.view(before), self.view(after), out)

    def _refs(self, v: _EdgeView, merge: bool = False) -> tuple:
        """Elements touched; an upsert only MERGEs its endpoints ("m": commutes with entity upserts)."""
        kind = "m" if merge else "n"
        return (("e", v.id), (kind, self.f_label, v.f), (kind, self.t_label, v.t))

    def ops(self, old: _EdgeView | None, new: _EdgeView | None, out: list[list[GraphOp]]) -> None:
        if old is not None and new is not None and (old.id, old.type, old.f, old.t) == (new.id, new.type, new.f, new.t):
            p = diff(old.props, new.props)
            if p:
                row = {"id": new.id, "f": list(new.f), "t": list(new.t), "p": p}
                out[UPSERT].append(GraphOp(self.upserts[new.type], row, self._refs(new, True), ("e", new.id)))
            return
        if old is not None:
            refs = self._refs(old)
            out[REMOVE].append(GraphOp(self.deletes[old.type], {"id": old.id}, refs, refs[0]))
        if new is not None:
            row = {"id": new.id, "f": list(new.f), "t": list(new.t), "p": new.props}
            refs = self._refs(new, True)
            out[UPSERT].append(GraphOp(self.upserts[new.type], row, refs, refs[0]))
