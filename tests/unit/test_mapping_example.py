"""The worked example in mappings/: the mapping loads, and the change stream fits its tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbgraph.mapping.convert import Flattened, compile_converter
from kbgraph.mapping.ddl import parse_ddl
from kbgraph.mapping.loader import LoadedFile, load_mapping_files
from kbgraph.mapping.model import Column
from kbgraph.mapping.where import compile_where

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture(scope="module")
def example() -> LoadedFile:
    [lf] = load_mapping_files([MAPPINGS])
    return lf


@pytest.fixture(scope="module")
def changes() -> list[dict]:
    lines = (MAPPINGS / "kb-changes.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_example_uses_every_feature(example: LoadedFile) -> None:
    m = example.model
    assert example.path.name == "kb.yaml" and example.tables is not None
    assert m.source.schema_ == "kb" and m.source.ddl == "kb.sql"
    [entity] = m.entities
    assert entity.label_from is not None and entity.where == "deleted = 0"
    types = {ref.type for ref in entity.properties.values() if isinstance(ref, Column)}
    assert {"date", "decimal", "json", "datetime"} <= types
    assert [r.type_from is not None for r in m.relations] == [True, False]
    assert m.relations[1].table == "entity" and m.relations[1].type == "PART_OF"
    assert [p.as_ for p in m.properties] == ["node_property", "property_node"]


def test_change_stream_shape(changes: list[dict]) -> None:
    assert 300 <= len(changes) <= 600
    tables = parse_ddl((MAPPINGS / "kb.sql").read_text(encoding="utf-8"))
    seen_tx: set[str] = set()
    last_tx = None
    for n, ch in enumerate(changes, 1):
        assert set(ch) == {"schema", "table", "op", "before", "after", "transaction"}, n
        assert ch["schema"] == "kb" and ch["table"] in tables, n
        assert (ch["before"] is None) == (ch["op"] == "insert"), n
        assert (ch["after"] is None) == (ch["op"] == "delete"), n
        for image in (ch["before"], ch["after"]):
            if image is not None:
                assert list(image) == tables[ch["table"]], n  # full row images, in column order
        if ch["transaction"] != last_tx:  # a transaction is consecutive lines
            assert ch["transaction"] not in seen_tx, n
            seen_tx.add(ch["transaction"])
            last_tx = ch["transaction"]
    ops = {op: sum(c["op"] == op for c in changes) for op in ("insert", "update", "delete")}
    assert all(ops.values()), ops


PRIMARY_KEYS = {"entity": ("id",), "relation": ("id",), "attribute": ("id",), "alias": ("entity_id", "alias")}


def test_before_images_are_the_rows_as_they_were(changes: list[dict]) -> None:
    """Replaying the stream: every update/delete carries exactly the row the earlier lines left."""
    rows: dict[tuple, dict] = {}
    for n, ch in enumerate(changes, 1):
        pk = PRIMARY_KEYS[ch["table"]]
        if ch["before"] is not None:
            key = (ch["table"], *(ch["before"][c] for c in pk))
            assert rows.pop(key, None) == ch["before"], f"line {n}: before image differs from the row"
        if ch["after"] is not None:
            key = (ch["table"], *(ch["after"][c] for c in pk))
            assert key not in rows, f"line {n}: duplicate primary key"
            rows[key] = ch["after"]
        if ch["table"] == "entity" and ch["after"] and ch["after"]["parent_id"] is not None:
            assert ("entity", ch["after"]["parent_id"]) in rows, f"line {n}: parent missing"


def test_change_stream_has_the_promised_updates(changes: list[dict]) -> None:
    updates = [c for c in changes if c["op"] == "update"]

    def changed(c: dict) -> set[str]:
        return {k for k in c["after"] if c["after"][k] != c["before"][k]}

    ent = [c for c in updates if c["table"] == "entity"]
    assert any(c["before"]["deleted"] == 0 and c["after"]["deleted"] == 1 for c in ent)
    assert any(c["before"]["deleted"] == 1 and c["after"]["deleted"] == 0 for c in ent)
    assert any("parent_id" in changed(c) for c in ent)
    assert any("id" in changed(c) for c in ent)  # a key change
    # no `type` (label) change: the ArcadeDB stand-in cannot switch labels inside a transaction
    assert any("predicate" in changed(c) for c in updates if c["table"] == "relation")
    assert any("v" in changed(c) for c in updates if c["table"] == "attribute")
    assert any(c["op"] == "delete" and c["table"] == "attribute" for c in changes)
    assert any(c["op"] == "delete" and c["table"] == "entity" for c in changes)
    names = {c["after"]["name"] for c in changes if c["table"] == "entity" and c["after"]}
    assert {"阿里巴巴", "杭州", "马云", "Tim Berners-Lee"} <= names


def test_example_values_convert_and_filter(example: LoadedFile, changes: list[dict]) -> None:
    entity = example.model.entities[0]
    convs = {prop: compile_converter(ref, example.model.options) for prop, ref in entity.properties.items()}
    where = compile_where(entity.where or "")
    allow = set(entity.label_from.allow) if entity.label_from else set()
    rows = [c["after"] for c in changes if c["table"] == "entity" and c["after"]]
    for row in rows:
        assert row["type"] in allow
        where(row)  # every row can be tested
        for prop, ref in entity.properties.items():
            convs[prop](row[ref if isinstance(ref, str) else ref.column])
    ma = next(r for r in rows if r["name"] == "马云")
    assert convs["born_on"](ma["born_on"]).isoformat() == "1964-09-10"
    assert isinstance(convs["meta"](ma["meta"]), Flattened)
    assert convs["score"](ma["score"]) == "95.00" and convs["score_value"](ma["score"]) == 95.0
    assert sum(not where(r) for r in rows) == 2  # the soft delete, and an edit while it was deleted
