"""``kbgraph.mysql.catalog`` against the live server: columns, types, defaults, keys and tables as read."""

from __future__ import annotations

from kbgraph.mysql import catalog
from kbgraph.sources.binlog.server import is_mariadb
from tests.support.mysql import mysql_connect


def test_catalog_reads_columns_keys_and_tables(mysql_url: str, mysql_db: str) -> None:
    conn = mysql_connect(mysql_url, mysql_db)
    try:
        mariadb = is_mariadb(conn)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT UNSIGNED NOT NULL, k VARCHAR(5) NOT NULL, j JSON, b BINARY(4), "
                        "s VARCHAR(20) DEFAULT 'it''s' COMMENT 'a comment', n INT NULL, u INT NOT NULL, "
                        "PRIMARY KEY (k, id), UNIQUE KEY by_u (u), UNIQUE KEY by_n (n))")
            cur.execute("CREATE TABLE nokey (a INT, b INT)")
        cols = catalog.table_columns(conn, mysql_db, "t", mariadb)
        assert [c.name for c in cols] == ["id", "k", "j", "b", "s", "n", "u"]  # ordinal order
        by = {c.name: c for c in cols}
        assert by["j"].data_type == "json"  # MariaDB: found by its json_valid() check
        assert (by["b"].data_type, by["b"].length) == ("binary", 4)
        assert by["id"].unsigned and not by["id"].nullable and not by["k"].unsigned
        assert by["s"].comment == "a comment" and by["id"].comment is None
        assert catalog.literal_default(by["s"], mariadb) == ("it's", True)
        assert catalog.literal_default(by["id"], mariadb)[1] is False
        if mariadb:
            assert [c.data_type for c in catalog.table_columns(conn, mysql_db, "t", False)][2] == "longtext"
        assert catalog.primary_key(conn, mysql_db, "t") == ["k", "id"]  # key order, not column order
        assert catalog.unique_keys(conn, mysql_db, "t") == [
            ("PRIMARY", [("k", False), ("id", False)]), ("by_n", [("n", True)]), ("by_u", [("u", False)])]
        assert catalog.not_null_keys(conn, mysql_db, "t") == [("PRIMARY", ["k", "id"]), ("by_u", ["u"])]
        assert catalog.not_null_keys(conn, mysql_db, "nokey") == []
        assert catalog.primary_key(conn, mysql_db, "nokey") == []
        assert catalog.table_schemas(conn, mysql_db, "t") == [mysql_db]
        assert mysql_db in catalog.table_schemas(conn, None, "nokey")
        assert catalog.table_schemas(conn, mysql_db, "absent") == []
        assert catalog.table_columns(conn, mysql_db, "absent", mariadb) == []
        assert catalog.estimated_rows(conn, mysql_db, "t") in (0, None)
    finally:
        conn.close()
