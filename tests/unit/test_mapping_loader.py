"""Loading mapping files: every problem as one ``file:line: key.path: message`` line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kbgraph.errors import MappingError
from kbgraph.mapping.loader import load_mapping_files

GOOD_ENTITY = """\
entities:
  - table: entity
    label: Entity
    key: [id]
"""


def problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "m.yaml") -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping_files([name])
    return str(info.value).splitlines()


def test_unknown_keys_suggest_the_closest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, GOOD_ENTITY + """\
    lable: X
entitis: []
relations:
  - table: relation
    type: KNOWS
    from: {label: Entity, key: {id: a}, lable: Entity}
    to: {label: Entity, key: {id: b}}
    colour: red
""") == [
        "m.yaml:5: entities[0].lable: unknown key 'lable' (did you mean 'label'?)",
        "m.yaml:6: entitis: unknown key 'entitis' (did you mean 'entities'?)",
        "m.yaml:10: relations[0].from.lable: unknown key 'lable' (did you mean 'label'?)",
        "m.yaml:12: relations[0].colour: unknown key 'colour'; allowed here: "
        "name, table, type, type_from, from, to, key, properties, where",
    ]


def test_aliased_keys_and_literals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, GOOD_ENTITY + """\
options: {json: xml}
relations:
  - table: relation
    type: KNOWS
    to: {label: Entity, key: {id: b}}
properties:
  - rule: attrs
    table: attribute
    owner: {label: Entity, key: {id: entity_id}}
    name: k
    value: v
    as: column
""") == [
        "m.yaml:5: options.json: expected 'flatten' or 'string', got the text 'xml'",
        "m.yaml:7: relations[0]: missing required key 'from'",
        "m.yaml:16: properties[0].as: expected 'node_property' or 'property_node', got the text 'column'",
    ]


def test_union_values_explain_both_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, """\
entities:
  - table: entity
    label: {name: Entity}
    key: [id]
    properties:
      a: 5
      b: {colum: b}
      c: {column: c, type: integer}
""") == [
        "m.yaml:3: entities[0].label: expected text or a list of texts, got a mapping",
        "m.yaml:6: entities[0].properties.a: expected text or a mapping, got the number 5",
        "m.yaml:7: entities[0].properties.b: missing required key 'column'",
        "m.yaml:7: entities[0].properties.b.colum: unknown key 'colum' (did you mean 'column'?)",
        "m.yaml:8: entities[0].properties.c.type: expected 'auto', 'int', 'float', 'str', 'bool', 'decimal', "
        "'date', 'datetime', 'time', 'json' or 'bytes', got the text 'integer'",
    ]


def test_model_checks_keep_their_own_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, """\
entities:
  - table: entity
    label: [Entity, 2nd]
    key: []
    label_from: {column: type, allow: []}
relations:
  - table: relation
    type: KNOWS
    type_from: {column: p, allow: [A]}
    from: {label: Entity, key: {id: a}}
    to: {label: Entity, key: {id: b}}
""") == [
        "m.yaml:3: entities[0].label: label '2nd' must start with a letter (of any script) or '_' and hold only "
        "letters, digits, '_' and inner spaces, '-', '.' or ':'",
        "m.yaml:4: entities[0].key: at least one key column is needed",
        "m.yaml:5: entities[0].label_from.allow: needs at least 1 item",
        "m.yaml:7: relations[0]: give exactly one of 'type' and 'type_from'",
    ]


def test_yaml_syntax_errors_have_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, "entities:\n  - table: [a\n    label: X\n") == [
        "m.yaml:3: YAML syntax error: expected ',' or ']', but got ':' (column 10)",
    ]
    assert problems(tmp_path, monkeypatch, GOOD_ENTITY + "entities: []\n") == [
        "m.yaml:5: YAML syntax error: found duplicate key \"entities\" with value \"[]\" "
        "(original value: \"[{'table': 'entity', 'label': 'Entity', 'key': ['id']}]\") (column 1)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "m.yaml:1: the file is empty; a mapping file holds entities, relations or properties"),
        ("# only a comment\n", "m.yaml:1: the file is empty; a mapping file holds entities, relations or properties"),
        ("- a\n", "m.yaml:1: expected a mapping at the top level (source, options, entities, relations, properties), got a list"),
        ("source: {schema: kb}\n", "m.yaml:1: the file maps nothing: add entities, relations or properties"),
    ],
)
def test_files_without_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    assert problems(tmp_path, monkeypatch, text) == [message]


def test_missing_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("empty").mkdir()
    Path("empty/notes.txt").write_text("not yaml")
    with pytest.raises(MappingError) as info:
        load_mapping_files(["nope.yaml", "empty"])
    assert str(info.value).splitlines() == [
        "nope.yaml: no such mapping file or directory",
        "empty: no *.yaml or *.yml mapping files in this directory",
    ]
    with pytest.raises(MappingError, match="^no mapping files given$"):
        load_mapping_files([])


def test_every_problem_of_every_file_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("maps").mkdir()
    Path("maps/b.yml").write_text("entities:\n  - table: t\n    key: [id]\n")
    Path("maps/a.yaml").write_text("entities: [oops\n")
    Path("maps/c.yaml").write_text(GOOD_ENTITY)
    with pytest.raises(MappingError) as info:
        load_mapping_files(["maps"])
    assert str(info.value).splitlines() == [
        "maps/a.yaml:2: YAML syntax error: expected ',' or ']', but got '<stream end>' (column 1)",
        "maps/b.yml:2: entities[0]: missing required key 'label'",
    ]


def test_directory_files_load_sorted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("maps").mkdir()
    Path("maps/b.yml").write_text(GOOD_ENTITY.replace("Entity", "B").replace("table: entity", "table: b"))
    Path("maps/a.yaml").write_text(GOOD_ENTITY)
    Path("maps/README.md").write_text("not a mapping")
    files = load_mapping_files(["maps", "maps/a.yaml"])
    assert [str(f.path) for f in files] == ["maps/a.yaml", "maps/b.yml"]
    assert files[0].tables is None
    assert files[1].model.entities[0].labels == ["B"]


def test_ddl_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(tmp_path, monkeypatch, "source: {ddl: missing.sql}\n" + GOOD_ENTITY)[0].startswith(
        "m.yaml:1: source.ddl: cannot read 'missing.sql': No such file"
    )
    Path("empty.sql").write_text("SET NAMES utf8mb4;")
    assert problems(tmp_path, monkeypatch, "source: {ddl: empty.sql}\n" + GOOD_ENTITY) == [
        "m.yaml:1: source.ddl: empty.sql has no CREATE TABLE statements",
    ]
    Path("bad.sql").write_text("CREATE TABLE t (a int")
    assert problems(tmp_path, monkeypatch, "source:\n  ddl: bad.sql\n" + GOOD_ENTITY) == [
        "m.yaml:2: source.ddl: bad.sql: line 1: table 't': unbalanced parentheses",
    ]


def test_line_of_key_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(GOOD_ENTITY + """\
relations:
  - table: relation
    type: KNOWS
    from:
      label: Entity
      key: {id: src_id}
    to: {label: Entity, key: {id: dst_id}}
""")
    lf = load_mapping_files(["m.yaml"])[0]
    assert lf.line_of(("relations", 0, "from", "key")) == 10
    assert lf.line_of(("relations", 0, "from", "key", "id")) == 10
    assert lf.line_of(("relations", 0, "to", "key")) == 11
    assert lf.line_of(("entities", 0, "key", 0)) == 4
    assert lf.line_of(("relations", 0, "properties")) == 6  # absent: the deepest present part
    assert lf.line_of(()) == 1
