"""Source rows for ``kbgraph verify``: in primary-key chunks, a key range again, or by key values.

Only ``SELECT`` (and ``information_schema``) is needed: no consistent-snapshot handoff, no binlog.
Rows are read and normalised the way ``kbgraph snapshot`` reads them (``select_expression``,
``snapshot_fixes``, the same key choice and keyset pagination), so a value compares equal to what the
snapshot or the stream wrote. The binlog position (for re-checks while a sync runs) is read when the
user may (``SHOW BINARY LOG STATUS`` needs REPLICATION CLIENT / BINLOG MONITOR); without it the
re-check waits for the checkpoint to stand still instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pymysql

from kbgraph.errors import KbgraphError, SourceError
from kbgraph.sources.binlog import server
from kbgraph.sources.binlog.decode import select_expression, snapshot_fixes, table_columns
from kbgraph.sources.binlog.errors import mysql_error_line
from kbgraph.sources.binlog.server import quote_ident
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.sources.snapshot import SnapshotSource, after_args, after_clause

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import BinlogSettings, JsonlSettings, Settings

Row = dict[str, Any]
TableId = tuple[str, str]


@dataclass
class Chunk:
    rows: list[Row]
    after: Any  # the bound before the first row (None: from the start)
    last: Any  # the bound of the last row (inclusive)


class SqlRows:
    """Rows of a MySQL/MariaDB server, read with plain SELECTs."""

    def __init__(self, conn: server.ConnInfo, mapping: Any) -> None:
        self.conn = conn
        self.where = conn.where()
        self.tables = MappedTables.from_mapping(mapping)
        try:
            self.db = conn.connect()
            with self.db.cursor() as cur:
                cur.execute("SET SESSION time_zone = '+00:00'")
            self.mariadb = server.is_mariadb(self.db)
            self._snap = SnapshotSource(conn, self.tables)
            self._concrete = self._snap._resolve(self.db)
        except pymysql.err.MySQLError as exc:
            raise SourceError(f"verify cannot read the source: {mysql_error_line(exc, self.where)}") from None
        self._shape: dict[TableId, tuple[list[str], list[str], str, list[Any]]] = {}

    def concrete(self, schema: str | None, table: str) -> list[TableId]:
        return [(s, t) for s, t in self._concrete if t == table and (schema is None or s == schema)]

    def _table(self, tid: TableId) -> tuple[list[str], list[str], str, list[Any]]:
        shape = self._shape.get(tid)
        if shape is None:
            schema, table = tid
            columns = table_columns(self.db, schema, table, self.mariadb)
            names = [c.name for c in columns]
            keys = self._snap._key_columns(self.db, schema, table)
            select = (f"SELECT {', '.join(select_expression(c, quote_ident(c.name)) for c in columns)} "
                      f"FROM {quote_ident(schema)}.{quote_ident(table)}")
            shape = self._shape[tid] = (names, keys, select, snapshot_fixes(columns))
        return shape

    def key_columns(self, tid: TableId) -> list[str]:
        return self._table(tid)[1]

    def _run(self, tid: TableId, sql: str, args: tuple[Any, ...]) -> list[Row]:
        names, _, _, fixes = self._table(tid)
        try:
            with self.db.cursor() as cur:
                cur.execute(sql, args)
                raw = cur.fetchall()
        except pymysql.err.MySQLError as exc:
            raise SourceError(f"verify cannot read {tid[0]}.{tid[1]}: {mysql_error_line(exc, self.where)}") from None
        out = []
        for r in raw:
            row = list(r)
            for j, fix in fixes:
                if row[j] is not None:
                    row[j] = fix(row[j])
            out.append(dict(zip(names, row)))
        return out

    def chunks(self, tid: TableId, size: int) -> Iterator[Chunk]:
        """Every row in key order, ``size`` rows at a time (keyset pagination on the primary key)."""
        _, keys, select, _ = self._table(tid)
        quoted = [quote_ident(k) for k in keys]
        order = f" ORDER BY {', '.join(quoted)} LIMIT {int(size)}"
        after: list[Any] | None = None
        while True:
            sql, args = select, ()
            if after is not None:
                sql += " WHERE " + after_clause(quoted)
                args = tuple(after_args(after))
            rows = self._run(tid, sql + order, args)
            if not rows:
                return
            last = [rows[-1][k] for k in keys]
            yield Chunk(rows, after, last)
            after = last
            if len(rows) < size:
                return

    def between(self, tid: TableId, after: Any, last: Any) -> list[Row]:
        """The rows of one chunk's key range again (after, last]."""
        _, keys, select, _ = self._table(tid)
        quoted = [quote_ident(k) for k in keys]
        conds, args = [f"NOT {after_clause(quoted)}"], list(after_args(last))
        if after is not None:
            conds.append(after_clause(quoted))
            args += after_args(after)
        return self._run(tid, f"{select} WHERE {' AND '.join(conds)} ORDER BY {', '.join(quoted)}", tuple(args))

    def lookup(self, tid: TableId, cols: list[str], keys: list[tuple[Any, ...]]) -> list[Row]:
        """Rows whose ``cols`` hold one of ``keys`` (a graph element's key or row id)."""
        if not keys:
            return []
        _, _, select, _ = self._table(tid)
        if len(cols) == 1:
            cond = f"{quote_ident(cols[0])} IN ({', '.join(['%s'] * len(keys))})"
            args = tuple(k[0] for k in keys)
        else:
            one = "(" + ", ".join(["%s"] * len(cols)) + ")"
            cond = f"({', '.join(quote_ident(c) for c in cols)}) IN ({', '.join([one] * len(keys))})"
            args = tuple(v for k in keys for v in k)
        return self._run(tid, f"{select} WHERE {cond}", args)

    def position(self) -> tuple[str, int] | None:
        """The binlog position now, or None when the user may not read it (or the log is off)."""
        try:
            return server.current_position(self.db)
        except (pymysql.err.MySQLError, SourceError):
            return None

    def close(self) -> None:
        with contextlib.suppress(pymysql.err.Error):  # already closed
            self.db.close()


