"""Batching: same-key operations keep source order; only independent ones are grouped/reordered."""

from __future__ import annotations

from kbgraph.graph.batch import plan_groups
from kbgraph.graph.ops import GraphOp, Statement

UPSERT = Statement("upsert", "…", "merge")
DELETE = Statement("delete", "…", "same")
REKEY = Statement("rekey", "…", "none")


def up(k, **p):
    ref = ("n", "L", (k,))
    return GraphOp(UPSERT, {"k": [k], "p": p}, (ref,), ref)


def dele(k):
    ref = ("n", "L", (k,))
    return GraphOp(DELETE, {"k": [k]}, (ref,), ref)


def rekey(a, b):
    return GraphOp(REKEY, {"o": [a], "n": [b]}, (("n", "L", (a,)), ("n", "L", (b,))), None)


def shape(groups):
    return [(g.stmt.name, g.rows) for g in groups]


def test_independent_operations_share_one_statement_per_shape():
    groups = plan_groups([up(1, a=1), dele(2), up(3, a=3), dele(4)])
    assert shape(groups) == [("upsert", [{"k": [1], "p": {"a": 1}}, {"k": [3], "p": {"a": 3}}]),
                             ("delete", [{"k": [2]}, {"k": [4]}])]


def test_repeated_upserts_of_one_key_coalesce_in_order():
    groups = plan_groups([up(1, a=1, b=1), up(1, a=2), up(1, b=None)])
    assert shape(groups) == [("upsert", [{"k": [1], "p": {"a": 2, "b": None}}])]


def test_same_key_across_shapes_keeps_source_order():
    groups = plan_groups([up(1, a=1), dele(1), up(1, a=2)])
    assert shape(groups) == [("upsert", [{"k": [1], "p": {"a": 1}}]), ("delete", [{"k": [1]}]),
                             ("upsert", [{"k": [1], "p": {"a": 2}}])]


def test_an_operation_may_join_an_earlier_group_only_past_its_last_conflict():
    groups = plan_groups([up(1), dele(2), up(2), up(3)])
    # up(2) must follow dele(2); up(3) conflicts with nothing and joins the *last* upsert group
    assert shape(groups) == [("upsert", [{"k": [1], "p": {}}]), ("delete", [{"k": [2]}]),
                             ("upsert", [{"k": [2], "p": {}}, {"k": [3], "p": {}}])]


def test_chained_re_keys_are_never_in_one_statement():
    groups = plan_groups([rekey(1, 2), rekey(2, 3), rekey(7, 8)])
    assert shape(groups) == [("rekey", [{"o": [1], "n": [2]}]),
                             ("rekey", [{"o": [2], "n": [3]}, {"o": [7], "n": [8]}])]


def test_idempotent_deletes_are_deduplicated():
    assert shape(plan_groups([dele(1), dele(1)])) == [("delete", [{"k": [1]}])]


EDGE = Statement("edge upsert", "…", "merge")
NODE_DELETE = Statement("node delete", "…", "merge")


def fill(k):
    ref = ("u", "L", (k,))
    return GraphOp(UPSERT, {"k": [k], "p": {}}, (ref,), ref)


def edge(i, a, b):
    refs = (("e", i), ("m", "L", (a,)), ("m", "L", (b,)))
    return GraphOp(EDGE, {"id": i}, refs, refs[0])


def node_delete(k):
    ref = ("n", "L", (k,))
    return GraphOp(NODE_DELETE, {"k": [k]}, (ref,), ref)


def test_entity_upserts_and_endpoint_merges_commute_so_a_bulk_load_is_two_statements():
    ops = [fill(1), edge("r1", 1, 2), fill(2), edge("r2", 2, 3), fill(3)]
    assert shape(plan_groups(ops)) == [("upsert", [{"k": [1], "p": {}}, {"k": [2], "p": {}}, {"k": [3], "p": {}}]),
                                       ("edge upsert", [{"id": "r1"}, {"id": "r2"}])]


def test_a_delete_between_them_still_orders_both():
    ops = [edge("r1", 1, 2), node_delete(1), fill(1)]
    assert [name for name, _ in shape(plan_groups(ops))] == ["edge upsert", "node delete", "upsert"]
