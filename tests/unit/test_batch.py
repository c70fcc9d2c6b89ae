"""Batching: same-key operations keep source order; only independent ones are grouped/reordered."""

from __future__ import annotations

from kbgraph.graph.batch import plan_groups
from kbgraph.graph.ops import BARRIER, BarrierTouch, GraphOp, NodeTouch, RowTouch, Statement

UPSERT = Statement("upsert", "…", "merge")
DELETE = Statement("delete", "…", "same")
REKEY = Statement("rekey", "…", "none")


def up(k, **p):
    ref = NodeTouch("n", "L", (k,))
    return GraphOp(UPSERT, {"k": [k], "p": p}, (ref,), ref)


def dele(k):
    ref = NodeTouch("n", "L", (k,))
    return GraphOp(DELETE, {"k": [k]}, (ref,), ref)


def rekey(a, b):
    return GraphOp(REKEY, {"o": [a], "n": [b]}, (NodeTouch("n", "L", (a,)), NodeTouch("n", "L", (b,))), None)


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
    ref = NodeTouch("u", "L", (k,))
    return GraphOp(UPSERT, {"k": [k], "p": {}}, (ref,), ref)


def edge(i, a, b):
    refs = (RowTouch("e", i), NodeTouch("m", "L", (a,)), NodeTouch("m", "L", (b,)))
    return GraphOp(EDGE, {"id": i}, refs, refs[0])


def node_delete(k):
    ref = NodeTouch("n", "L", (k,))
    return GraphOp(NODE_DELETE, {"k": [k]}, (ref,), ref)


def test_entity_upserts_and_endpoint_merges_commute_so_a_bulk_load_is_two_statements():
    ops = [fill(1), edge("r1", 1, 2), fill(2), edge("r2", 2, 3), fill(3)]
    assert shape(plan_groups(ops)) == [("upsert", [{"k": [1], "p": {}}, {"k": [2], "p": {}}, {"k": [3], "p": {}}]),
                                       ("edge upsert", [{"id": "r1"}, {"id": "r2"}])]


def test_a_delete_between_them_still_orders_both():
    ops = [edge("r1", 1, 2), node_delete(1), fill(1)]
    assert [name for name, _ in shape(plan_groups(ops))] == ["edge upsert", "node delete", "upsert"]


def test_touches_are_tagged_tuples_the_batcher_reads_by_position():
    node = NodeTouch("u", "L", (1,))
    assert (node[0], node[1:]) == ("u", ("L", (1,)))
    assert node[1:] == NodeTouch("m", "L", (1,))[1:]  # one node, however it is touched
    assert RowTouch("e", "r:[1]") != RowTouch("p", "r:[1]")  # a relationship and a property node
    assert len({NodeTouch("n", "L", (1,)), NodeTouch("n", "L", (1,))}) == 1
    assert BARRIER == (BarrierTouch(),) and BARRIER[0] not in {node, RowTouch("e", "*")}


def test_a_truncate_keeps_its_place_among_operations_on_other_keys():
    truncate = GraphOp(Statement("truncate", "…", "same"), {"table": "t"}, BARRIER, "truncate")
    ops = [up(1, a=1), truncate, up(2, a=2), up(1, a=3)]
    placed: list[int] = []
    plan_groups(ops, placed)
    assert placed[0] < placed[1] < placed[2] == placed[3]


def test_phases_order_the_buckets_of_one_change():
    from kbgraph.mapping.columns import PHASES, Phase, buckets

    assert [p.name for p in sorted(Phase)] == ["REMOVE", "REKEY", "NODE_DELETE", "NODE_UPSERT", "UPSERT"]
    assert list(PHASES) == [int(p) for p in Phase] and len(buckets()) == len(Phase)


# -- the invariant, on the operations of random workloads ------------------------------------------

def _conflict(a: GraphOp, b: GraphOp) -> bool:
    """The documented conflict relation: a shared element, except an upsert and a MERGE of one node."""
    if a.keys == BARRIER or b.keys == BARRIER:
        return True
    for ka in a.keys:
        for kb in b.keys:
            if ka[0] in "umn" and kb[0] in "umn":
                if ka[1:] == kb[1:] and {ka[0], kb[0]} != {"u", "m"}:
                    return True
            elif ka == kb:
                return True
    return False


def _check_invariant(ops: list[GraphOp]) -> None:
    placed: list[int] = []
    groups = plan_groups(ops, placed)
    assert len(placed) == len(ops)
    for j, b in enumerate(ops):
        for i in range(j):
            a = ops[i]
            if not _conflict(a, b):
                continue
            gi, gj = placed[i], placed[j]
            if gi == gj:  # only as rows of one statement, in order (or coalesced into one row)
                assert a.stmt is b.stmt and a.stmt.coalesce != "none", (a, b)
            else:
                assert gi < gj, (a.stmt.name, a.row, b.stmt.name, b.row)
    assert len(groups) <= len(ops)


def test_batches_keep_every_conflicting_pair_in_source_order():
    import tempfile
    from pathlib import Path

    from kbgraph.errors import ChangeError
    from kbgraph.mapping import compile_mappings
    from tests.support.oracle import build, random_steps

    tmp = Path(tempfile.mkdtemp())
    checked = 0
    for seed in range(300):
        db = build(seed, random_steps(seed, 40))
        mapping = compile_mappings([db.s.write_mapping(tmp / f"m{seed}.yaml")])
        ops: list[GraphOp] = []
        for ch in db.changes:
            try:
                ops += mapping.translate(ch)
            except ChangeError as e:
                ops += e.ops
        for cut in (3, 17, len(ops)):  # batches of several sizes
            for start in range(0, len(ops), cut):
                _check_invariant(ops[start:start + cut])
        checked += len(ops)
    assert checked > 10_000


def test_re_key_delete_re_insert_in_one_batch_keep_their_order():
    # case E at the planner: 43 -> 21, delete 21, insert 21, with another key's operations between
    ops = [rekey(43, 21), up(8, a=1), dele(21), up(8, a=2), up(21, name="明白")]
    placed: list[int] = []
    groups = plan_groups(ops, placed)
    assert placed[0] < placed[2] < placed[4]
    assert [g.stmt.name for g in groups] == ["rekey", "upsert", "delete", "upsert"]
