"""The one reader of ``information_schema``: tables, columns and keys of a live MySQL / MariaDB.

Every function takes an open DB-API connection (``pymysql``) and runs read-only SELECTs, so any
user that can see the tables can use it. Column names and order are ``ORDINAL_POSITION`` order.

MySQL and MariaDB differ here in:

* JSON: MySQL has a JSON type; MariaDB's JSON is a LONGTEXT with a ``CHECK (json_valid(`col`))``
  constraint. With ``mariadb=True`` such a column is reported with data type ``json`` (one more
  query, of ``information_schema.CHECK_CONSTRAINTS``).
* ``COLUMN_DEFAULT``: MariaDB quotes a literal default and writes ``NULL`` for "no default"; MySQL
  gives the literal itself and marks an expression ``DEFAULT_GENERATED`` in ``EXTRA``
  (``literal_default``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


@dataclass(frozen=True, slots=True)
class ColumnKind:
    """A column as ``information_schema.COLUMNS`` describes it."""

    name: str
    data_type: str  # DATA_TYPE, lower case ('json' also for MariaDB json_valid columns when asked)
    length: int | None = None  # BINARY(n): n
    column_type: str = ""  # COLUMN_TYPE: 'decimal(10,2) unsigned', "enum('a','b')"
    nullable: bool = True
    default: str | None = None  # COLUMN_DEFAULT as the server writes it (see literal_default)
    comment: str | None = None
    extra: str = ""  # EXTRA: auto_increment, DEFAULT_GENERATED, ...

    @property
    def unsigned(self) -> bool:
        return " unsigned" in self.column_type.lower()


def table_columns(conn: Any, schema: str, table: str, mariadb: bool) -> list[ColumnKind]:
    """The columns of a table in order ([] if it does not exist); one query (MariaDB: two)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), CHARACTER_OCTET_LENGTH, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, "
            "COLUMN_COMMENT, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (schema, table),
        )
        rows = cur.fetchall()
        json_cols = _mariadb_json_columns(cur, schema, table) if mariadb and rows else set()
    out = []
    for name, data_type, octets, column_type, nullable, default, comment, extra in rows:
        kind = "json" if name in json_cols else str(data_type)
        length = int(octets) if kind == "binary" and octets is not None else None
        out.append(ColumnKind(str(name), kind, length, str(column_type or ""), nullable == "YES",
                              None if default is None else str(default), comment or None, str(extra or "")))
    return out


def _mariadb_json_columns(cur: Any, schema: str, table: str) -> set[str]:
    """MariaDB's JSON is LONGTEXT with a CHECK (json_valid(`col`)) constraint."""
    cur.execute(
        "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s AND CHECK_CLAUSE LIKE 'json\\_valid(%%'",
        (schema, table),
    )
    out: set[str] = set()
    for (clause,) in cur.fetchall():
        inner = clause[len("json_valid("): -1].strip()
        if inner.startswith("`") and inner.endswith("`"):
            out.add(inner[1:-1].replace("``", "`"))
    return out


def literal_default(column: ColumnKind, mariadb: bool) -> tuple[str | None, bool]:
    """(default text, whether it is a literal rather than an expression) of a column."""
    default = column.default
    if mariadb:  # MariaDB quotes literal defaults and writes NULL for "no default"
        quoted = default is not None and default.startswith("'")
        if default is not None and quoted:
            default = default[1:-1].replace("''", "'").replace("\\\\", "\\")
        return default, quoted
    return default, default is not None and "DEFAULT_GENERATED" not in column.extra  # MySQL


def unique_keys(conn: Any, schema: str, table: str) -> list[tuple[str, list[tuple[str, bool]]]]:
    """(index name, [(column, nullable)]) of the primary key first, then the other unique keys by name."""
    with conn.cursor() as cur:
        cur.execute("SELECT INDEX_NAME, COLUMN_NAME, NULLABLE FROM information_schema.STATISTICS "
                    "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s AND NON_UNIQUE=0 "
                    "ORDER BY INDEX_NAME='PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX", (schema, table))
        found: dict[str, list[tuple[str, bool]]] = {}
        for index, column, nullable in cur.fetchall():
            found.setdefault(str(index), []).append((str(column), nullable == "YES"))
    return list(found.items())


def not_null_keys(conn: Any, schema: str, table: str) -> list[tuple[str, list[str]]]:
    """The keys that identify a row: the primary key, then unique keys without a nullable column."""
    return [(i, [c for c, _ in cols]) for i, cols in unique_keys(conn, schema, table) if not any(n for _, n in cols)]


def primary_key(conn: Any, schema: str, table: str) -> list[str]:
    """The primary key's columns in key order ([] without one)."""
    with conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
                    "AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX", (schema, table))
        return [str(r[0]) for r in cur.fetchall()]


def table_exists(conn: Any, schema: str, table: str) -> bool:
    return bool(table_schemas(conn, schema, table))


def table_schemas(conn: Any, schema: str | None, table: str) -> list[str]:
    """The schemas holding ``table``: ``[schema]`` or [] when given; else every non-system schema with
    a base table of that name."""
    with conn.cursor() as cur:
        if schema is not None:
            cur.execute("SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s",
                        (schema, table))
        else:
            cur.execute("SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_NAME=%s "
                        "AND TABLE_TYPE='BASE TABLE' AND TABLE_SCHEMA NOT IN %s", (table, SYSTEM_SCHEMAS))
        return sorted(str(r[0]) for r in cur.fetchall())


def estimated_rows(conn: Any, schema: str, table: str) -> int | None:
    """The server's row estimate (``TABLES.TABLE_ROWS``), None when it has none."""
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s",
                    (schema, table))
        row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None
