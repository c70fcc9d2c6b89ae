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


def test_insert_creates_node_with_exactly_its_mapped_properties(mapping):
    out = ops(mapping, "entity", "insert", after=ent(meta={"a": {"b": 1}, "tags": ["x", "y"]}, score="12.50"))
    assert out == [("entity: upsert :Entity:Person",
                    {"k": [1], "p": {"name": "马云", "born": dt.date(1964, 9, 10), "meta.a.b": 1,
                                     "meta.tags": ["x", "y"], "score": "12.50"}})]


def test_update_writes_only_changed_mapped_properties(mapping):
    out = ops(mapping, "entity", "update", before=ent(), after=ent(name="Jack Ma"))
    assert out == [("entity: upsert :Entity:Person", {"k": [1], "p": {"name": "Jack Ma"}})]


def test_update_of_unmapped_column_writes_nothing(mapping):
    before = ent()
    before["updated_at"] = "2020-01-01"
    after = dict(before, updated_at="2021-01-01")
    assert ops(mapping, "entity", "update", before=before, after=after) == []


def test_column_becoming_null_removes_the_property(mapping):
    out = ops(mapping, "entity", "update", before=ent(), after=ent(born_on=None))
    assert out == [("entity: upsert :Entity:Person", {"k": [1], "p": {"born": None}})]


def test_json_keys_that_disappear_are_removed(mapping):
    out = ops(mapping, "entity", "update", before=ent(meta={"a": 1, "b": 2}), after=ent(meta={"a": 1}))
    assert out == [("entity: upsert :Entity:Person", {"k": [1], "p": {"meta.b": None}})]


def test_label_from_column_changes_the_label(mapping):
    out = ops(mapping, "entity", "update", before=ent(), after=ent(type="Place"))
    assert out == [("entity: upsert :Entity:Place", {"k": [1], "p": {}})]


def test_label_outside_the_allow_list_is_a_change_error_naming_the_event(mapping):
    with pytest.raises(ChangeError, match=r"insert on kb.entity .*'Planet'.*not an allowed label"):
        ops(mapping, "entity", "insert", after=ent(type="Planet"))


def test_key_change_re_keys_in_place_before_anything_else(mapping):
    out = ops(mapping, "entity", "update", before=ent(1, parent_id=5), after=ent(7, parent_id=5))
    names = [n for n, _ in out]
    # the row's own PART_OF edge is removed by its old id first, then the node moves, then the edge is re-made
    assert names == ["parent: delete [:PART_OF]", "entity: re-key :Entity", "parent: upsert [:PART_OF]"]
    assert out[1][1] == {"o": [1], "n": [7]}
    assert out[2][1]["f"] == [7] and out[2][1]["t"] == [5]


def test_key_change_of_a_filtered_row_still_moves_its_stub(mapping):
    out = ops(mapping, "entity", "update", before=ent(1, deleted=1), after=ent(7, deleted=1))
    assert [n for n, _ in out] == ["entity: re-key :Entity"]


def test_fk_change_removes_old_relationship_and_creates_new(mapping):
    out = ops(mapping, "entity", "update", before=ent(parent_id=5), after=ent(parent_id=6))
    assert out == [("parent: delete [:PART_OF]", {"id": "parent:[1]"}),
                   ("parent: upsert [:PART_OF]", {"id": "parent:[1]", "f": [1], "t": [6], "p": {}})]


def test_null_fk_means_no_relationship(mapping):
    assert ops(mapping, "entity", "update", before=ent(parent_id=5), after=ent(parent_id=None)) == [
        ("parent: delete [:PART_OF]", {"id": "parent:[1]"})]


def test_relation_type_change_is_delete_and_create(mapping):
    out = ops(mapping, "relation", "update", before=rel(), after=rel(predicate="LOCATED_IN"))
    assert [n for n, _ in out] == ["relation: delete [:WORKS_AT]", "relation: upsert [:LOCATED_IN]"]


def test_relation_property_update_keeps_the_relationship(mapping):
    out = ops(mapping, "relation", "update", before=rel(), after=rel(weight=None))
    assert out == [("relation: upsert [:WORKS_AT]", {"id": "relation:[1]", "f": [1], "t": [2], "p": {"weight": None}})]


def test_row_leaving_the_filter_is_deleted_and_entering_it_is_created(mapping):
    leave = ops(mapping, "entity", "update", before=ent(), after=ent(deleted=1))
    assert leave == [("entity: delete :Entity", {"k": [1], "p": {"name": None, "born": None}})]
    enter = ops(mapping, "entity", "update", before=ent(deleted=1), after=ent())
    assert enter[0][0] == "entity: upsert :Entity:Person" and enter[0][1]["p"]["name"] == "马云"
    rel_leave = ops(mapping, "relation", "update", before=rel(), after=rel(weight=-1))
    assert [n for n, _ in rel_leave] == ["relation: delete [:WORKS_AT]"]


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
