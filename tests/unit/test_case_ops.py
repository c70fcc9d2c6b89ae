"""The regression cases A, B, C, E, L, S, K without a server: their operations and batches.

The graph-server side of each is tests/integration/test_case_graphs.py.
"""

from __future__ import annotations

import pytest

from kbgraph.errors import ChangeError
from kbgraph.graph.batch import plan_groups
from kbgraph.mapping import compile_mappings
from kbgraph.mapping.columns import cascade_id
from tests.support.cases import CASES, MAPPING, case_a, case_c, case_k, case_l_rekey, case_s


@pytest.fixture(scope="module")
def mapping():
    return compile_mappings([MAPPING])


def translate_all(mapping, changes):
    ops, rejected = [], 0
    for ch in changes:
        try:
            ops += mapping.translate(ch)
        except ChangeError as e:
            ops += e.ops
            rejected += 1
    return ops, rejected


@pytest.mark.parametrize("make", CASES, ids=lambda f: f.__name__)
def test_only_the_intended_changes_are_rejected(make, mapping):
    case = make()
    assert translate_all(mapping, case.changes)[1] == case.rejected


def test_a_re_key_onto_a_stub_moves_its_relationships_before_taking_the_key(mapping):
    ops, _ = translate_all(mapping, case_a().changes[-1:])
    names = [o.stmt.name for o in ops]
    assert names.index("person: re-key :Human onto a stub, move in [:KNOWS]") < names.index("person: re-key :Human")
    assert "DETACH DELETE x" in next(o.stmt.cypher for o in ops if o.stmt.name == "person: re-key :Human")


def test_c_a_cascade_rewrites_the_row_ids_that_hold_the_re_keyed_columns(mapping):
    ops, _ = translate_all(mapping, [case_c().changes[4]])
    cascades = [o for o in ops if "cascade" in o.stmt.name]
    assert {o.stmt.then.name for o in cascades} == {"work_person: new row id [:CONTRIBUTED_TO]", "work_note: new row id :Note"}
    wp = next(o for o in cascades if "work_person" in o.stmt.name)
    assert wp.row == {"n": [2], "prefix": "work_person:", "pos": [1], "ov": ["1"], "nv": ["2"]}
    assert cascade_id({"id": "work_person:[7,1]", **wp.row}) == {"old": "work_person:[7,1]", "new": "work_person:[7,2]"}
    # an id that already holds the new key (a merged stub's) is left alone
    assert cascade_id({"id": "work_person:[7,2]", **wp.row}) is None


def test_k_a_relation_before_the_key_change_it_follows_still_converges(mapping):
    ops, _ = translate_all(mapping, case_k().changes)
    # the relation MERGEs a stub with the new key; the re-key then merges that stub in
    names = [o.stmt.name for o in ops]
    assert names.index("knows: upsert [:KNOWS]") < names.index("person: re-key :Human")


def test_l_a_rejected_change_still_moves_the_key(mapping):
    ops, rejected = translate_all(mapping, case_l_rekey().changes[2:3])
    assert rejected == 1
    assert [o.row for o in ops if o.stmt.name == "person: re-key :Human"] == [{"o": [4], "n": [6]}]


def test_s_the_attribute_follows_the_delete_that_made_its_owner_a_stub(mapping):
    ops, _ = translate_all(mapping, case_s().changes)
    placed: list[int] = []
    groups = plan_groups(ops, placed)
    names = [g.stmt.name for g in groups]
    delete = names.index("person: delete :Human")
    assert names.index("attr: set properties of :Human", delete) > delete


def test_a_cascade_rewrites_only_ids_that_hold_the_whole_old_key():
    row = {"pos": [0, 1], "ov": ["5", '"a"'], "nv": ["7", '"a"']}
    assert cascade_id({"id": 'a0:[5,"a","k"]', **row}) == {"old": 'a0:[5,"a","k"]', "new": 'a0:[7,"a","k"]'}
    assert cascade_id({"id": 'a0:[7,"a","k"]', **row}) is None  # part of the key matches: not this row's
