"""The adversarial oracle: random schemas, random mappings of them, random workloads on a small
in-memory database that behaves like MySQL with ``ON UPDATE CASCADE`` foreign keys.

A *case* is a schema seed plus a list of abstract steps. Each step is ``(kind, a, b, c)`` with
small integers that are resolved against the database's current rows (``a % len(rows)`` …), so
every sub-list of steps is again a valid workload: that is what lets a failure shrink to a
minimal case (``shrink``) by dropping steps.

The database emits a ``Change`` per row change as the binlog would: full before and after
images, and nothing for rows that a cascade changed. Where the mapping rejects a value (a label or
type outside its allow-list), the change is an *intended rejection*; the workload ends by
correcting every such row, so the final rows all map.

A case is run against the graph server by ``tests/support/oracle_run.py``.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbgraph.change import Change

Step = tuple[str, int, int, int]
KINDS = ("insert", "insert", "update", "update", "rekey", "rekey_onto_ref", "delete", "ref_insert",
         "ref_insert", "ref_update", "ref_update", "ref_delete", "flip", "bad_value")
NAMES = ["马云", "Ada", "東京", "Zürich", "x", "y"]


@dataclass
class Table:
    name: str
    pk: list[str]
    # foreign keys: (columns here, entity table, its key columns); ON UPDATE CASCADE
    fks: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    rows: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    entity: bool = False
    choose: tuple[str, list[str]] | None = None  # (column, allowed values) of a label_from / type_from
    soft_delete: bool = False
    json: bool = False
    serial: int = 0


class Schema:
    """A random schema of entity tables and tables that refer to them, and a mapping of it."""

    def __init__(self, seed: int) -> None:
        r = random.Random(seed)
        self.r = r
        self.tables: dict[str, Table] = {}
        self.labels: dict[str, str] = {}
        self.mapping: dict[str, Any] = {"source": {"schema": "o"}, "entities": [], "relations": [], "properties": []}
        n_entities = r.choice([1, 2, 2, 3])
        for i in range(n_entities):
            self._entity(i)
        ents = list(self.tables)
        for i in range(r.randint(1, 3)):
            self._relation(i, r.choice(ents), r.choice(ents))
        if r.random() < 0.8:
            self._join(r.choice(ents), r.choice(ents))
        for i in range(r.randint(1, 2)):
            self._attributes(i, r.choice(ents), as_node=r.random() < 0.5)

    # -- schema + mapping --------------------------------------------------------------------
    def _entity(self, i: int) -> None:
        r = self.r
        name = f"e{i}"
        pk = ["id"] if r.random() < 0.6 else ["id", "part"]
        t = Table(name, pk, entity=True, soft_delete=r.random() < 0.5, json=r.random() < 0.5)
        self.labels[name] = f"E{i}" if len(pk) == 1 else f"E{i}x2"  # one key shape per label, across cases
        rule: dict[str, Any] = {"table": name, "label": self.labels[name], "key": list(pk),
                                "properties": {"name": "name", "amount": {"column": "amount", "type": "decimal"}}}
        if t.json:
            rule["properties"]["meta"] = {"column": "meta", "type": "json"}
        if r.random() < 0.6:
            t.choose = ("kind", ["Person", "Place", "诗人"])
            rule["label_from"] = {"column": "kind", "allow": ["Person", "Place"]}
        if t.soft_delete:
            rule["where"] = "deleted = 0"
        if r.random() < 0.5 and self.tables:  # a nullable FK of the entity table: a relationship of its own
            target = r.choice(list(self.tables.values()))
            cols = [f"p_{c}" for c in target.pk]
            t.fks.append((cols, target.name, target.pk))
            self.mapping["relations"].append({
                "name": f"{name}_parent", "table": name, "type": "PART_OF",
                "from": {"label": self.labels[name], "key": {c: c for c in pk}},
                "to": {"label": self._label(target.name), "key": dict(zip(target.pk, cols))}})
        self.tables[name] = t
        self.mapping["entities"].append(rule)

    def _label(self, table: str) -> str:
        return self.labels[table]

    def _fk(self, t: Table, prefix: str, target: str) -> tuple[list[str], dict[str, str]]:
        e = self.tables[target]
        cols = [f"{prefix}_{c}" for c in e.pk]
        t.fks.append((cols, target, e.pk))
        return cols, dict(zip(e.pk, cols))

    def _relation(self, i: int, a: str, b: str) -> None:
        r = self.r
        t = Table(f"r{i}", ["rid"])
        _, fk_a = self._fk(t, "src", a)
        _, fk_b = self._fk(t, "dst", b)
        rule: dict[str, Any] = {"table": t.name, "key": ["rid"], "from": {"label": self._label(a), "key": fk_a},
                                "to": {"label": self._label(b), "key": fk_b}, "properties": {"weight": "weight"}}
        if r.random() < 0.6:
            t.choose = ("pred", ["KNOWS", "LIKES", "HATES"])
            rule["type_from"] = {"column": "pred", "allow": ["KNOWS", "LIKES"]}
        else:
            rule["type"] = f"REL{i}"
        if r.random() < 0.4:
            rule["where"] = "weight IS NULL OR weight >= 0"
        self.tables[t.name] = t
        self.mapping["relations"].append(rule)

    def _join(self, a: str, b: str) -> None:
        t = Table("j", [])
        cols_a, fk_a = self._fk(t, "a", a)
        cols_b, fk_b = self._fk(t, "b", b)
        t.pk = cols_a + cols_b  # keyed by its foreign keys: a cascade changes its primary key
        self.tables["j"] = t
        self.mapping["relations"].append({"table": "j", "type": "JOINED", "from": {"label": self._label(a), "key": fk_a},
                                          "to": {"label": self._label(b), "key": fk_b}, "properties": {"role": "role"}})

    def _attributes(self, i: int, owner: str, as_node: bool) -> None:
        t = Table(f"a{i}", [])
        cols, fk = self._fk(t, "o", owner)
        t.pk = [*cols, "k"]  # keyed by owner and name
        rule: dict[str, Any] = {"table": t.name, "owner": {"label": self._label(owner), "key": fk},
                                "name": "k", "value": "v", "key": list(t.pk)}
        if as_node:
            rule.update({"as": "property_node", "label": f"P{i}", "rel_type": f"HAS_P{i}"})
        self.tables[t.name] = t
        self.mapping["properties"].append(rule)

    def write_mapping(self, path: Path) -> Path:
        path.write_text(json.dumps(self.mapping, ensure_ascii=False, indent=1))  # JSON is YAML
        return path


class Database:
    """Rows of a ``Schema``, changed by steps; every row change becomes a ``Change``."""

    def __init__(self, schema: Schema, seed: int, label_switch: bool = True) -> None:
        self.label_switch = label_switch  # the ArcadeDB stand-in cannot switch a node's label
        self.s = schema
        self.t = schema.tables
        self.r = random.Random(seed)
        self.changes: list[Change] = []
        self.tx = 0
        self.stats: Counter[str] = Counter()  # what the workload reached: re-keys onto stubs, cascades, ...

    # -- values ----------------------------------------------------------------------------------
    def _key_value(self, table: Table, n: int) -> dict[str, Any]:
        vals = {"id": n % 7 + 1}
        if "part" in table.pk:
            vals["part"] = ["a", "b"][n // 7 % 2]
        return vals

    def _ref(self, target: str, n: int) -> dict[str, Any] | None:
        """A key of ``target``: an existing row's, or one no row has (a stub), or NULL."""
        e = self.t[target]
        rows = list(e.rows)
        if n % 5 == 0:
            return None
        if n % 5 in (1, 2) and rows:
            return dict(zip(e.pk, rows[n % len(rows)]))
        return self._key_value(e, n)

    def _entity_values(self, t: Table, n: int) -> dict[str, Any]:
        r = self.r
        row: dict[str, Any] = {"name": r.choice(NAMES) if n % 6 else None,
                               "amount": r.choice([None, "12.50", "-12345678901234567890.0123456789", "0.10"])}
        if t.choose:
            row["kind"] = r.choice(t.choose[1][:-1])  # an allowed value; bad_value steps bring others
        if t.soft_delete:
            row["deleted"] = int(r.random() < 0.2)
        if t.json:
            row["meta"] = r.choice([None, {"a": n % 3}, {"a": 1, "b": {"c": "深"}}, {"tags": ["x"]}, '"just text"'])
        return row

    def _ref_values(self, t: Table, n: int) -> dict[str, Any]:
        r = self.r
        row: dict[str, Any] = {}
        for cols, target, pk in t.fks:
            ref = self._ref(target, n + len(cols) + r.randint(0, 9))
            row.update({c: (ref[k] if ref else None) for c, k in zip(cols, pk)})
        if t.name.startswith("r"):
            row["weight"] = r.choice([None, 1.5, -1.0, 2.0])
            if t.choose:
                row["pred"] = r.choice(t.choose[1][:-1])
        elif t.name == "j":
            row["role"] = r.choice(["author", "editor", None])
        else:
            row["k"] = r.choice(["颜色", "size", "rank"]) + t.name  # one attribute table per attribute name
            row["v"] = r.choice(["红", "big", 3, None])
        return row

    # -- emitting ----------------------------------------------------------------------------------
    def _emit(self, t: Table, op: str, before: dict | None, after: dict | None) -> None:
        self.changes.append(Change(t.name, op, copy.deepcopy(before), copy.deepcopy(after), schema="o",
                                   tx=f"t{self.tx}", tx_end=False))

    def _pk(self, t: Table, row: dict[str, Any]) -> tuple:
        return tuple(row.get(c) for c in t.pk)

    def _put(self, t: Table, row: dict[str, Any]) -> bool:
        pk = self._pk(t, row)
        if any(v is None for v in pk) or pk in t.rows:
            return False
        t.rows[pk] = row
        self._emit(t, "insert", None, row)
        return True

    def _update(self, t: Table, pk: tuple, values: dict[str, Any]) -> bool:
        before = t.rows[pk]
        if t.entity and t.choose and not self.label_switch and values.get("kind") in t.choose[1][:-1]:
            values = {**values, "kind": before.get("was", before["kind"])}
        after = {**before, **values}
        new_pk = self._pk(t, after)
        if after == before or any(v is None for v in new_pk) or (new_pk != pk and new_pk in t.rows):
            return False
        if new_pk != pk and t.entity:
            onto_stub = self._is_referenced(t, new_pk)
            if not self._cascade(t, before, after):
                return False
            self.stats["re-key"] += 1
            self.stats["re-key onto a stub"] += onto_stub
        del t.rows[pk]
        t.rows[new_pk] = after
        self._emit(t, "update", before, after)
        return True

    def _cascade(self, e: Table, before: dict, after: dict) -> bool:
        """ON UPDATE CASCADE: rows referencing the old key take the new one (not in the binlog).
        Refused, like the database, when a cascaded primary key would collide or the cascade would
        change the same table (MySQL does not cascade into the table it is updating)."""
        moved: dict[str, dict[tuple, dict]] = {}
        for t in self.t.values():
            rows: dict[tuple, dict] = {}
            changed = False
            for rpk, row in t.rows.items():
                new = dict(row)
                for cols, target, pk in t.fks:
                    if target == e.name and [row.get(c) for c in cols] == [before[k] for k in pk]:
                        new.update({c: after[k] for c, k in zip(cols, pk)})
                if new != row:
                    if t is e:
                        return False
                    changed = True
                    self.stats["cascaded row"] += 1
                    if self._pk(t, new) != rpk:
                        self.stats["cascaded primary key"] += 1
                npk = self._pk(t, new)
                if npk in rows:
                    return False
                rows[npk] = new
            if changed:
                moved[t.name] = rows
        for name, rows in moved.items():
            self.t[name].rows = rows
        return True

    # -- steps -----------------------------------------------------------------------------------
    def apply(self, step: Step) -> None:
        kind, a, b, c = step
        ents = [t for t in self.t.values() if t.entity]
        refs = [t for t in self.t.values() if not t.entity]
        e = ents[a % len(ents)]
        rows = list(e.rows)
        self.tx += 1
        if kind == "insert":
            self._put(e, {**self._key_value(e, b), **self._entity_values(e, c), **self._fk_values(e, c)})
        elif kind == "update" and rows:
            self._update(e, rows[b % len(rows)], {**self._entity_values(e, c), **self._fk_values(e, c)})
        elif kind in ("rekey", "rekey_onto_ref") and rows:
            pk = rows[b % len(rows)]
            target = self._referenced_key(e, c) if kind == "rekey_onto_ref" else self._key_value(e, c + 3)
            if target:
                self._update(e, pk, target)
        elif kind == "delete" and rows:
            pk = rows[b % len(rows)]
            self._emit(e, "delete", e.rows.pop(pk), None)
        elif kind == "flip" and rows and e.soft_delete:
            pk = rows[b % len(rows)]
            self._update(e, pk, {"deleted": 1 - e.rows[pk]["deleted"]})
        elif kind == "bad_value":
            self._bad_value(a, b, c)
        elif kind.startswith("ref_") and refs:
            t = refs[a % len(refs)]
            trows = list(t.rows)
            if kind == "ref_insert":
                row = self._ref_values(t, c)
                if not t.pk or t.pk == ["rid"]:
                    t.serial += 1
                    row["rid"] = t.serial
                self._put(t, row)
            elif kind == "ref_update" and trows:
                self._update(t, trows[b % len(trows)], self._ref_values(t, c))
            elif kind == "ref_delete" and trows:
                self._emit(t, "delete", t.rows.pop(trows[b % len(trows)]), None)

    def _fk_values(self, e: Table, n: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for cols, target, pk in e.fks:
            ref = self._ref(target, n + 2)
            row.update({col: (ref[k] if ref else None) for col, k in zip(cols, pk)})
        return row

    def _is_referenced(self, e: Table, key: tuple) -> bool:
        return any(tuple(row.get(c) for c in cols) == key
                   for t in self.t.values() for cols, target, _ in t.fks if target == e.name for row in t.rows.values())

    def _referenced_key(self, e: Table, n: int) -> dict[str, Any] | None:
        """A key that other rows reference but no row of ``e`` has: the graph holds it as a stub."""
        found = []
        for t in self.t.values():
            for cols, target, pk in t.fks:
                if target == e.name:
                    for row in t.rows.values():
                        key = tuple(row.get(col) for col in cols)
                        if None not in key and key not in e.rows:
                            found.append(dict(zip(pk, key)))
        return found[n % len(found)] if found else None

    def _bad_value(self, a: int, b: int, c: int) -> None:
        """A value the mapping rejects (label / type outside the allow-list): an intended rejection."""
        chosen = [t for t in self.t.values() if t.choose and t.rows]
        if not chosen:
            return
        t = chosen[a % len(chosen)]
        rows = list(t.rows)
        pk = rows[b % len(rows)]
        if t.choose[0] in t.rows[pk] and t.rows[pk][t.choose[0]] != t.choose[1][-1]:
            self._update(t, pk, {t.choose[0]: t.choose[1][-1], "was": t.rows[pk][t.choose[0]]})

    def finish(self) -> None:
        """Correct every row that holds a rejected value (as a user fixing the data would)."""
        self.tx += 1
        for t in self.t.values():
            if t.choose:
                for pk, row in list(t.rows.items()):
                    if row.get(t.choose[0]) == t.choose[1][-1]:
                        self._update(t, pk, {t.choose[0]: row["was"]})
        for ch in self.changes:  # transactions: consecutive changes of one step
            ch.tx_end = False
        for i, ch in enumerate(self.changes):
            ch.tx_end = i + 1 == len(self.changes) or self.changes[i + 1].tx != ch.tx

    def final_rows(self) -> list[Change]:
        return [Change(t.name, "insert", None, copy.deepcopy(row), schema="o")
                for t in self.t.values() for row in t.rows.values()]


def random_steps(seed: int, n: int) -> list[Step]:
    r = random.Random(seed)
    return [(r.choice(KINDS), r.randrange(64), r.randrange(64), r.randrange(64)) for _ in range(n)]


def build(schema_seed: int, steps: list[Step], label_switch: bool = True) -> Database:
    db = Database(Schema(schema_seed), schema_seed, label_switch)
    for step in steps:
        db.apply(step)
    db.finish()
    return db


def shrink(steps: list[Step], fails: Any) -> list[Step]:
    """A smaller list of steps that still ``fails(steps)`` (greedy: drop chunks, then single steps)."""
    chunk = max(1, len(steps) // 2)
    while chunk >= 1:
        i = 0
        while i < len(steps):
            trial = steps[:i] + steps[i + chunk:]
            if trial and fails(trial):
                steps = trial
            else:
                i += chunk
        chunk //= 2
    return steps
