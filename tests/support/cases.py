"""The regression cases of the convergence issue (A, B, C, E, L, S, K) as change lists.

Each case is the changes a source delivers (in the order it delivers them) and the rows the
database holds at the end; the graph must equal the graph of those rows. Shared by the pure tests
(which check the operations and their batching) and the graph-server tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbgraph.change import Change

MAPPING = Path(__file__).parents[1] / "fixtures" / "cases.yaml"


def person(i: int, **kw: Any) -> dict[str, Any]:
    return {"id": i, "type": "Person", "name": f"p{i}", "meta": None, "deleted": 0, **kw}


def ins(table: str, row: dict[str, Any]) -> Change:
    return Change(table, "insert", None, row, schema="kb2")


def upd(table: str, before: dict[str, Any], after: dict[str, Any]) -> Change:
    return Change(table, "update", before, after, schema="kb2")


def dele(table: str, row: dict[str, Any]) -> Change:
    return Change(table, "delete", row, None, schema="kb2")


@dataclass
class Case:
    name: str
    changes: list[Change]
    final: list[tuple[str, dict[str, Any]]]  # (table, row) the database holds at the end
    rejected: int = 0  # intended dead letters
    stand_in: bool = True  # False: the ArcadeDB stand-in cannot show it (a label removed in the transaction that re-keyed)

    def final_rows(self) -> list[Change]:
        return [ins(t, r) for t, r in self.final]


def case_a() -> Case:
    """Re-key onto a key that only a stub holds: 3 KNOWS 2 (a stub), then UPDATE id = 2 WHERE id = 1."""
    k = {"id": 1, "a": 3, "b": 2}
    return Case("A", [ins("person", person(1, meta={"x": 1})), ins("person", person(3)), ins("knows", k),
                      ins("attr", {"person_id": 2, "k": "colour", "v": "red"}),
                      upd("person", person(1, meta={"x": 1}), person(2, meta={"x": 1}))],
                [("person", person(2, meta={"x": 1})), ("person", person(3)), ("knows", k),
                 ("attr", {"person_id": 2, "k": "colour", "v": "red"})])


def case_b() -> Case:
    """An update of an element the graph lacks (its insert was lost): it is created complete."""
    w = {"work_id": 5, "title": "b"}
    return Case("B", [upd("person", person(5, name="a"), person(5, name="b")),
                      upd("work_person", {"person_id": 5, "work_id": 5, "role": "x"}, {"person_id": 5, "work_id": 5, "role": "y"}),
                      upd("work", {"work_id": 5, "title": "a"}, w)],
                [("person", person(5, name="b")), ("work", w), ("work_person", {"person_id": 5, "work_id": 5, "role": "y"})])


def case_c() -> Case:
    """ON UPDATE CASCADE into rows whose primary key holds the foreign key (no binlog rows for them)."""
    wp = {"person_id": 7, "work_id": 1, "role": "author"}
    note = {"work_id": 1, "lang": "en", "note": "n"}
    wp2, note2 = {**wp, "work_id": 2}, {**note, "work_id": 2}
    return Case("C", [ins("person", person(7)), ins("work", {"work_id": 1, "title": "t"}), ins("work_person", wp),
                      ins("work_note", note),
                      upd("work", {"work_id": 1, "title": "t"}, {"work_id": 2, "title": "t"}),  # cascades to wp, note
                      upd("work_person", wp2, {**wp2, "role": "editor"}),
                      upd("work_note", note2, {**note2, "note": "m"}),
                      dele("work_person", {**wp2, "role": "editor"})],
                [("person", person(7)), ("work", {"work_id": 2, "title": "t"}), ("work_note", {**note2, "note": "m"})])


def case_e() -> Case:
    """Re-key, delete, re-insert in one batch with other rows' changes: 43 → 21, delete 21, insert 21."""
    return Case("E", [ins("person", person(43)), ins("knows", {"id": 1, "a": 9, "b": 21}),
                      ins("person", person(8)),
                      upd("person", person(43), person(21)), ins("person", person(10)),
                      dele("person", person(21)), upd("person", person(8), person(8, name="q")),
                      ins("person", person(21, name="明白")), upd("person", person(10), person(43))],
                [("person", person(21, name="明白")), ("person", person(8, name="q")), ("person", person(43)),
                 ("knows", {"id": 1, "a": 9, "b": 21})])


def case_l() -> Case:
    """A rejected row can be corrected: insert with type 'Monk' (dead letter), then UPDATE type = 'Person'."""
    return Case("L", [ins("person", person(4, type="Monk", meta={"a": 1})),
                      upd("person", person(4, type="Monk", meta={"a": 1}), person(4, meta={"b": 1})),
                      upd("person", person(4, meta={"b": 1}), person(4, type="Monk", meta={"c": 1})),  # rejected
                      upd("person", person(4, type="Monk", meta={"c": 1}), person(4, meta={"d": 1}))],
                [("person", person(4, meta={"d": 1}))], rejected=2)


def case_l_rekey() -> Case:
    """A rejected change still moves the row's key (the row is out of the graph until corrected)."""
    return Case("L2", [ins("person", person(4)), ins("knows", {"id": 1, "a": 4, "b": 4}),
                       upd("person", person(4), person(6, type="Monk")),  # rejected: 6 is a stub meanwhile
                       upd("person", person(6, type="Monk"), person(6, type="Sage"))],
                 [("person", person(6, type="Sage")), ("knows", {"id": 1, "a": 6, "b": 6})], rejected=1, stand_in=False)


def case_s() -> Case:
    """An attribute on a node that became a stub: key change to N, deleted = 1 on N, attribute row for N."""
    return Case("S", [ins("person", person(1)), upd("person", person(1), person(2)),
                      upd("person", person(2), person(2, deleted=1)),
                      ins("attr", {"person_id": 2, "k": "颜色", "v": "红"})],
                [("person", person(2, deleted=1)), ("attr", {"person_id": 2, "k": "颜色", "v": "红"})])


def case_k() -> Case:
    """Per-table topics: a relation inserted after a key change is consumed before it."""
    return Case("K", [ins("person", person(1)), ins("knows", {"id": 5, "a": 2, "b": 3}),  # uses the new key 2
                      upd("person", person(1), person(2))],
                [("person", person(2)), ("knows", {"id": 5, "a": 2, "b": 3})])


CASES = [case_a, case_b, case_c, case_e, case_l, case_l_rekey, case_s, case_k]
