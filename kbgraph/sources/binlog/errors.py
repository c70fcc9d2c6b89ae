"""Turn what pymysql / mysql-replication raise into one clear line for the user.

The library raises these on the first read of the stream, not when it is built, so the reader
wraps every read. The messages never include the password.
"""

from __future__ import annotations

import pymysql
from pymysqlreplication.exceptions import BinLogNotEnabled

from kbgraph.errors import SourceError

LOST_CONNECTION = {2006, 2013, 2055}  # server gone / lost during query / lost at reading
PRIVILEGE = {1044, 1142, 1143, 1227}  # access denied to a database / table / column / for an operation
GRANT = "grant REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* to this user"
RESNAPSHOT = "run `kbgraph snapshot` again to reload the tables and continue from a position the server has"


def error_code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def error_text(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) > 1:
        return str(exc.args[1]).strip()
    return str(exc).strip() or type(exc).__name__


def mysql_error_line(exc: BaseException, where: str, grant: str = GRANT) -> str:
    """One line describing a connection / query error (no position context); a missing privilege
    ends with ``grant``, what to do about it."""
    code = error_code(exc)
    text = error_text(exc)
    if code == 1045:
        return f"MySQL at {where} refused the login: wrong user or password (error 1045)"
    if code == 2003:
        return f"cannot connect to MySQL at {where}: {text} (error 2003); is the server running and the address right?"
    if code in PRIVILEGE:
        return f"MySQL user {where} lacks a privilege: {text} (error {code}); {grant}"
    if code is not None:
        return f"MySQL at {where}: {text} (error {code})"
    return f"MySQL at {where}: {text}"


def stream_error(exc: BaseException, where: str, start: str) -> SourceError:
    """A SourceError for an error raised while reading the binlog from ``start``."""
    if isinstance(exc, BinLogNotEnabled):
        return SourceError(f"the binary log of {where} is off: set log_bin, server_id and binlog_format=ROW, then restart it")
    code = error_code(exc)
    text = error_text(exc)
    lowered = text.lower()
    if code == 1236:
        if "purged" in lowered or "could not find first log file" in lowered or "not find gtid" in lowered:
            return SourceError(
                f"the binlog position {start} is no longer on {where} ({text}); {RESNAPSHOT}"
            )
        if "same server" in lowered or "server_id" in lowered or "server-id" in lowered:
            return SourceError(f"another replica with the same server_id is reading {where} ({text}); give each reader its own server_id (--server-id or KBGRAPH_SERVER_ID)")
        return SourceError(f"{where} cannot stream from binlog position {start}: {text} (error 1236); {RESNAPSHOT}")
    if code == 1941:
        return SourceError(f"the GTID position {start} is malformed: {text} (error 1941); fix or remove it and {RESNAPSHOT}")
    if code == 4052:
        return SourceError(f"another replica with the same server_id is reading {where} (error 4052); give each reader its own server_id (--server-id or KBGRAPH_SERVER_ID)")
    return SourceError(mysql_error_line(exc, where) + f" while reading the binlog from {start}")
