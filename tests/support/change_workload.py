"""A random change workload over the knowledge-base tables of ``tests/kb_mapping.yaml``.

It keeps the rows as a database would and emits each row change as a ``Change`` with full before
and after images, grouped into transactions. It covers key changes (whose references follow, as
with ON UPDATE CASCADE, which the binlog does not log — sometimes also re-emitted explicitly, as an
application-level cascade would), FK changes, filter flips, relations arriving before their
entities, deletes that leave referenced nodes behind as stubs, and EAV set / unset / rename / move.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from kbgraph.change import Change

NAMES = ["马云", "阿里巴巴", "杭州", "腾讯", "深圳", "Ada Lovelace", "Alan Turing", "北京大学", "Zürich", "東京"]
TYPES = ["Person", "Organization", "Place"]
PREDICATES = ["WORKS_AT", "LOCATED_IN"]
ATTR_KEYS = ["颜色", "size", "colour", "别名", "rank"]
FRESH_KEY_BASE = 1_000_000  # re-keyed entities take keys no row references yet


class Workload:
    def __init__(self, seed: int, *, label_switch: bool = True) -> None:
        self.r = random.Random(seed)
        self.label_switch = label_switch
        self.tables: dict[str, dict[int, dict[str, Any]]] = {"entity": {}, "relation": {}, "attribute": {}, "alias": {}}
        self.next_id = {"entity": 1, "relation": 1, "attribute": 1, "alias": 1}
        self.fresh_key = FRESH_KEY_BASE
        self.changes: list[Change] = []
        self._tx = 0

    # -- values ----------------------------------------------------------------------------------
    def _entity_ref(self) -> int | None:
        r = self.r.random()
        ids = list(self.tables["entity"])
        if r < 0.1:
            return None
        if r < 0.3 or not ids:  # a key that has no row yet (or was deleted / never existed)
            return self.r.randint(1, self.next_id["entity"] + 5)
        return self.r.choice(ids)

    def _entity_values(self) -> dict[str, Any]:
        r = self.r
        return {
            "type": r.choice(TYPES) if r.random() < 0.95 else None,
            "name": r.choice(NAMES) + str(r.randint(0, 9)),
            "born_on": f"19{r.randint(10, 99)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}" if r.random() < 0.7 else None,
            "meta": r.choice([None, {"a": r.randint(0, 3)}, {"a": 1, "b": {"c": r.choice(NAMES)}}, {"tags": ["x", "y"]}]),
            "score": r.choice([None, "12.50", "0.10", str(r.randint(0, 999)) + ".00"]),
            "deleted": 1 if r.random() < 0.15 else 0,
            "parent_id": self._entity_ref(),
        }

    # -- emitting ------------------------------------------------------------------------------
    def _emit(self, table: str, op: str, before: dict | None, after: dict | None) -> None:
        self.changes.append(Change(table, op, copy.deepcopy(before), copy.deepcopy(after), schema="kb",
                                   tx=f"t{self._tx}", tx_end=False))

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table][row["id"]] = row
        self._emit(table, "insert", None, row)

    def _update(self, table: str, pk: int, **values: Any) -> None:
        before = self.tables[table][pk]
        after = {**before, **values}
        if after == before:
            return
        del self.tables[table][pk]
        self.tables[table][after["id"]] = after
        self._emit(table, "update", before, after)

    def _delete(self, table: str, pk: int) -> None:
        self._emit(table, "delete", self.tables[table].pop(pk), None)

    # -- operations ----------------------------------------------------------------------------
    def step(self) -> None:
        r = self.r
        t = self.tables
        roll = r.random()
        if roll < 0.18 or not t["entity"]:
            pk = self.next_id["entity"]
            self.next_id["entity"] += 1
            self._insert("entity", {"id": pk, **self._entity_values()})
        elif roll < 0.36:
            pk = r.choice(list(t["entity"]))
            values = self._entity_values()
            field = r.choice(["name", "born_on", "meta", "score", "deleted", "parent_id", "type", "several"])
            if field == "type" and not self.label_switch:
                field = "name"
            if field == "several":
                values.pop("type")
                self._update("entity", pk, **{k: v for k, v in values.items() if r.random() < 0.5})
            else:
                self._update("entity", pk, **{field: values[field]})
        elif roll < 0.42:
            self._rekey(r.choice(list(t["entity"])))
        elif roll < 0.47:
            self._delete("entity", r.choice(list(t["entity"])))
        elif roll < 0.62 or not t["relation"]:
            pk = self.next_id["relation"]
            self.next_id["relation"] += 1
            self._insert("relation", {"id": pk, "src_id": self._entity_ref(), "predicate": r.choice(PREDICATES),
                                      "dst_id": self._entity_ref(), "weight": r.choice([None, 0.5, 2.0, -1.0])})
        elif roll < 0.72:
            pk = r.choice(list(t["relation"]))
            field = r.choice(["src_id", "dst_id", "predicate", "weight"])
            value = {"src_id": self._entity_ref, "dst_id": self._entity_ref,
                     "predicate": lambda: r.choice(PREDICATES), "weight": lambda: r.choice([None, 1.0, 3.5, -2.0])}[field]()
            self._update("relation", pk, **{field: value})
        elif roll < 0.76:
            self._delete("relation", r.choice(list(t["relation"])))
        elif roll < 0.92:
            self._attribute()
        else:
            self._alias()

    def _attribute(self) -> None:
        r, rows = self.r, self.tables["attribute"]
        used = {(a["entity_id"], a["k"]) for a in rows.values()}
        roll = r.random()
        if roll < 0.45 or not rows:
            owner, k = self._entity_ref(), r.choice(ATTR_KEYS)
            if owner is None or (owner, k) in used:
                return
            pk = self.next_id["attribute"]
            self.next_id["attribute"] += 1
            self._insert("attribute", {"id": pk, "entity_id": owner, "k": k, "v": r.choice(["红", "大", "x", None])})
            return
        pk = r.choice(list(rows))
        a = rows[pk]
        if roll < 0.65:
            self._update("attribute", pk, v=r.choice(["蓝", "小", None, "y"]))
        elif roll < 0.75:
            k = r.choice(ATTR_KEYS)
            if (a["entity_id"], k) not in used:
                self._update("attribute", pk, k=k)
        elif roll < 0.85:
            owner = self._entity_ref()
            if owner is not None and (owner, a["k"]) not in used:
                self._update("attribute", pk, entity_id=owner)
        else:
            self._delete("attribute", pk)

    def _alias(self) -> None:
        r, rows = self.r, self.tables["alias"]
        if r.random() < 0.5 or not rows:
            owner = self._entity_ref()
            if owner is None:
                return
            pk = self.next_id["alias"]
            self.next_id["alias"] += 1
            self._insert("alias", {"id": pk, "entity_id": owner, "lang": r.choice(["en", "zh"]), "alias": r.choice(NAMES)})
            return
        pk = r.choice(list(rows))
        roll = r.random()
        if roll < 0.4:
            self._update("alias", pk, alias=r.choice(NAMES))
        elif roll < 0.7:
            owner = self._entity_ref()
            if owner is not None:
                self._update("alias", pk, entity_id=owner)
        else:
            self._delete("alias", pk)

    def _rekey(self, old: int) -> None:
        """Change an entity's key; every reference follows (ON UPDATE CASCADE)."""
        new = self.fresh_key = self.fresh_key + 1
        self._update("entity", old, id=new)
        explicit = self.r.random() < 0.5  # an application-level cascade writes the referencing rows itself
        refs = [("relation", "src_id"), ("relation", "dst_id"), ("entity", "parent_id"),
                ("attribute", "entity_id"), ("alias", "entity_id")]
        for table, column in refs:
            for pk, row in list(self.tables[table].items()):
                if row.get(column) == old and not (table == "entity" and pk == new):
                    if explicit:
                        self._update(table, pk, **{column: new})
                    else:
                        row[column] = new

    def truncate(self, table: str) -> None:
        """TRUNCATE TABLE: every row goes, with no row events (the binlog logs a statement)."""
        self.tables[table].clear()
        self.changes.append(Change(table, "truncate", None, None, schema="kb", tx=f"t{self._tx}"))
        self._tx += 1

    # -- driving -------------------------------------------------------------------------------
    def run(self, n_changes: int) -> list[Change]:
        while len(self.changes) < n_changes:
            start = len(self.changes)
            for _ in range(self.r.choice([1, 1, 1, 2, 3, 5])):
                self.step()
            if len(self.changes) > start:
                self.changes[-1].tx_end = True
                self._tx += 1
        return self.changes

    def final_rows(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        out = {("kb", t): [copy.deepcopy(row) for row in rows.values()] for t, rows in self.tables.items()}
        for rows in out.values():
            self.r.shuffle(rows)
        return out
