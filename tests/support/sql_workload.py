"""A random SQL workload over the knowledge-base tables of ``tests.support.kb_sql.KB_DDL``.

Executed as real SQL, so the binlog holds what a server really writes: key changes whose references
follow by ``ON UPDATE CASCADE`` (relation.src_id, attribute.entity_id: the binlog logs only the
entity's update) or by an explicit update in the same transaction (alias, relation.dst_id,
entity.parent_id: no foreign key), FK changes, filter flips (deleted, negative weight), relations
to entities that do not exist yet, deletes that leave referenced nodes as stubs, EAV set / unset /
rename / move. A statement the server refuses (a foreign key, a unique key) rolls its transaction back.
"""

from __future__ import annotations

import json
import random

import pymysql

NAMES = ["马云", "阿里巴巴", "杭州", "Ada Lovelace", "Alan Turing", "Zürich", "東京"]
TYPES = ["Person", "Organization", "Place"]
PREDICATES = ["WORKS_AT", "LOCATED_IN"]
ATTR_KEYS = ["颜色", "size", "colour", "rank"]
FRESH_KEY_BASE = 1_000_000


class SqlWorkload:
    def __init__(self, conn: pymysql.connections.Connection, seed: int, *, label_switch: bool = False) -> None:
        self.c = conn
        self.r = random.Random(seed)
        self.label_switch = label_switch
        self.next_id = {"entity": 1, "relation": 1, "attribute": 1, "alias": 1}
        self.fresh = FRESH_KEY_BASE + seed * 10_000
        self.committed = self.rolled_back = 0

    # -- helpers ---------------------------------------------------------------------------------
    def _ids(self, table: str) -> list[int]:
        with self.c.cursor() as cur:
            cur.execute(f"SELECT id FROM `{table}`")
            return [r[0] for r in cur.fetchall()]

    def _x(self, statement: str, *args: object) -> int:
        with self.c.cursor() as cur:
            return cur.execute(statement, args)

    def _entity_ref(self, ids: list[int]) -> int | None:
        roll = self.r.random()
        if roll < 0.1:
            return None
        if roll < 0.3 or not ids:
            return self.r.randint(1, self.next_id["entity"] + 5)  # maybe no such row (yet)
        return self.r.choice(ids)

    def _entity_values(self, ids: list[int]) -> dict[str, object]:
        r = self.r
        return {
            "type": r.choice(TYPES) if r.random() < 0.95 else None,
            "name": r.choice(NAMES) + str(r.randint(0, 9)),
            "born_on": f"19{r.randint(10, 99)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}" if r.random() < 0.7 else None,
            "meta": json.dumps(r.choice([None, {"a": r.randint(0, 3)}, {"a": 1, "b": {"c": r.choice(NAMES)}}]))
            if r.random() < 0.8 else None,
            "score": r.choice([None, "12.50", "0.10", f"{r.randint(0, 999)}.00"]),
            "deleted": 1 if r.random() < 0.15 else 0,
            "parent_id": self._entity_ref(ids),
        }

    # -- one transaction -------------------------------------------------------------------------
    def transaction(self) -> None:
        self.c.begin()
        try:
            for _ in range(self.r.choice([1, 1, 1, 2, 3, 5])):
                self._step()
            self.c.commit()
            self.committed += 1
        except pymysql.err.IntegrityError:
            self.c.rollback()
            self.rolled_back += 1

    def run(self, transactions: int) -> None:
        for _ in range(transactions):
            self.transaction()

    def _step(self) -> None:
        r = self.r
        ents = self._ids("entity")
        roll = r.random()
        if roll < 0.2 or not ents:
            pk = self.next_id["entity"]
            self.next_id["entity"] += 1
            v = self._entity_values(ents)
            self._x("INSERT INTO entity (id, type, name, born_on, meta, score, deleted, parent_id) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", pk, *v.values())
        elif roll < 0.38:
            pk = r.choice(ents)
            v = self._entity_values(ents)
            fields = r.sample(["name", "born_on", "meta", "score", "deleted", "parent_id"], r.randint(1, 3))
            if self.label_switch and r.random() < 0.2:
                fields.append("type")
            self._x(f"UPDATE entity SET {', '.join(f'{f} = %s' for f in fields)} WHERE id = %s",
                    *[v[f] for f in fields], pk)
        elif roll < 0.44:
            self._rekey(r.choice(ents))
        elif roll < 0.49:
            pk = r.choice(ents)  # refused while an FK row references it: the transaction rolls back
            self._x("DELETE FROM entity WHERE id = %s", pk)
        elif roll < 0.63:
            pk = self.next_id["relation"]
            self.next_id["relation"] += 1
            src = r.choice(ents) if r.random() < 0.9 else None  # src_id has an FK: an existing entity or NULL
            self._x("INSERT INTO relation VALUES (%s, %s, %s, %s, %s)", pk, src, r.choice(PREDICATES),
                    self._entity_ref(ents), r.choice([None, 0.5, 2.0, -1.0]))
        elif roll < 0.73:
            rels = self._ids("relation")
            if rels:
                field = r.choice(["src_id", "dst_id", "predicate", "weight"])
                value = {"src_id": lambda: r.choice(ents + [None]), "dst_id": lambda: self._entity_ref(ents),
                         "predicate": lambda: r.choice(PREDICATES), "weight": lambda: r.choice([None, 1.0, -2.0])}[field]()
                self._x(f"UPDATE relation SET {field} = %s WHERE id = %s", value, r.choice(rels))
        elif roll < 0.77:
            rels = self._ids("relation")
            if rels:
                self._x("DELETE FROM relation WHERE id = %s", r.choice(rels))
        elif roll < 0.9:
            self._attribute(ents)
        else:
            self._alias(ents)

    def _attribute(self, ents: list[int]) -> None:
        r = self.r
        rows = self._ids("attribute")
        roll = r.random()
        if roll < 0.45 or not rows:
            pk = self.next_id["attribute"]
            self.next_id["attribute"] += 1
            self._x("INSERT INTO attribute VALUES (%s, %s, %s, %s)", pk, r.choice(ents), r.choice(ATTR_KEYS),
                    r.choice(["红", "大", "x", None]))
        elif roll < 0.65:
            self._x("UPDATE attribute SET v = %s WHERE id = %s", r.choice(["蓝", "小", None, "y"]), r.choice(rows))
        elif roll < 0.75:
            self._x("UPDATE attribute SET k = %s WHERE id = %s", r.choice(ATTR_KEYS), r.choice(rows))
        elif roll < 0.85:
            self._x("UPDATE attribute SET entity_id = %s WHERE id = %s", r.choice(ents), r.choice(rows))
        else:
            self._x("DELETE FROM attribute WHERE id = %s", r.choice(rows))

    def _alias(self, ents: list[int]) -> None:
        r = self.r
        rows = self._ids("alias")
        roll = r.random()
        if roll < 0.5 or not rows:
            pk = self.next_id["alias"]
            self.next_id["alias"] += 1
            self._x("INSERT INTO alias VALUES (%s, %s, %s, %s)", pk, self._entity_ref(ents), r.choice(["en", "zh"]),
                    r.choice(NAMES))
        elif roll < 0.7:
            self._x("UPDATE alias SET alias = %s WHERE id = %s", r.choice(NAMES), r.choice(rows))
        elif roll < 0.85:
            self._x("UPDATE alias SET entity_id = %s WHERE id = %s", self._entity_ref(ents), r.choice(rows))
        else:
            self._x("DELETE FROM alias WHERE id = %s", r.choice(rows))

    def _rekey(self, old: int) -> None:
        """A new key no row references yet; FK columns follow by cascade, the others explicitly."""
        self.fresh += 1
        new = self.fresh
        self._x("UPDATE entity SET id = %s WHERE id = %s", new, old)  # cascades to relation.src_id, attribute
        self._x("UPDATE relation SET dst_id = %s WHERE dst_id = %s", new, old)
        self._x("UPDATE entity SET parent_id = %s WHERE parent_id = %s", new, old)
        self._x("UPDATE alias SET entity_id = %s WHERE entity_id = %s", new, old)
