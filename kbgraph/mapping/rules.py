"""``CompiledMapping``: every compiled rule of a set of mapping files, found by source table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kbgraph.change import Change
from kbgraph.errors import ChangeError, MappingError
from kbgraph.graph import cypher
from kbgraph.graph.constraints import Constraint
from kbgraph.graph.cypher import CHECKPOINT_LABEL, ROW_ID
from kbgraph.graph.ops import GraphOp, Statement
from kbgraph.mapping.attributes import PropertyCompiled
from kbgraph.mapping.columns import Columns, buckets, cascade_id
from kbgraph.mapping.compiled import Cascade, EntityCompiled, RelationCompiled
from kbgraph.mapping.model import column_name

if TYPE_CHECKING:
    from kbgraph.mapping.loader import LoadedFile

TableId = tuple[str | None, str]


# "rule" in a mapping file is its model (``EntityRule``, ... in ``model.py``); compiled, it is one of these
CompiledRule = EntityCompiled | RelationCompiled | PropertyCompiled


def translate_rules(rules: Sequence[CompiledRule], change: Change) -> list[GraphOp]:
    """The graph operations of one change over the rules of its table, in application order.

    Raises ChangeError when the after image does not map; its ``ops`` then treat the row as not in
    the graph (so a key change still moves the node and the old state goes).
    """
    out = buckets()
    if change.op == "truncate":
        for rule in rules:
            rule.truncate(out)
        return [op for bucket in out for op in bucket]
    before = change.before if change.op != "insert" else None
    after = change.after if change.op != "delete" else None
    errors: list[ChangeError] = []
    for rule in rules:
        rule.translate(before, after, out, errors)
    ops = [op for bucket in out for op in bucket]
    if errors:
        e = ChangeError.joined(change.describe(), errors)
        e.ops = ops
        raise e
    return ops


def bind_rekey(entity: EntityCompiled, rules: Sequence[CompiledRule]) -> None:
    """What a re-key of ``entity``'s nodes must also do, from every rule that can touch them.

    1. A stub that holds the new key is merged in: its relationships move, one statement per
       relationship type the rules can attach to the label (outgoing before incoming, per type, so
       self-loops come out right), then the node takes the key and the stub goes.
    2. Cascades: rows of other tables whose own key holds the referencing columns (a join table
       keyed by its foreign keys, an attribute row keyed by its owner) change their key with
       ``ON UPDATE CASCADE``; their relationships' and property nodes' row ids follow.
    """
    label, name = entity.label, entity.name
    out_types: dict[str, None] = {}
    in_types: dict[str, None] = {}
    cascades: list[Cascade] = []
    entity_col = dict(zip(entity.keys.names, entity.keys.columns))

    def cascade(rule_name: str, key_cols: list[str], side: Columns, stmts: list[tuple[str, Statement]], var: str) -> None:
        col_prop = dict(zip(side.columns, side.names))
        pos = [i for i, c in enumerate(key_cols) if col_prop.get(c) in entity_col]
        if not pos:
            return
        cols = [entity_col[col_prop[key_cols[i]]] for i in pos]
        for pattern, then in stmts:
            read = Statement(f"{name}: re-key cascade to {rule_name} ({then.name})",
                             cypher.rekey_cascade_read(label, entity.key_props, pattern, var), "none",
                             then=then, transform=cascade_id)
            cascades.append(Cascade(read, rule_name + ":", pos, cols))

    for r in rules:
        if isinstance(r, RelationCompiled):
            if r.f_label == label:
                out_types.update(dict.fromkeys(r.types))
            if r.t_label == label:
                in_types.update(dict.fromkeys(r.types))
            if r.table == entity.table:
                continue  # the entity row's own change re-identifies these
            for side, side_label, arrow in ((r.f, r.f_label, "-[r:{}]->()"), (r.t, r.t_label, "<-[r:{}]-()")):
                if side_label != label:
                    continue
                stmts = [(arrow.format(cypher.esc(t)), Statement(f"{r.name}: new row id [:{t}]", cypher.edge_set_id(t), "none"))
                         for t in r.types]
                cascade(r.name, r.key_cols, side, stmts, "r")
        elif isinstance(r, PropertyCompiled) and r.as_node and r.owner_label == label:
            out_types[r.rel_type] = None
            if r.table != entity.table:
                pattern = f"-[:{cypher.esc(r.rel_type)}]->(p:{cypher.esc(r.node_label)})"
                then = Statement(f"{r.name}: new row id :{r.node_label}", cypher.node_set_id(r.node_label), "none")
                cascade(r.name, r.key_cols, r.owner, [(pattern, then)], "p")
    steps: list[Statement] = []
    for t in [*out_types, *(t for t in in_types if t not in out_types)]:
        for outgoing, present in ((True, t in out_types), (False, t in in_types)):
            if present:
                steps.append(Statement(f"{name}: re-key :{label} onto a stub, move {'out' if outgoing else 'in'} [:{t}]",
                                       cypher.rekey_move(label, entity.key_props, t, outgoing), "none"))
    entity.rekey_steps = [*steps, entity.rekey]
    entity.cascades = cascades


class CompiledMapping:
    def __init__(self, files: Iterable[LoadedFile]) -> None:
        self.files = list(files)
        self._rules: dict[TableId, list[CompiledRule]] = {}
        entity_by_label: dict[str, EntityCompiled] = {}
        entity_by_table: dict[TableId, EntityCompiled] = {}
        for f in self.files:
            m, schema = f.model, f.model.source.schema_
            for rule in m.entities:
                c = EntityCompiled(rule, m.options, rule.name or rule.table)
                entity_by_label[c.label] = c
                entity_by_table.setdefault((schema, rule.table), c)
                self._add(schema, c)
        for f in self.files:
            m, schema = f.model, f.model.source.schema_
            for rel in m.relations:
                own = entity_by_table.get((schema, rel.table))
                if rel.key:
                    key_cols = list(rel.key)
                elif own is not None:
                    key_cols = own.keys.columns
                else:
                    key_cols = [column_name(r) for r in rel.from_.key.values()]
                    key_cols += [column_name(r) for r in rel.to.key.values() if column_name(r) not in key_cols]
                    if rel.type_from:
                        key_cols.append(rel.type_from.column)
                self._add(schema, RelationCompiled(rel, m.options, rel.name or rel.table, key_cols))
            for prop in m.properties:
                key_cols = list(prop.key) if prop.key else [column_name(r) for r in prop.owner.key.values()] + [prop.name]
                owner = entity_by_label.get(prop.owner.label)
                reserved = set(prop.owner.key) | (set(owner.key_props) | set(owner.props.names) if owner else set())
                self._add(schema, PropertyCompiled(prop, m.options, prop.name_ or prop.table, key_cols, reserved))
        self._lookup: dict[TableId, list[CompiledRule]] = {}
        for e in self.rules():
            if isinstance(e, EntityCompiled):
                bind_rekey(e, self.rules())

    def _add(self, schema: str | None, rule: CompiledRule) -> None:
        self._rules.setdefault((schema, rule.table), []).append(rule)

    # -- what the sources need -------------------------------------------------------------
    def tables(self) -> set[TableId]:
        return set(self._rules)

    def rules(self) -> list[CompiledRule]:
        return [r for rules in self._rules.values() for r in rules]

    def rules_for(self, schema: str | None, table: str) -> list[CompiledRule]:
        tid = (schema, table)
        found = self._lookup.get(tid)
        if found is None:
            if schema is None:
                matches = [k for k in self._rules if k[1] == table]
                if len({k[0] for k in matches}) > 1:
                    raise ChangeError(f"table {table!r} is mapped in several schemas; the change must name its schema", kind="schema")
                found = [r for k in matches for r in self._rules[k]]
            else:
                found = self._rules.get(tid, []) + (self._rules.get((None, table), []))
            self._lookup[tid] = found
        return found

    def columns(self, schema: str | None, table: str) -> set[str]:
        return set().union(*(r.columns for r in self.rules_for(schema, table)))


    # -- translation ---------------------------------------------------------------------------
    def translate(self, change: Change) -> list[GraphOp]:
        """Graph operations for one change; [] for a table no rule maps. Raises ChangeError."""
        if change.op == "position":
            return []
        rules = self.rules_for(change.schema, change.table)
        if not rules:
            return []
        return translate_rules(rules, change)

    # -- schema --------------------------------------------------------------------------------
    def constraints(self) -> list[Constraint]:
        seen: dict[tuple[Any, ...], Constraint] = {}

        def add(c: Constraint) -> None:
            seen.setdefault((c.kind, c.label), c)

        for r in self.rules():
            if isinstance(r, EntityCompiled):
                add(Constraint("node-unique", r.label, tuple(r.key_props)))
        for r in self.rules():
            if isinstance(r, RelationCompiled):
                add(Constraint("node-unique", r.f_label, tuple(r.f.names)))
                add(Constraint("node-unique", r.t_label, tuple(r.t.names)))
                for t in r.types:
                    add(Constraint("rel-index", t, (ROW_ID,)))
            elif isinstance(r, PropertyCompiled):
                add(Constraint("node-unique", r.owner_label, tuple(r.owner.names)))
                if r.as_node:
                    add(Constraint("node-unique", r.node_label, (ROW_ID,)))
        add(Constraint("node-unique", CHECKPOINT_LABEL, ("pipeline",)))
        labels: dict[str, tuple[str, ...]] = {}
        for c in seen.values():
            if c.kind == "node-unique":
                if c.label in labels and labels[c.label] != c.props:
                    raise MappingError(f"label :{c.label} is keyed by {labels[c.label]} in one rule and {c.props} in another")
                labels[c.label] = c.props
        return list(seen.values())

    def graph_names(self) -> tuple[set[str], set[str]]:
        """Every label and relationship type the mappings can write."""
        labels: set[str] = set()
        types: set[str] = set()
        for r in self.rules():
            if isinstance(r, EntityCompiled):
                labels.update([r.label, *r.fixed, *(r.chooser.allow if r.chooser else [])])
            elif isinstance(r, RelationCompiled):
                labels.update([r.f_label, r.t_label])
                types.update(r.types)
            else:
                labels.add(r.owner_label)
                if r.as_node:
                    labels.add(r.node_label)
                    types.add(r.rel_type)
        return labels, types

    def statements(self) -> list[Statement]:
        out: list[Statement] = []
        for r in self.rules():
            if isinstance(r, EntityCompiled):
                out += [*r.upserts.values(), r.delete, r.prune, *r.rekey_steps, *(c.stmt for c in r.cascades)]
            elif isinstance(r, RelationCompiled):
                out += [*r.upserts.values(), *r.deletes.values()]
            else:
                out += [r.set, r.unset]
        return out
