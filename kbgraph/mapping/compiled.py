"""Compiled rules: one change in, graph operations out. Pure: no I/O.

Each rule turns a row image into a *view* (the element the row stands for: its identity and
properties, or ``None`` when the row is not in the graph: filtered out, NULL endpoint, ...). A
change is then a pair of views, old (before) and new (after), and the operations follow from
comparing them: nothing → something is a create, something → nothing a delete, same identity a
property diff, a different identity a re-key (entities) or a delete + create (relationships,
properties). Loading rows from scratch is the same code with old = nothing, which is what makes
the convergence test meaningful.

Operations of one change are ordered: relationship / property removals, re-keys, node deletes,
node upserts, relationship / property upserts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kbgraph.change import Change
from kbgraph.errors import ChangeError
from kbgraph.graph import cypher
from kbgraph.graph.ops import BARRIER, GraphOp, Statement
from kbgraph.mapping.convert import Flattened, compile_converter
from kbgraph.mapping.model import (
    INTERNAL_PREFIX,
    ColumnRef,
    EntityRule,
    FromColumn,
    Options,
    PropertyRule,
    RelationRule,
    check_property_key,
    column_name,
)
from kbgraph.mapping.where import compile_where

Row = dict[str, Any]
Props = dict[str, Any]
# Buckets of one change's operations, applied in this order.
REMOVE, REKEY, NODE_DELETE, NODE_UPSERT, UPSERT = range(5)


def _always(row: Row) -> bool:
    return True


class Columns:
    """Named columns read from a row and converted: ``{prop: converter(row[column])}``."""

    def __init__(self, refs: dict[str, ColumnRef], options: Options) -> None:
        self.items = [(prop, column_name(ref), compile_converter(ref, options)) for prop, ref in refs.items()]

    @property
    def names(self) -> list[str]:
        return [prop for prop, _, _ in self.items]

    @property
    def columns(self) -> list[str]:
        return [col for _, col, _ in self.items]

    def key(self, row: Row) -> tuple[Any, ...] | None:
        """The key values, or None when any is NULL (a NULL foreign key means no element)."""
        out = []
        for _, col, conv in self.items:
            v = row.get(col)
            if v is None:
                return None
            v = conv(v)
            if v is None:
                return None
            if isinstance(v, (dict, list)):
                raise ChangeError(f"column {col!r} holds a {type(v).__name__}, which cannot be a key")
            out.append(v)
        return tuple(out)

    def props(self, row: Row) -> Props:
        out: Props = {}
        for prop, col, conv in self.items:
            v = row.get(col)
            if v is None:
                continue
            v = conv(v)
            if v is None:
                continue
            if isinstance(v, Flattened):
                for sub, leaf in v.items():
                    out[f"{prop}.{sub}"] = leaf
            else:
                out[prop] = v
        return out


def diff(old: Props, new: Props) -> Props:
    """What ``SET n += diff`` needs to turn ``old`` into ``new`` (None removes)."""
    out = {k: v for k, v in new.items() if k not in old or old[k] != v or type(old[k]) is not type(v)}
    for k in old:
        if k not in new:
            out[k] = None
    return out


def _nulls(props: Props) -> Props:
    return dict.fromkeys(props)


def _row_id(rule: str, cols: Sequence[str], row: Row) -> str:
    return rule + ":" + orjson.dumps([row.get(c) for c in cols], default=str).decode()


class _Chooser:
    """A label or type from a column value, through an allow-list."""

    def __init__(self, spec: FromColumn, what: str, rule: str) -> None:
        self.column = spec.column
        self.allow = list(spec.allow)
        self.what = what
        self.rule = rule

    def __call__(self, row: Row) -> str | None:
        v = row.get(self.column)
        if v is None:
            return None
        if v not in self.allow:
            v2 = str(v)
            if v2 not in self.allow:
                raise ChangeError(
                    f"rule {self.rule!r}: value {v2[:80]!r} of column {self.column!r} is not an allowed "
                    f"{self.what} ({', '.join(self.allow)})"
                )
            return v2
        return v


def _where(text: str | None) -> Callable[[Row], bool]:
    return compile_where(text) if text else _always


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
        self.where = _where(rule.where)
        self.chooser = _Chooser(rule.label_from, "label", name) if rule.label_from else None
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
            out[NODE_DELETE].append(GraphOp(self.delete, {"k": list(old.key), "p": _nulls(old.props)}, (ref,), ref))
            return
        ref = ("n", self.label, new.key)
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
        self.where = _where(rule.where)
        self.chooser = _Chooser(rule.type_from, "relationship type", name) if rule.type_from else None
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
            Statement(f"{name}: truncate [:{t}]", cypher.edge_truncate(t, self.f_label, f_key, self.t_label, t_key), "same")
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
        return _EdgeView(_row_id(self.name, self.key_cols, row), rtype, f, t, self.props.props(row))

    def translate(self, before: Row | None, after: Row | None, out: list[list[GraphOp]]) -> None:
        self.ops(self.view(before), self.view(after), out)

    def _refs(self, v: _EdgeView) -> tuple:
        return (("e", v.id), ("n", self.f_label, v.f), ("n", self.t_label, v.t))

    def ops(self, old: _EdgeView | None, new: _EdgeView | None, out: list[list[GraphOp]]) -> None:
        if old is not None and new is not None and (old.id, old.type, old.f, old.t) == (new.id, new.type, new.f, new.t):
            p = diff(old.props, new.props)
            if p:
                row = {"id": new.id, "f": list(new.f), "t": list(new.t), "p": p}
                out[UPSERT].append(GraphOp(self.upserts[new.type], row, self._refs(new), ("e", new.id)))
            return
        if old is not None:
            refs = self._refs(old)
            out[REMOVE].append(GraphOp(self.deletes[old.type], {"id": old.id}, refs, refs[0]))
        if new is not None:
            row = {"id": new.id, "f": list(new.f), "t": list(new.t), "p": new.props}
            refs = self._refs(new)
            out[UPSERT].append(GraphOp(self.upserts[new.type], row, refs, refs[0]))


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
        self.where = _where(rule.where)
        self.key_cols = key_cols
        self.reserved = reserved  # owner key and entity-mapped property names an attribute may not take
        ok = self.owner.names
        if self.as_node:
            self.set = Statement(f"{name}: upsert :{rule.label}",
                                 cypher.prop_node_upsert(self.owner_label, ok, rule.label, rule.rel_type), "merge")
            self.unset = Statement(f"{name}: delete :{rule.label}",
                                   cypher.prop_node_delete(self.owner_label, ok, rule.label, rule.rel_type), "same")
            self.node_label = rule.label
            self.truncate_stmt = Statement(f"{name}: truncate :{rule.label}",
                                           cypher.prop_node_truncate(self.owner_label, ok, rule.label, rule.rel_type), "same")
        else:
            self.set = Statement(f"{name}: set properties of :{self.owner_label}", cypher.props_set(self.owner_label, ok), "merge")
            self.unset = Statement(f"{name}: unset properties of :{self.owner_label}", cypher.props_unset(self.owner_label, ok), "merge")
            mapped = sorted(reserved - set(ok))
            self.truncate_stmt = Statement(
                f"{name}: truncate attributes of :{self.owner_label}",
                cypher.props_truncate_read(self.owner_label, ok, mapped, [n + "." for n in mapped]),
                "same", then=self.unset,
            )

    def truncate(self, out: list[list[GraphOp]]) -> None:
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
            return _PropView(_row_id(self.name, self.key_cols, row), owner, props)
        try:
            check_property_key(attr)
        except ValueError as e:
            raise ChangeError(f"rule {self.name!r}: attribute name from column {self.name_col!r}: {e}") from None
        if attr in self.reserved:
            raise ChangeError(
                f"rule {self.name!r}: attribute {attr!r} would overwrite a key or mapped property of :{self.owner_label}"
            )
        return _PropView(None, owner, {attr + k[5:]: v for k, v in value.items()})

    def translate(self, before: Row | None, after: Row | None, out: list[list[GraphOp]]) -> None:
        self.ops(self.view(before), self.view(after), out)

    def ops(self, old: _PropView | None, new: _PropView | None, out: list[list[GraphOp]]) -> None:
        if self.as_node:
            self._node_ops(old, new, out)
            return
        if old is not None and new is not None and old.owner == new.owner:
            p = diff(old.props, new.props)
            if p:
                self._emit(new.owner, p, out)
            return
        if old is not None and old.props:
            self._emit(old.owner, _nulls(old.props), out)
        if new is not None and new.props:
            self._emit(new.owner, new.props, out)

    def _emit(self, owner: tuple, p: Props, out: list[list[GraphOp]]) -> None:
        ref = ("n", self.owner_label, owner)
        if any(v is not None for v in p.values()):
            out[UPSERT].append(GraphOp(self.set, {"k": list(owner), "p": p}, (ref,), ref))
        else:
            out[REMOVE].append(GraphOp(self.unset, {"k": list(owner), "p": p}, (ref,), ref))

    def _node_ops(self, old: _PropView | None, new: _PropView | None, out: list[list[GraphOp]]) -> None:
        if old is not None and new is not None and (old.id, old.owner) == (new.id, new.owner):
            p = diff(old.props, new.props)
            if p:
                self._node_upsert(new, p, out)
            return
        if old is not None:
            refs = (("p", old.id), ("n", self.owner_label, old.owner))
            out[REMOVE].append(GraphOp(self.unset, {"id": old.id}, refs, refs[0]))
        if new is not None:
            self._node_upsert(new, new.props, out)

    def _node_upsert(self, v: _PropView, p: Props, out: list[list[GraphOp]]) -> None:
        refs = (("p", v.id), ("n", self.owner_label, v.owner))
        out[UPSERT].append(GraphOp(self.set, {"id": v.id, "k": list(v.owner), "p": p}, refs, refs[0]))


Rule = EntityCompiled | RelationCompiled | PropertyCompiled


def translate_rules(rules: Sequence[Rule], change: Change) -> list[GraphOp]:
    """The graph operations of one change over the rules of its table, in application order."""
    out: list[list[GraphOp]] = [[], [], [], [], []]
    if change.op == "truncate":
        for rule in rules:
            rule.truncate(out)
        return [op for bucket in out for op in bucket]
    before = change.before if change.op != "insert" else None
    after = change.after if change.op != "delete" else None
    for rule in rules:
        try:
            rule.translate(before, after, out)
        except ChangeError as e:
            raise ChangeError(f"{change.describe()}: {e}") from None
    return [op for bucket in out for op in bucket]


def internal(name: str) -> bool:
    return name.startswith(INTERNAL_PREFIX)
