"""Cross-checks over all loaded mapping files, each reported as ``file:line: key.path: message``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kbgraph.errors import MappingError
from kbgraph.mapping.loader import load_mapping_files

DDL = """
CREATE TABLE entity (id BIGINT PRIMARY KEY, type VARCHAR(20), name VARCHAR(100), deleted TINYINT, parent_id BIGINT);
CREATE TABLE relation (id BIGINT PRIMARY KEY, src_id BIGINT, predicate VARCHAR(20), dst_id BIGINT);
CREATE TABLE attribute (id BIGINT PRIMARY KEY, entity_id BIGINT, k VARCHAR(20), v TEXT);
"""


def problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *texts: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("kb.sql").write_text(DDL)
    names = []
    for i, text in enumerate(texts):
        names.append(f"m{i + 1}.yaml")
        Path(names[-1]).write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping_files(names)
    return str(info.value).splitlines()


def test_column_not_in_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, """\
        source: {schema: kb, ddl: kb.sql}
        entities:
          - table: entity
            label: Entity
            label_from: {column: kind, allow: [Person]}
            key: {id: ID}
            properties:
              name: nam
              title: {column: title, type: str}
            where: "deleted = 0 AND is_active = 1"
        relations:
          - table: relation
            type_from: {column: predicate, allow: [KNOWS]}
            from: {label: Entity, key: {id: src}}
            to: {label: Entity, key: {id: dst_id}}
            key: [rid]
        properties:
          - table: attribute
            owner: {label: Entity, key: {id: entity_id}}
            name: key
            value: {column: value}
          - rule: other
            table: attributes
            owner: {label: Entity, key: {id: entity_id}}
            name: k
            value: v
        """) == [
        "m1.yaml:5: entities[0].label_from.column: column 'kind' is not a column of table 'entity'",
        "m1.yaml:6: entities[0].key: column 'ID' is not a column of table 'entity' (did you mean 'id'?)",
        "m1.yaml:8: entities[0].properties.name: column 'nam' is not a column of table 'entity' (did you mean 'name'?)",
        "m1.yaml:9: entities[0].properties.title: column 'title' is not a column of table 'entity'",
        "m1.yaml:10: entities[0].where: column 'is_active' in the where-expression is not a column of table 'entity'",
        "m1.yaml:14: relations[0].from.key: column 'src' is not a column of table 'relation' (did you mean 'src_id'?)",
        "m1.yaml:16: relations[0].key: column 'rid' is not a column of table 'relation' (did you mean 'id'?)",
        "m1.yaml:20: properties[0].name: column 'key' is not a column of table 'attribute'",
        "m1.yaml:21: properties[0].value: column 'value' is not a column of table 'attribute'",
        "m1.yaml:23: properties[1].table: table 'attributes' is not in kb.sql (did you mean 'attribute'?)",
    ]


def test_where_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, """\
        entities:
          - table: entity
            label: Entity
            key: [id]
            where: "deleted == 0"
        """) == [
        "m1.yaml:5: entities[0].where: invalid where-expression: expected a column, a literal or '(', "
        "found '=' at column 10",
    ]


def test_rule_names_unique_across_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rel = """\
        relations:
          - table: relation
            type: KNOWS
            from: {label: Entity, key: {id: src_id}}
            to: {label: Entity, key: {id: dst_id}}
        """
    assert problems(tmp_path, monkeypatch, """\
        entities:
          - {table: entity, label: Entity, key: [id]}
          - {name: entity, table: person, label: Person, key: [id]}
        properties:
          - {table: attribute, owner: {label: Entity, key: {id: entity_id}}, name: k, value: v}
          - {table: attribute, owner: {label: Entity, key: {id: entity_id}}, name: k, value: v, as: property_node}
        """ + rel[8:], rel) == [
        "m1.yaml:3: entities[1].name: entity rule name 'entity' is already used by entities[0] at m1.yaml:2; "
        "choose another `name:`",
        "m1.yaml:6: properties[1].table: property rule name 'attribute' (its table) is already used by "
        "properties[0] at m1.yaml:5; set `rule:` on one of them to tell them apart",
        "m2.yaml:2: relations[0].table: relation rule name 'relation' (its table) is already used by "
        "relations[0] at m1.yaml:8; set `name:` on one of them to tell them apart",
    ]


def test_labels_and_endpoint_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, """\
        entities:
          - table: entity
            label: [Entity, Thing]
            label_from: {column: type, allow: [Person, Tag]}
            key: [id]
          - {table: tag, label: Tag, key: [name]}
          - {table: other, label: Entity, key: [id]}
        relations:
          - table: relation
            type: KNOWS
            from: {label: Entity, key: {eid: src_id}}
            to: {label: Person, key: {id: dst_id}}
          - table: cites
            type: CITES
            from: {label: Entiyt, key: {id: src_id}}
            to: {label: Paper, key: {doi: dst_doi}}
          - table: cites2
            type: CITES
            from: {label: Paper, key: {id: src_id}}
            to: {label: Book, key: {isbn: isbn}}
        properties:
          - {table: attribute, owner: {label: Thing, key: {id: entity_id}}, name: k, value: v,
             as: property_node, label: Tag}
        """) == [
        "m1.yaml:4: entities[0].label_from.allow[1]: label 'Tag' is the identity label of entities[1] at m1.yaml:6; "
        "nodes of two rules would share it",
        "m1.yaml:7: entities[2].label: identity label 'Entity' (the first label) is already the identity label of "
        "entities[0] at m1.yaml:2; each entity rule needs its own first label",
        "m1.yaml:11: relations[0].from.key: nodes labelled 'Entity' are keyed by 'id' (see entities[0] at m1.yaml:2); "
        "use exactly those key properties here, not 'eid'",
        "m1.yaml:12: relations[0].to.label: 'Person' is not an identity label; nodes of entity rule 'entity' are "
        "found by their first label 'Entity'",
        "m1.yaml:15: relations[1].from.label: no entity rule has the identity label 'Entiyt'; did you mean 'Entity'?",
        "m1.yaml:19: relations[2].from.key: nodes labelled 'Paper' are keyed by 'doi' at relations[1].to.key at "
        "m1.yaml:16; use the same key properties here",
        "m1.yaml:22: properties[0].owner.label: 'Thing' is not an identity label; nodes of entity rule 'entity' "
        "are found by their first label 'Entity'",
        "m1.yaml:23: properties[0].label: label 'Tag' is the identity label of entities[1] at m1.yaml:6; "
        "property nodes need a label of their own",
    ]


def test_property_keys_do_not_repeat_key_properties(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, """\
        entities:
          - table: entity
            label: Entity
            key: {uid: id}
            properties: {uid: id, name: name}
        """) == [
        "m1.yaml:5: entities[0].properties.uid: property 'uid' is also a key property of this rule; "
        "keys are stored already",
    ]


def test_a_valid_set_of_files_has_no_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("kb.sql").write_text(DDL)
    Path("m.yaml").write_text(textwrap.dedent("""\
        source: {schema: kb, ddl: kb.sql}
        entities:
          - {table: entity, label: Entity, key: [id], properties: {name: name}, where: "deleted = 0"}
        relations:
          - {name: parent, table: entity, type: PART_OF, from: {label: Entity, key: {id: id}},
             to: {label: Entity, key: {id: parent_id}}, where: "parent_id IS NOT NULL"}
          - {table: relation, type_from: {column: predicate, allow: [KNOWS]},
             from: {label: Entity, key: {id: src_id}}, to: {label: Entity, key: {id: dst_id}}, key: [id]}
        properties:
          - {table: attribute, owner: {label: Entity, key: {id: entity_id}}, name: k, value: v}
        """))
    [lf] = load_mapping_files(["m.yaml"])
    assert lf.tables is not None and lf.tables["relation"] == ["id", "src_id", "predicate", "dst_id"]
    assert [r.name for r in lf.model.relations] == ["parent", None]
