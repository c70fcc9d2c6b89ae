"""The pure parts of the information_schema reader: column defaults and flags as each server writes them."""

from __future__ import annotations

from typing import Any

from kbgraph.mysql.catalog import ColumnKind, literal_default, table_columns


def test_mariadb_quotes_literal_defaults() -> None:
    assert literal_default(ColumnKind("s", "varchar", default="'it''s'"), True) == ("it's", True)
    assert literal_default(ColumnKind("s", "varchar", default="'a\\\\b'"), True) == ("a\\b", True)
    assert literal_default(ColumnKind("n", "int", default="NULL"), True) == ("NULL", False)
    assert literal_default(ColumnKind("t", "timestamp", default="current_timestamp()"), True) == ("current_timestamp()", False)
    assert literal_default(ColumnKind("n", "int"), True) == (None, False)


def test_mysql_marks_expressions_default_generated() -> None:
    assert literal_default(ColumnKind("s", "varchar", default="it's"), False) == ("it's", True)
    assert literal_default(ColumnKind("t", "timestamp", default="CURRENT_TIMESTAMP", extra="DEFAULT_GENERATED"),
                           False) == ("CURRENT_TIMESTAMP", False)
    assert literal_default(ColumnKind("n", "int"), False) == (None, False)


def test_unsigned_from_the_column_type() -> None:
    assert ColumnKind("i", "int", column_type="int(10) unsigned").unsigned
    assert ColumnKind("i", "bigint", column_type="BIGINT UNSIGNED ZEROFILL").unsigned
    assert not ColumnKind("i", "int", column_type="int(11)").unsigned


class _Cursor:
    """Answers the two catalog queries with fixed rows (the statements themselves are not run)."""

    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers
        self.rows: list[tuple[Any, ...]] = []
        self.queries: list[str] = []

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, args: Any = None) -> None:
        self.queries.append(sql)
        self.rows = next(rows for key, rows in self.answers.items() if key in sql)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class _Conn:
    def __init__(self, cur: _Cursor) -> None:
        self.cur = cur

    def cursor(self) -> _Cursor:
        return self.cur


_COLUMNS = [("id", "int", None, "int(10) unsigned", "NO", None, "", "auto_increment"),
            ("doc", "longtext", 4294967295, "longtext", "YES", "NULL", "the doc", ""),
            ("we`ird", "longtext", 4294967295, "longtext", "YES", None, "", ""),
            ("b", "binary", 4, "binary(4)", "YES", None, "", "")]


def test_mariadb_json_columns_by_their_check_constraint() -> None:
    cur = _Cursor({"COLUMNS": _COLUMNS, "CHECK_CONSTRAINTS": [("json_valid(`doc`)",), ("json_valid(`we``ird`)",)]})
    cols = table_columns(_Conn(cur), "s", "t", mariadb=True)
    assert [(c.name, c.data_type, c.length) for c in cols] == [("id", "int", None), ("doc", "json", None),
                                                               ("we`ird", "json", None), ("b", "binary", 4)]
    assert cols[0].unsigned and not cols[0].nullable and cols[0].extra == "auto_increment"
    assert cols[1].comment == "the doc" and cols[1].default == "NULL" and cols[2].comment is None
    assert len(cur.queries) == 2


def test_mysql_needs_one_query_and_keeps_longtext() -> None:
    cur = _Cursor({"COLUMNS": _COLUMNS})
    cols = table_columns(_Conn(cur), "s", "t", mariadb=False)
    assert [c.data_type for c in cols] == ["int", "longtext", "longtext", "binary"]
    assert len(cur.queries) == 1
