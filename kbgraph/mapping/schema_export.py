"""The JSON Schema of mapping files, for editors (YAML language server) and other tools.

The checked-in copy ``kbgraph/schema/mapping.schema.json`` is kept in sync by a unit test;
regenerate it with::

    python -m kbgraph.mapping.schema_export > kbgraph/schema/mapping.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kbgraph.mapping.model import MappingFile

__all__ = ["REGENERATE", "mapping_json_schema", "schema_text"]

REGENERATE = "python -m kbgraph.mapping.schema_export > kbgraph/schema/mapping.schema.json"


def mapping_json_schema() -> dict[str, Any]:
    """``MappingFile``'s JSON Schema (keys as written in YAML: ``from``, ``as``, ``json``, …)."""
    schema = MappingFile.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kbgraph mapping file",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The exact text of the checked-in file."""
    return json.dumps(mapping_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())
