"""docs/mapping-reference.md: generated from the mapping models, complete, with examples that validate."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from pydantic import BaseModel, TypeAdapter
from ruamel.yaml import YAML

from kbgraph.mapping import model as m
from kbgraph.mapping.reference import REGENERATE, SECTIONS, reference_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping-reference.md"


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    """Every model reachable from ``root``'s field annotations."""
    seen: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for f in model.model_fields.values():
            stack = [f.annotation]
            while stack:
                t = stack.pop()
                if isinstance(t, type) and issubclass(t, BaseModel):
                    todo.append(t)
                stack += list(getattr(t, "__args__", ()))
    return seen


def test_committed_reference_is_not_stale() -> None:
    assert DOC.read_text(encoding="utf-8") == reference_text(), (
        f"docs/mapping-reference.md is stale; regenerate it with:\n    {REGENERATE}")


def test_every_model_and_field_is_documented() -> None:
    documented = {model for _, model, _ in SECTIONS}
    assert documented == _models(m.MappingFile)
    text = reference_text()
    for model in documented:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{field.alias or name}` |" in text


def test_the_reference_states_types_defaults_and_allowed_values() -> None:
    text = reference_text()
    assert "| `as` | one of `node_property`, `property_node` | `node_property` |" in text
    assert "| `table` | string | **required** | source table whose rows are the nodes |" in text
    assert "| `rel_type` | string | `HAS_PROPERTY` |" in text
    assert "| `type` | one of `auto`, `int`, `float`, `str`, `bool`, `decimal`, `date`, `datetime`, `time`, `json`, `bytes` | `auto` |" in text


def test_every_example_is_a_valid_mapping() -> None:
    yaml = YAML(typ="safe")
    column = TypeAdapter(m.ColumnRef)
    for path, model, example in SECTIONS:
        data = yaml.load(StringIO(example))
        if model is m.Endpoint:
            m.Endpoint.model_validate(data["from"])
        elif model is m.FromColumn:
            m.FromColumn.model_validate(data["label_from"])
        elif model is m.Column:
            assert any(isinstance(column.validate_python(v), m.Column) for v in data["properties"].values())
        else:
            m.MappingFile.model_validate(data)
            assert model is m.MappingFile or path.split(".")[0].rstrip("[]") in data, path
