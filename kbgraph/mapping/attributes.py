"""Compiled attribute (EAV) rules: a key/value row is a property of its owner node, or a property node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kbgraph.errors import ChangeError
from kbgraph.graph import cypher
from kbgraph.graph.ops import BARRIER, GraphOp, NodeTouch, RowTouch, Statement
from kbgraph.mapping.columns import REMOVE, UPSERT, Buckets, Columns, Props, Row, nulls, row_id, state, where_of
from kbgraph.mapping.compiled import after_view, lenient
from kbgraph.mapping.model import Options, PropertyRule, check_property_key

_NODE_PROPS = ("name", "value")  # what a property node holds (flattened JSON values add "value.*")


@dataclass
class _PropView:
    id: str | None
    owner: tuple[Any, ...]
    props: Props


class PropertyCompiled:
    kind = "property"

    def __init__(self, rule: PropertyRule, options: Options, name: str, key_cols: list[str],
                 reserved: set[str]) -> None:
        self.name = name
        self.table = rule.table
        self.as_node = rule.as_ == "property_node"
        self.owner_label = rule.owner.label
        self.owner = Columns(rule.owner.key, options)
        self.name_col = rule.name
        self.value = Columns({"value": rule.value}, options)
        self.where = where_of(rule.where)
        self.key_cols = key_cols
        self.reserved = reserved  # owner key and entity-mapped property names an attribute may not take
        ok = self.owner.names
        if self.as_node:
            self.set = Statement(f"{name}: upsert :{rule.label}",
                                 cypher.prop_node_upsert(self.owner_label, ok, rule.label, rule.rel_type), "merge")
            self.unset = Statement(f"{name}: delete :{rule.label}",
                                   cypher.prop_node_delete(self.owner_label, ok, rule.label, rule.rel_type), "same")
            self.node_label = rule.label
            self.rel_type = rule.rel_type
            self.truncate_stmt = Statement(f"{name}: truncate :{rule.label}",
                                           cypher.prop_node_delete(self.owner_label, ok, rule.label, rule.rel_type, by_prefix=True), "same")
        else:
            self.set = Statement(f"{name}: set properties of :{self.owner_label}", cypher.props_set(self.owner_label, ok), "merge")
            self.unset = Statement(f"{name}: unset properties of :{self.owner_label}", cypher.props_unset(self.owner_label, ok), "merge")
            mapped = sorted(reserved - set(ok))
            self.truncate_stmt = Statement(
                f"{name}: truncate attributes of :{self.owner_label}",
                cypher.props_truncate_read(self.owner_label, ok, mapped, [n + "." for n in mapped]),
                "same", then=self.unset,
            )

    def truncate(self, out: Buckets) -> None:
        row = {"table": self.table} if not self.as_node else {"prefix": self.name + ":"}
        out[REMOVE].append(GraphOp(self.truncate_stmt, row, BARRIER, "truncate"))

    @property
    def columns(self) -> set[str]:
        cols = set(self.owner.columns) | set(self.value.columns) | {self.name_col} | set(self.key_cols)
        return cols | set(getattr(self.where, "columns", ()))

    def view(self, row: Row | None) -> _PropView | None:
        if row is None or not self.where(row):
            return None
        owner = self.owner.key(row)
        attr = row.get(self.name_col)
        if owner is None or attr is None:
            return None
        attr = str(attr)
        value = self.value.props(row)
        if self.as_node:
            props = {"name": attr, **value}
            return _PropView(row_id(self.name, self.key_cols, row), owner, props)
        try:
            check_property_key(attr)
        except ValueError as e:
            raise ChangeError(f"rule {self.name!r}: attribute name from column {self.name_col!r}: {e}", kind="attribute") from None
        if attr in self.reserved:
            raise ChangeError(
                f"rule {self.name!r}: attribute {attr!r} would overwrite a key or mapped property of :{self.owner_label}", kind="attribute"
            )
        return _PropView(None, owner, {attr + k[5:]: v for k, v in value.items()})

    def translate(self, before: Row | None, after: Row | None, out: Buckets, errors: list[ChangeError]) -> None:
        new = after_view(self.view, after, errors)
        old, _ = lenient(self.view, before)
        if self.as_node:
            self._node_ops(before, old, new, out)
            return
        if old is not None and new is not None and old.owner == new.owner:
            p = {**nulls(old.props), **new.props}  # a renamed attribute loses its old name
            if p:
                self._emit(new.owner, p, out)
            return
        if old is not None and old.props:
            self._emit(old.owner, nulls(old.props), out)
        if new is not None and new.props:
            self._emit(new.owner, new.props, out)

    def _emit(self, owner: tuple[Any, ...], p: Props, out: Buckets) -> None:
        if any(v is not None for v in p.values()):
            ref = NodeTouch("m", self.owner_label, owner)  # MERGEs the owner: commutes with entity upserts
            out[UPSERT].append(GraphOp(self.set, {"k": list(owner), "p": p}, (ref,), ref))
        else:
            ref = NodeTouch("n", self.owner_label, owner)
            out[REMOVE].append(GraphOp(self.unset, {"k": list(owner), "p": p}, (ref,), ref))

    def _node_ops(self, before: Row | None, old: _PropView | None, new: _PropView | None,
                  out: Buckets) -> None:
        if old is not None and new is not None and (old.id, old.owner) == (new.id, new.owner):
            self._node_upsert(new, state(_NODE_PROPS, new.props, old.props), out)
            return
        if old is not None:
            assert old.id is not None  # a property node's view always has its row id
            refs = (RowTouch("p", old.id), NodeTouch("n", self.owner_label, old.owner))
            out[REMOVE].append(GraphOp(self.unset, {"id": old.id}, refs, refs[0]))
        elif before is not None:
            # the before image names no property node (not in the graph, or did not map): make sure
            # none of its row id is left
            rid = row_id(self.name, self.key_cols, before)
            touch = RowTouch("p", rid)
            out[REMOVE].append(GraphOp(self.unset, {"id": rid}, (touch,), touch))
        if new is not None:
            self._node_upsert(new, state(_NODE_PROPS, new.props), out)

    def _node_upsert(self, v: _PropView, p: Props, out: Buckets) -> None:
        assert v.id is not None  # a property node's view always has its row id
        refs = (RowTouch("p", v.id), NodeTouch("m", self.owner_label, v.owner))
        out[UPSERT].append(GraphOp(self.set, {"id": v.id, "k": list(v.owner), "p": p}, refs, refs[0]))
