"""The knowledge-base tables as real SQL (DDL, their mapping, a fill), for the binlog tests and benches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kbgraph.mapping import compile_mappings
from tests.support.binlog import sql

KB_DDL = [
    """CREATE TABLE entity (id INT PRIMARY KEY, type VARCHAR(20), name VARCHAR(100), born_on DATE, meta JSON,
       score DECIMAL(10,2), deleted TINYINT NOT NULL DEFAULT 0, parent_id INT NULL, KEY (parent_id))""",
    """CREATE TABLE relation (id INT PRIMARY KEY, src_id INT NULL, predicate VARCHAR(20), dst_id INT NULL,
       weight DOUBLE, CONSTRAINT fk_src FOREIGN KEY (src_id) REFERENCES entity (id) ON UPDATE CASCADE)""",
    """CREATE TABLE attribute (id INT PRIMARY KEY, entity_id INT NOT NULL, k VARCHAR(20) NOT NULL, v VARCHAR(20),
       UNIQUE KEY (entity_id, k), CONSTRAINT fk_owner FOREIGN KEY (entity_id) REFERENCES entity (id) ON UPDATE CASCADE)""",
    """CREATE TABLE alias (id INT PRIMARY KEY, entity_id INT NULL, lang VARCHAR(5), alias VARCHAR(100))""",
]
KB_MAPPING = """
source: {{schema: {db}}}
entities:
  - table: entity
    label: Entity
    label_from: {{column: type, allow: [Person, Organization, Place]}}
    key: [id]
    properties:
      name: name
      born: {{column: born_on, type: date}}
      meta: {{column: meta, type: json}}
      score: {{column: score, type: decimal}}
    where: "deleted = 0"
relations:
  - table: relation
    key: [id]
    type_from: {{column: predicate, allow: [WORKS_AT, LOCATED_IN]}}
    from: {{label: Entity, key: {{id: src_id}}}}
    to: {{label: Entity, key: {{id: dst_id}}}}
    properties: {{weight: weight}}
    where: "weight IS NULL OR weight >= 0"
  - name: parent
    table: entity
    type: PART_OF
    from: {{label: Entity, key: {{id: id}}}}
    to: {{label: Entity, key: {{id: parent_id}}}}
properties:
  - table: attribute
    owner: {{label: Entity, key: {{id: entity_id}}}}
    name: k
    value: v
    as: node_property
  - table: alias
    key: [id]
    owner: {{label: Entity, key: {{id: entity_id}}}}
    name: lang
    value: alias
    as: property_node
    label: Alias
    rel_type: HAS_ALIAS
"""


def kb_setup(url: str, db: str, tmp_path: Path) -> Any:
    """Create the tables in ``db``; write their mapping to ``tmp_path/mapping.yaml`` and compile it."""
    sql(url, *KB_DDL, db=db)
    path = Path(tmp_path) / "mapping.yaml"
    path.write_text(KB_MAPPING.format(db=db), encoding="utf-8")
    return compile_mappings([path])


def kb_fill(url: str, db: str, n: int) -> None:
    """Insert ``n`` Person entities (each PART_OF the one before) and ``n`` WORKS_AT relations into ``db``."""
    rows = ",".join(f"({i}, 'Person', 'e{i}', NULL, '{{\"a\": {i}}}', '{i}.50', 0, {max(1, i - 1)})" for i in range(1, n + 1))
    rels = ",".join(f"({i}, {i}, 'WORKS_AT', {n + 1 - i}, 1.0)" for i in range(1, n + 1))
    sql(url, f"INSERT INTO entity VALUES {rows}", f"INSERT INTO relation VALUES {rels}", db=db)
