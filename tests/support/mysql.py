"""MariaDB/MySQL for the tests: connect from a URL and check the binlog settings the binlog source needs."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.cursors

ENV_URL = "KBGRAPH_TEST_MYSQL_URL"
DEFAULT_URL = "mysql://root@127.0.0.1:3306"
FIX = "run .ci/mariadb-binlog.sh (as root) to turn the binlog on"

# what the binlog source needs: every row change, with every column and the column names
REQUIRED = {
    "log_bin": "ON",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
}


def mysql_test_url() -> str:
    """``KBGRAPH_TEST_MYSQL_URL``, else root on 127.0.0.1:3306."""
    return os.environ.get(ENV_URL) or DEFAULT_URL


def connect_args(url: str, db: str | None = None) -> dict[str, object]:
    """``pymysql.connect`` keyword arguments for ``mysql://user:password@host:port/db``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise ValueError(f"not a mysql:// URL: {redact(url)}")
    args: dict[str, object] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": 5,
    }
    path_db = parts.path.lstrip("/")
    if db or path_db:
        args["database"] = db or unquote(path_db)
    return args


def mysql_connect(url: str, db: str | None = None) -> pymysql.connections.Connection:
    """A PyMySQL connection (autocommit, utf8mb4, tuple rows) to ``url``, optionally using ``db``."""
    return pymysql.connect(**connect_args(url, db))  # type: ignore[arg-type]


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def binlog_problems(conn: pymysql.connections.Connection) -> list[str]:
    """Each server variable that differs from ``REQUIRED``, as ``name=actual (need wanted)``."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME IN %s",
            (tuple(k.upper() for k in REQUIRED),),
        )
        actual = {str(name).lower(): str(value).upper() for name, value in cur.fetchall()}
    return [
        f"{name}={actual.get(name, 'missing')} (need {wanted})"
        for name, wanted in REQUIRED.items()
        if actual.get(name) != wanted
    ]
