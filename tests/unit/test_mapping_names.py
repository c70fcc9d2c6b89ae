"""Labels and relationship types in any script (escaped in every statement); unsafe names refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from kbgraph.cli.app import app
from kbgraph.errors import MappingError
from kbgraph.mapping.loader import load_mapping_files

MAPPING = """\
entities:
  - table: person
    label: 人物
    label_from: {{column: kind, allow: [{allow}]}}
    key: [id]
    properties: {{名字: name}}
relations:
  - table: wrote
    type_from: {{column: kind, allow: [作者, "written by"]}}
    from: {{label: 人物, key: {{id: a}}}}
    to: {{label: 人物, key: {{id: b}}}}
    key: [id]
"""


def _write(tmp_path: Path, allow: str) -> Path:
    f = tmp_path / "poets.yaml"
    f.write_text(textwrap.dedent(MAPPING.format(allow=allow)), encoding="utf-8")
    return f


def test_labels_and_types_in_any_script_are_accepted_and_escaped(tmp_path: Path) -> None:
    f = _write(tmp_path, "诗人, Città, part-of")
    changes = tmp_path / "c.jsonl"
    changes.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in [
        {"table": "person", "op": "insert", "after": {"id": 1, "kind": "诗人", "name": "李白"}},
        {"table": "wrote", "op": "insert", "after": {"id": 9, "kind": "written by", "a": 1, "b": 2}},
    ]))
    result = CliRunner().invoke(app, ["plan", "--changes", str(changes), "--mappings", str(f)])
    assert result.exit_code == 0, result.output
    assert "CREATE (m:`人物`:`诗人`" in result.output
    assert "-[r:`written by`" in result.output


@pytest.mark.parametrize("bad", ['""', '" 诗人"', '"诗人 "', '"a`b"', '"a\\nb"', '"2nd"', '"-x"'])
def test_names_that_cannot_be_carried_safely_are_refused(tmp_path: Path, bad: str) -> None:
    f = _write(tmp_path, f"诗人, {bad}")
    with pytest.raises(MappingError) as info:
        load_mapping_files([f])
    text = str(info.value)
    assert text.startswith(f"{f}:4: entities[0].label_from.allow: allowed name "), text
    assert "must start with a letter (of any script)" in text