class FileRows:
    """Rows from a JSONL file of insert changes (``--source jsonl``), held in memory per table; the
    file's order is the key order."""

    def __init__(self, path: Path) -> None:
        self.rows: dict[TableId, list[Row]] = {}
        try:
            with path.open("rb") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        c = orjson.loads(line)
                        if c.get("op", "insert") == "insert" and c.get("after") is not None:
                            self.rows.setdefault((c.get("schema") or "", c["table"]), []).append(c["after"])
                    except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError):
                        raise SourceError(f"{path}:{n}: not an insert change") from None
        except OSError as e:
            raise SourceError(f"cannot read {path}: {e.strerror}") from None

    def concrete(self, schema: str | None, table: str) -> list[TableId]:
        return sorted(t for t in self.rows if t[1] == table and (schema is None or not t[0] or t[0] == schema))

    def key_columns(self, tid: TableId) -> list[str]:
        return []

    def chunks(self, tid: TableId, size: int) -> Iterator[Chunk]:
        rows = self.rows.get(tid, [])
        for i in range(0, len(rows), size):
            yield Chunk(rows[i:i + size], i, min(i + size, len(rows)))

    def between(self, tid: TableId, after: Any, last: Any) -> list[Row]:
        return self.rows.get(tid, [])[after:last]

    def lookup(self, tid: TableId, cols: list[str], keys: list[tuple[Any, ...]]) -> list[Row]:
        want = {tuple(_loose(v) for v in k) for k in keys}
        return [r for r in self.rows.get(tid, []) if tuple(_loose(r.get(c)) for c in cols) in want]

    def position(self) -> tuple[str, int] | None:
        return None

    def close(self) -> None:
        pass


def _loose(v: Any) -> Any:
    """A key value as text, so a graph key matches the file's value of another JSON type ("7" and 7)."""
    return None if v is None else str(v)


# ---------------------------------------------------------------- which reader, per --source

def _sql_rows(settings: BinlogSettings, mapping: CompiledMapping) -> SqlRows:
    if settings.mysql_url is None:
        raise SourceError("verify needs mysql_url (KBGRAPH_MYSQL_URL=mysql://user:password@host:3306)")
    return SqlRows(server.ConnInfo.from_url(settings.mysql_url.get_secret_value()), mapping)


def _file_rows(settings: JsonlSettings, mapping: CompiledMapping) -> FileRows:
    if settings.changes is None:
        raise SourceError("verify --source jsonl needs --changes FILE")
    return FileRows(Path(settings.changes))


CURRENT_ROWS: dict[str, Callable[[Settings, CompiledMapping], FileRows | SqlRows]] = {"snapshot": _sql_rows, "jsonl": _file_rows}


def current_rows(name: str, settings: Settings, mapping: CompiledMapping) -> FileRows | SqlRows:
    """The reader of the rows ``verify --source NAME`` compares the graph with (the caller closes it)."""
    try:
        build = CURRENT_ROWS[name]
    except KeyError:
        raise KbgraphError(f"verify reads rows from {' or '.join(map(repr, CURRENT_ROWS))}, not {name!r}") from None
    return build(settings, mapping)
