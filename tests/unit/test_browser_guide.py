"""The Neo4j Browser saved queries generated from mapping files (pure: no server)."""

from __future__ import annotations

from pathlib import Path

from kbgraph.browser_guide import browser_text, saved_queries
from kbgraph.mapping.loader import load_mapping_files

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "m.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_example_queries_cover_every_kind() -> None:
    queries = saved_queries(load_mapping_files([ROOT / "mappings"]))
    kinds = {q.kind for q in queries}
    assert kinds == {"entities", "neighbourhood", "stubs", "recent", "property nodes", "relationships",
                     "checkpoints", "dead letters"}
    by_name = {q.name: q for q in queries}
    hood = by_name["Entity: neighbourhood of one node (set its key with :param)"]
    assert hood.params == {"entity_id": "1"} and "{`id`: $entity_id}" in hood.cypher
    assert hood.text().splitlines()[:2] == ["// Entity: neighbourhood of one node (set its key with :param)",
                                            ":param entity_id => 1"]
    assert "n._kb_stub = true" in by_name[next(n for n in by_name if n.startswith("Entity: stubs"))].cypher
    recent = by_name["Entity: recently changed (by the source's updated_at column)"]
    assert "ORDER BY n.`updated_at` DESC" in recent.cypher
    assert "MATCH (d:`KbDeadLetter`)" in by_name[next(n for n in by_name if n.startswith("kbgraph: dead letters"))].cypher


def test_without_a_change_time_column_the_file_says_so(tmp_path: Path) -> None:
    f = _write(tmp_path, """\
entities:
  - {table: poet, label: 诗人, key: [id], properties: {名字: name, written: {column: w, type: date}}}
relations:
  - {table: wrote, type: "written by", from: {label: 诗人, key: {id: a}}, to: {label: Work, key: {wid: b}}}
""")
    files = load_mapping_files([f])
    queries = saved_queries(files)
    assert not [q for q in queries if q.kind == "recent"]
    text = browser_text(files)
    assert "kbgraph records no change time on the nodes it writes" in text
    assert "so there is no such query" in text
    poet = next(q for q in queries if q.kind == "neighbourhood" and "诗人" in q.name)
    assert poet.params == {"id": "1"} and "(n:`诗人` {`id`: $id})" in poet.cypher
    work = next(q for q in queries if q.kind == "neighbourhood" and q.name.startswith("Work"))
    assert "(n:`Work` {`wid`: $work_wid})" in work.cypher  # a label with only stubs: its key from the endpoint
    assert "-[r:`written by`]->" in next(q for q in queries if q.kind == "relationships").cypher
    assert "node.诗人 {" in text
