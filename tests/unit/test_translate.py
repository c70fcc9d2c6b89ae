"""One test per semantic rule of the translation core (change + mapping → graph operations)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kbgraph.change import Change
from kbgraph.errors import ChangeError
from kbgraph.mapping import compile_mappings

MAPPING = Path(__file__).parents[1] / "kb_mapping.yaml"


@pytest.fixture(scope="module")
def mapping():
    return compile_mappings([MAPPING])


def ent(id=1, **kw):
    row = {"id": id, "type": "Person", "name": "马云", "born_on": "1964-09-10", "meta": None, "score": None,
           "deleted": 0, "parent_id": None}
    row.update(kw)
    return row


def rel(id=1, **kw):
    row = {"id": id, "src_id": 1, "predicate": "WORKS_AT", "dst_id": 2, "weight": 1.5}
    row.update(kw)
    return row


def ops(mapping, table, op, before=None, after=None):
    return [(o.stmt.name, o.row) for o in mapping.translate(Change(table, op, before, after, schema="kb"))]


NO_PROPS = {"name": None, "born": None, "meta": None, "score": None}  # every mapped property, unset


def names(out):
    return [n for n, _ in out]


def entity_ops(mapping, op, before=None, after=None):
    """The entity rule's operations (the table's PART_OF rule asserts its absent edge on every update)."""
    return [(n, r) for n, r in ops(mapping, "entity", op, before, after) if n.startswith("entity:")]


def test_insert_creates_node_with_exactly_its_mapped_properties(mapping):
    out = ops(mapping, "entity", "insert", after=ent(meta={"a": {"b": 1}, "tags": ["x", "y"]}, score="12.50"))
    assert out == [("entity: upsert :Entity:Person",
                    {"k": [1], "p": {**NO_PROPS, "name": "马云", "born": dt.date(1964, 9, 10), "meta.a.b": 1,
                                     "meta.tags": ["x", "y"], "score": "12.50"}})]


def test_update_writes_the_whole_mapped_state(mapping):
    # state-based: a node the graph lacks (insert lost, sync started late) is created complete
    out = entity_ops(mapping, "update", before=ent(), after=ent(name="Jack Ma"))
    assert out == [("entity: upsert :Entity:Person",
                    {"k": [1], "p": {**NO_PROPS, "name": "Jack Ma", "born": dt.date(1964, 9, 10)}})]


def test_update_of_unmapped_column_still_asserts_the_state(mapping):
    before = ent()
    before["updated_at"] = "2020-01-01"
    after = dict(before, updated_at="2021-01-01")
    assert names(entity_ops(mapping, "update", before=before, after=after)) == ["entity: upsert :Entity:Person"]


def test_column_becoming_null_removes_the_property(mapping):
    out = entity_ops(mapping, "update", before=ent(), after=ent(born_on=None))
    assert out == [("entity: upsert :Entity:Person", {"k": [1], "p": {**NO_PROPS, "name": "马云"}})]


def test_json_keys_that_disappear_are_removed(mapping):
    out = entity_ops(mapping, "update", before=ent(meta={"a": 1, "b": 2}), after=ent(meta={"a": 1}))
    assert out[0][1]["p"]["meta.b"] is None and out[0][1]["p"]["meta.a"] == 1


def test_label_from_column_changes_the_label(mapping):
    out = entity_ops(mapping, "update", before=ent(), after=ent(type="Place"))
    assert names(out) == ["entity: upsert :Entity:Place"]


def test_label_outside_the_allow_list_is_a_change_error_naming_the_event(mapping):
    with pytest.raises(ChangeError, match=r"insert on kb.entity .*'Planet'.*not an allowed label"):
        ops(mapping, "entity", "insert", after=ent(type="Planet"))


def test_a_rejected_after_image_still_takes_the_row_out_and_moves_its_key(mapping):
    # the change is dead-lettered, and the row counts as not in the graph: its key change applies
    with pytest.raises(ChangeError, match="not an allowed label") as e:
        ops(mapping, "entity", "update", before=ent(1), after=ent(7, type="Planet"))
    n = [op.stmt.name for op in e.value.ops]
    assert "entity: re-key :Entity" in n and "entity: delete :Entity" in n
    assert not any("upsert :Entity" in x for x in n)


def test_a_rejected_before_image_does_not_block_the_correction(mapping):
    # case L: the insert with 'Monk' was dead-lettered; the update that corrects it must apply
    out = entity_ops(mapping, "update", before=ent(type="Monk"), after=ent(type="Person"))
    # the old state is unknown: the whole state is written, and JSON leaves the node may hold are looked up
    assert names(out) == ["entity: upsert :Entity:Person", "entity: find stale JSON leaves of :Entity"]
    assert out[0][1]["p"]["name"] == "马云"
    rel_out = ops(mapping, "relation", "update", before=rel(predicate="LIKES"), after=rel())
    # where the old relationship is, is unknown: every type the rule can make is cleared by row id first
    assert names(rel_out) == ["relation: delete [:WORKS_AT]", "relation: delete [:LOCATED_IN]",
                              "relation: upsert [:WORKS_AT]"]


def test_key_change_re_keys_in_place_before_anything_else(mapping):
    out = ops(mapping, "entity", "update", before=ent(1, parent_id=5), after=ent(7, parent_id=5))
    n = names(out)
    # the row's own PART_OF edge is removed by its old id first, then the node moves (merging a
    # stub that holds key 7: its relationships of each type first), then the edge is re-made
    assert n[0] == "parent: delete [:PART_OF]"
    assert n[1:-4] == [f"entity: re-key :Entity onto a stub, move {d} [:{t}]"
                       for t in ("PART_OF", "WORKS_AT", "LOCATED_IN") for d in ("out", "in")] + [
        "entity: re-key :Entity onto a stub, move out [:HAS_ALIAS]"]
    # then the state of the node, the relationship, and (two nodes may have merged) stale JSON leaves
    assert n[-4:] == ["entity: re-key :Entity", "entity: upsert :Entity:Person",
                      "entity: find stale JSON leaves of :Entity", "parent: upsert [:PART_OF]"]
    assert out[-4][1] == {"o": [1], "n": [7]}
    assert out[-1][1]["f"] == [7] and out[-1][1]["t"] == [5]


def test_key_change_of_a_filtered_row_still_moves_its_stub(mapping):
    out = ops(mapping, "entity", "update", before=ent(1, deleted=1), after=ent(7, deleted=1))
    assert "entity: re-key :Entity" in names(out)
    assert "entity: delete :Entity" in names(out)  # and the row's node is at most a stub


def test_fk_change_removes_old_relationship_and_creates_new(mapping):
    out = ops(mapping, "entity", "update", before=ent(parent_id=5), after=ent(parent_id=6))
    assert names(out) == ["parent: delete [:PART_OF]", "entity: upsert :Entity:Person", "parent: upsert [:PART_OF]"]
    assert out[0][1] == {"id": "parent:[1]"}
    assert out[2][1] == {"id": "parent:[1]", "f": [1], "t": [6], "p": {}}


def test_null_fk_means_no_relationship(mapping):
    out = ops(mapping, "entity", "update", before=ent(parent_id=5), after=ent(parent_id=None))
    assert out[0] == ("parent: delete [:PART_OF]", {"id": "parent:[1]"})
    assert names(out)[1:] == ["entity: upsert :Entity:Person"]


def test_relation_type_change_is_delete_and_create(mapping):
    out = ops(mapping, "relation", "update", before=rel(), after=rel(predicate="LOCATED_IN"))
    assert names(out) == ["relation: delete [:WORKS_AT]", "relation: upsert [:LOCATED_IN]"]


def test_relation_property_update_keeps_the_relationship(mapping):
    out = ops(mapping, "relation", "update", before=rel(), after=rel(weight=None))
    assert out == [("relation: upsert [:WORKS_AT]", {"id": "relation:[1]", "f": [1], "t": [2], "p": {"weight": None}})]


def test_row_leaving_the_filter_is_deleted_and_entering_it_is_created(mapping):
    leave = ops(mapping, "entity", "update", before=ent(), after=ent(deleted=1))
    assert ("entity: delete :Entity", {"k": [1], "p": NO_PROPS}) in leave
    enter = ops(mapping, "entity", "update", before=ent(deleted=1), after=ent())
    assert "entity: upsert :Entity:Person" in names(enter)
    rel_leave = ops(mapping, "relation", "update", before=rel(), after=rel(weight=-1))
    assert names(rel_leave) == ["relation: delete [:WORKS_AT]"]


def test_delete_removes_the_row_elements(mapping):
    out = ops(mapping, "entity", "delete", before=ent(parent_id=3))
    assert [n for n, _ in out] == ["parent: delete [:PART_OF]", "entity: delete :Entity"]
    assert ops(mapping, "relation", "delete", before=rel()) == [("relation: delete [:WORKS_AT]", {"id": "relation:[1]"})]


def test_eav_node_property_set_change_unset(mapping):
    a = {"id": 1, "entity_id": 1, "k": "颜色", "v": "红"}
    assert ops(mapping, "attribute", "insert", after=a) == [
        ("attribute: set properties of :Entity", {"k": [1], "p": {"颜色": "红"}})]
    assert ops(mapping, "attribute", "update", before=a, after=dict(a, v="蓝")) == [
        ("attribute: set properties of :Entity", {"k": [1], "p": {"颜色": "蓝"}})]
    # renamed on the same owner: one write that sets the new name and removes the old
    assert ops(mapping, "attribute", "update", before=a, after=dict(a, k="colour")) == [
        ("attribute: set properties of :Entity", {"k": [1], "p": {"colour": "红", "颜色": None}})]
    assert ops(mapping, "attribute", "update", before=a, after=dict(a, entity_id=2)) == [
        ("attribute: unset properties of :Entity", {"k": [1], "p": {"颜色": None}}),
        ("attribute: set properties of :Entity", {"k": [2], "p": {"颜色": "红"}})]
    assert ops(mapping, "attribute", "delete", before=a) == [
        ("attribute: unset properties of :Entity", {"k": [1], "p": {"颜色": None}})]


def test_eav_attribute_may_not_overwrite_a_mapped_property(mapping):
    with pytest.raises(ChangeError, match="would overwrite"):
        ops(mapping, "attribute", "insert", after={"id": 1, "entity_id": 1, "k": "name", "v": "x"})


def test_eav_property_node_owner_change_moves_it(mapping):
    a = {"id": 9, "entity_id": 1, "lang": "en", "alias": "Jack"}
    assert ops(mapping, "alias", "insert", after=a) == [
        ("alias: upsert :Alias", {"id": "alias:[9]", "k": [1], "p": {"name": "en", "value": "Jack"}})]
    out = ops(mapping, "alias", "update", before=a, after=dict(a, entity_id=2))
    assert [n for n, _ in out] == ["alias: delete :Alias", "alias: upsert :Alias"]


def test_truncate_removes_what_each_rule_of_the_table_made(mapping):
    out = mapping.translate(Change("entity", "truncate", None, None, schema="kb"))
    # the table's PART_OF edges first, then its nodes (read, then stubbed or deleted)
    assert [o.stmt.name for o in out] == ["parent: truncate [:PART_OF]", "entity: truncate :Entity"]
    assert out[0].row == {"prefix": "parent:"}
    assert out[1].stmt.then is not None and "WHERE n._kb_stub IS NULL" in out[1].stmt.cypher


def test_unmapped_table_gives_no_operations(mapping):
    assert ops(mapping, "audit_log", "insert", after={"id": 1}) == []
