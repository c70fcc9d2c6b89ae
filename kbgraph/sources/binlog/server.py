"""Talking to the MySQL / MariaDB server outside the replication stream.

``ConnInfo`` parses ``mysql://user:password@host:3306`` (the password never prints),
``check_server`` refuses a server whose binlog cannot feed the adapter (saying exactly what to
set), and ``binary_logs``/``current_position`` read where the binlog stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql

from kbgraph.errors import SourceError
from kbgraph.sources.binlog.errors import GRANT, PRIVILEGE, error_code, mysql_error_line

REQUIRED_VARIABLES = {
    "log_bin": "ON",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
}


@dataclass(frozen=True)
class ConnInfo:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    connect_timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str) -> ConnInfo:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise SourceError(f"mysql_url must look like mysql://user:password@host:3306, not scheme {parts.scheme!r}")
        try:
            port = parts.port or 3306
        except ValueError:
            raise SourceError("mysql_url has a bad port number") from None
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username) if parts.username else "root",
            password=unquote(parts.password) if parts.password else "",
        )

    def where(self) -> str:
        """For messages: user@host:port, never the password."""
        return f"{self.user}@{self.host}:{self.port}"

    def pymysql_kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "connect_timeout": self.connect_timeout,
            "charset": "utf8mb4",
        }

    def connect(self, **extra: Any) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(**self.pymysql_kwargs(), autocommit=True, **extra)
        except pymysql.err.MySQLError as exc:
            raise SourceError(mysql_error_line(exc, self.where())) from None


def variables(conn: pymysql.connections.Connection, names: list[str]) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + ",".join(["%s"] * len(names)) + ")", names
        )
        return {str(k).lower(): str(v) for k, v in cur.fetchall()}


def is_mariadb(conn: pymysql.connections.Connection) -> bool:
    return "mariadb" in conn.get_server_info().lower()


def check_server(conn: pymysql.connections.Connection, where: str) -> None:
    """Refuse a server whose binlog cannot feed the adapter, naming what to set."""
    found = variables(conn, list(REQUIRED_VARIABLES))
    wrong = [
        f"{name}={want} (it is {found.get(name, 'missing')})"
        for name, want in REQUIRED_VARIABLES.items()
        if found.get(name, "").upper() != want
    ]
    if wrong:
        raise SourceError(
            f"the binlog of {where} cannot feed kbgraph: set " + ", ".join(wrong)
            + " in the server configuration ([mysqld] section) and restart it"
        )
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW BINARY LOGS")
    except pymysql.err.MySQLError as exc:
        line = mysql_error_line(exc, where)  # a privilege error already says what to grant
        advice = "" if error_code(exc) in PRIVILEGE else f"; {GRANT}"
        raise SourceError(f"cannot list the binary logs: {line}{advice}") from None


def check_tables_readable(conn: pymysql.connections.Connection, tables: list[tuple[str, str]], where: str) -> None:
    for schema, table in tables:
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT 1 FROM {quote_ident(schema)}.{quote_ident(table)} LIMIT 0")
        except pymysql.err.MySQLError as exc:
            raise SourceError(
                f"cannot read mapped table {schema}.{table} on {where}: {mysql_error_line(exc, where)}"
            ) from None


def binary_logs(conn: pymysql.connections.Connection) -> dict[str, int]:
    """File name -> size of every binary log the server still has."""
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        return {row[0]: int(row[1]) for row in cur.fetchall()}


def current_position(conn: pymysql.connections.Connection) -> tuple[str, int]:
    with conn.cursor() as cur:
        try:
            cur.execute("SHOW BINARY LOG STATUS")
        except pymysql.err.ProgrammingError:
            cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
    if row is None:
        raise SourceError("the server's binary log is off: set log_bin (and server_id) and restart it")
    return str(row[0]), int(row[1])


def mariadb_gtid_at(conn: pymysql.connections.Connection, file: str, pos: int) -> str:
    """MariaDB: the GTID state at a binlog file/position ('' when the log holds none yet)."""
    with conn.cursor() as cur:
        cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
        row = cur.fetchone()
    return str(row[0] or "") if row else ""


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
