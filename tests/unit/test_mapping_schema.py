"""The checked-in JSON Schema of mapping files matches the models."""

from __future__ import annotations

import json
from pathlib import Path

from kbgraph.mapping.schema_export import REGENERATE, mapping_json_schema, schema_text

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "kbgraph" / "schema" / "mapping.schema.json"


def test_checked_in_schema_is_in_sync() -> None:
    on_disk = SCHEMA_FILE.read_text(encoding="utf-8")
    assert on_disk == schema_text(), f"kbgraph/schema/mapping.schema.json is stale; regenerate it with:\n    {REGENERATE}"


def test_schema_uses_the_yaml_key_names() -> None:
    schema = mapping_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "kbgraph mapping file"
    defs = schema["$defs"]
    assert {"from", "to", "type_from"} <= set(defs["RelationRule"]["properties"])
    assert "from_" not in defs["RelationRule"]["properties"]
    assert {"rule", "as"} <= set(defs["PropertyRule"]["properties"])
    assert "json" in defs["Options"]["properties"] and "schema" in defs["SourceSpec"]["properties"]
    assert defs["EntityRule"]["additionalProperties"] is False
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == schema
