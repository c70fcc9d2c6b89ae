"""DDL parsing: column names per table from CREATE TABLE statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbgraph.mapping.ddl import parse_ddl

ROOT = Path(__file__).resolve().parents[2]


def test_example_ddl() -> None:
    tables = parse_ddl((ROOT / "mappings" / "kb.sql").read_text(encoding="utf-8"))
    assert tables == {
        "entity": ["id", "type", "name", "description", "born_on", "founded_year", "meta", "score", "deleted",
                   "parent_id", "updated_at"],
        "relation": ["id", "src_id", "predicate", "dst_id", "weight", "since", "source"],
        "attribute": ["id", "entity_id", "k", "v"],
        "alias": ["entity_id", "alias", "lang"],
    }


def test_keys_constraints_comments_and_quotes() -> None:
    text = """
    /*!40101 SET NAMES utf8mb4 */;
    -- a comment; with a semicolon
    # another comment
    CREATE DATABASE kb;
    DROP TABLE IF EXISTS `kb`.`t`;
    CREATE TABLE IF NOT EXISTS `kb`.`t` (
      `id` BIGINT NOT NULL AUTO_INCREMENT COMMENT 'the id; (really), yes',
      kind ENUM('a','b') NOT NULL DEFAULT 'a',
      `key` VARCHAR(10),            -- a reserved word, quoted
      `odd``name` INT,              /* a backtick inside */
      amount DECIMAL(10,2),
      PRIMARY KEY (id), UNIQUE KEY uk (kind, `key`),
      CONSTRAINT fk FOREIGN KEY (id) REFERENCES other (id),
      KEY (amount), INDEX ix (amount), FULLTEXT KEY ft (`key`), CHECK (amount > 0)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 /*!50100 PARTITION BY HASH(id) */;
    create temporary table t2 like kb.t;
    CREATE TABLE 表 (名字 VARCHAR(20), "quoted" INT);
    INSERT INTO t VALUES (1, 'a', 'CREATE TABLE x (y int)', 1, 1.0);
    """
    assert parse_ddl(text) == {
        "t": ["id", "kind", "key", "odd`name", "amount"],
        "t2": ["id", "kind", "key", "odd`name", "amount"],
        "表": ["名字", "quoted"],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CREATE TABLE t AS SELECT 1", "line 1: CREATE TABLE t: no column list"),
        ("CREATE TABLE t (a int", "line 1: table 't': unbalanced parentheses"),
        ("\nCREATE TABLE t (a int default 'x)", "line 2: unterminated quote '"),
        ("CREATE TABLE t LIKE u", "line 1: CREATE TABLE t LIKE u: 'u' is not defined above"),
    ],
)
def test_unreadable_ddl(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_ddl(text)
    assert str(info.value).startswith(message)


def test_no_tables() -> None:
    assert parse_ddl("SET NAMES utf8mb4; -- nothing else") == {}
