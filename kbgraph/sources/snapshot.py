"""``kbgraph snapshot``: load the rows that already exist, then hand off to the binlog stream.

MariaDB: ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` and, inside it, ``SHOW STATUS LIKE
'binlog_snapshot_%'`` give the binlog file/position of exactly that view, without any lock;
``BINLOG_GTID_POS`` gives its GTID. MySQL 8 has no such status: a brief ``FLUSH TABLES WITH READ
LOCK`` around starting the transaction and reading ``SHOW MASTER STATUS`` (what mysqldump
``--single-transaction --source-data`` does).

Every mapped table is read in primary-key order, ``chunk`` rows at a time, as insert changes of
one source transaction per chunk. Each change's position holds the binlog position to stream
from (so ``sync`` continues exactly after the snapshot) and ``snapshot`` progress: the table and
the last key done. The last change marks the snapshot done. An interrupted snapshot resumes
after its last committed chunk, from a new consistent view, and keeps the *first* stream
position: replaying the changes made meanwhile (row images, applied in order) converges.

Values go through ``binlog.decode`` so that a snapshot and the stream give equal values.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pymysql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from kbgraph.change import Change
from kbgraph.errors import SourceError
from kbgraph.mysql import catalog
from kbgraph.mysql.catalog import SYSTEM_SCHEMAS, ColumnKind, table_columns
from kbgraph.sources import BaseSource, SourceContext
from kbgraph.sources.binlog import server
from kbgraph.sources.binlog.decode import select_expression, snapshot_fixes
from kbgraph.sources.binlog.errors import mysql_error_line
from kbgraph.sources.binlog.position import Position
from kbgraph.sources.binlog.server import quote_ident
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.unrepresentable import Unrepresentable

__all__ = ["SYSTEM_SCHEMAS", "SnapshotSource", "decode_key", "encode_key", "from_settings"]


def encode_key(values: list[Any]) -> list[Any]:
    """Primary-key values as JSON for the checkpoint (bytes as hex, temporal/decimal as text)."""
    out: list[Any] = []
    for v in values:
        if isinstance(v, (bytes, bytearray)):
            out.append({"hex": bytes(v).hex()})
        elif isinstance(v, (Decimal, date, datetime, timedelta)):
            out.append({"text": str(v)})
        else:
            out.append(v)
    return out


def decode_key(values: list[Any]) -> list[Any]:
    return [bytes.fromhex(v["hex"]) if isinstance(v, dict) and "hex" in v
            else v["text"] if isinstance(v, dict) else v for v in values]


class SnapshotSource(BaseSource):
    """A Source that yields every current row of the mapped tables as inserts, then ends."""

    def __init__(self, conn: server.ConnInfo, tables: MappedTables, *, chunk: int = 1000,
                 console: Console | None = None) -> None:
        self.conn, self.tables, self.chunk, self.console = conn, tables, chunk, console
        self._db: pymysql.connections.Connection | None = None
        self.final_position: dict[str, Any] | None = None  # set once every row was read
        self.rows = 0
        self.seconds = 0.0
        self.unrepresentable: Unrepresentable = Unrepresentable()  # zero / partial dates written as NULL, per column

    # ------------------------------------------------------------------ Source protocol

    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        where = self.conn.where()
        ctl = self.conn.connect()
        try:
            mariadb = server.is_mariadb(ctl)
            server.check_server(ctl, where)
            tables = self._resolve(ctl)
            server.check_tables_readable(ctl, tables, where)
            for schema, table in tables:  # every mapped column exists, before any row is read
                self.tables.check_columns(schema, table, [c.name for c in table_columns(ctl, schema, table, mariadb)])
        finally:
            ctl.close()
        snap = start.get("snapshot") or {}
        resuming = bool(snap) and not snap.get("done")
        self._db = db = self.conn.connect()
        here = self._begin(db, mariadb)
        stream_from = Position.from_checkpoint(start) if resuming else here
        if stream_from is None:
            stream_from = here
        base = stream_from.fragment()
        began = time.monotonic()
        todo = tables
        after: list[Any] | None = None
        if resuming:
            name = snap.get("table")
            names = [f"{s}.{t}" for s, t in tables]
            if name not in names:
                raise SourceError(f"the interrupted snapshot stopped in table {name}, which the mappings no longer "
                                  "read; delete the pipeline's checkpoint and snapshot again")
            todo = tables[names.index(name):]
            after = decode_key(snap["after"]) if snap.get("after") is not None else None
        held: Change | None = None
        progress = self._progress()
        try:
            for schema, table in todo:
                task = progress.add_task(f"{schema}.{table}", total=self._estimate(db, schema, table)) if progress else None
                for change in self._table(db, schema, table, after, base, mariadb):
                    if held is not None:
                        yield held
                    held = change
                    self.rows += 1
                    if progress is not None and task is not None:
                        progress.advance(task)
                    if ctx.stopping.is_set():
                        return
                after = None
            self.seconds = time.monotonic() - began
            self.final_position = {**base, "snapshot": {"done": True, "rows": self.rows}}
            if held is None:  # every mapped table empty: the handoff position still has to be committed
                held = Change.position_only(self.final_position)
            held.position = dict(self.final_position)
            held.tx_end = True
            yield held
        except pymysql.err.MySQLError as exc:
            raise SourceError(f"snapshot failed: {mysql_error_line(exc, where)}") from None
        finally:
            if progress is not None:
                progress.stop()
            try:
                db.rollback()
            except pymysql.err.MySQLError:
                pass

    def committed(self, position: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):  # already closed
                self._db.close()
            self._db = None

    # ------------------------------------------------------------------ parts

    def _resolve(self, ctl: pymysql.connections.Connection) -> list[tuple[str, str]]:
        """Concrete (schema, table) pairs: a mapping without schema reads the table in every schema."""
        out: set[tuple[str, str]] = set()
        for schema, table in self.tables.pairs:
            found = catalog.table_schemas(ctl, schema, table)
            if not found and schema is not None:
                raise SourceError(f"mapped table {schema}.{table} does not exist on {self.conn.where()}")
            if not found:
                raise SourceError(f"mapped table {table} exists in no database on {self.conn.where()}; "
                                  "name its schema in the mapping file (source: schema:)")
            out.update((s, table) for s in found)
        return sorted(out)

    def _begin(self, db: pymysql.connections.Connection, mariadb: bool) -> Position:
        with db.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if mariadb:
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
                status = {str(k).lower(): v for k, v in cur.fetchall()}
                file, pos = str(status["binlog_snapshot_file"]), int(status["binlog_snapshot_position"])
                cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
                gtid = str(cur.fetchone()[0] or "")
                return Position(file, pos, gtid, 0)
            try:  # MySQL: a brief global read lock makes the position and the view agree
                cur.execute("FLUSH TABLES WITH READ LOCK")
            except pymysql.err.MySQLError as exc:
                raise SourceError("a consistent snapshot on MySQL takes a brief global read lock: " + mysql_error_line(
                    exc, self.conn.where(), grant="grant RELOAD ON *.* to this user")) from None
            try:
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                file, pos = server.current_position(db)
                cur.execute("SELECT @@GLOBAL.gtid_executed")
                gtid = str(cur.fetchone()[0] or "").replace("\n", "")
            finally:
                cur.execute("UNLOCK TABLES")
            return Position(file, pos, gtid, 0)

    def _key_columns(self, db: pymysql.connections.Connection, schema: str, table: str) -> list[str]:
        for _, cols in catalog.not_null_keys(db, schema, table):  # PRIMARY first, then unique keys without NULLs
            return cols
        raise SourceError(f"table {schema}.{table} has no primary key (nor a unique key without NULLs); "
                          "the snapshot reads tables in key order: add a primary key")

    def _estimate(self, db: pymysql.connections.Connection, schema: str, table: str) -> int | None:
        return catalog.estimated_rows(db, schema, table)

    def _table(self, db: pymysql.connections.Connection, schema: str, table: str, after: list[Any] | None,
               base: dict[str, Any], mariadb: bool) -> Iterator[Change]:
        columns: list[ColumnKind] = table_columns(db, schema, table, mariadb)
        keys = self._key_columns(db, schema, table)
        names = [c.name for c in columns]
        key_at = [names.index(k) for k in keys]
        fixes = snapshot_fixes(columns)
        quoted_keys = [quote_ident(k) for k in keys]
        select = (f"SELECT {', '.join(select_expression(c, quote_ident(c.name)) for c in columns)} "
                  f"FROM {quote_ident(schema)}.{quote_ident(table)}")
        order = f" ORDER BY {', '.join(quoted_keys)} LIMIT {int(self.chunk)}"
        label = f"{schema}.{table}"
        chunk_no = 0
        while True:
            sql, args = select, ()
            if after is not None:
                sql += " WHERE " + after_clause(quoted_keys)
                args = tuple(after_args(after))
            with db.cursor() as cur:
                cur.execute(sql + order, args)
                rows = cur.fetchall()
            if not rows:
                return
            chunk_no += 1
            tx = f"snapshot:{label}:{chunk_no}"
            last = len(rows) - 1
            for i, raw in enumerate(rows):
                row = list(raw)
                key = [row[j] for j in key_at]
                for j, fix in fixes:
                    if row[j] is not None:
                        v = row[j] = fix(row[j])
                        if v is None:  # a zero or partial date, the zero TIMESTAMP: NULL, counted
                            self.unrepresentable.add(label, names[j], raw[j])
                position = {**base, "snapshot": {"done": False, "table": label, "after": encode_key(key)}}
                yield Change(table, "insert", None, dict(zip(names, row)), position, schema, tx, i == last)
            after = [rows[-1][j] for j in key_at]
            if len(rows) < self.chunk:
                return

    def _progress(self) -> Progress | None:
        if self.console is None:
            return None
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            _RowsPerSecond(), TimeElapsedColumn(),
            console=self.console, transient=False,
        )
        progress.start()
        return progress


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:>9,.0f} rows/s")


def after_clause(keys: list[str]) -> str:
    """Rows after a key in key order: (a > ?) OR (a = ? AND b > ?) OR ..."""
    parts = []
    for i in range(len(keys)):
        eq = [f"{k} = %s" for k in keys[:i]]
        parts.append("(" + " AND ".join(eq + [f"{keys[i]} > %s"]) + ")")
    return "(" + " OR ".join(parts) + ")"


def after_args(after: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(len(after)):
        out.extend(after[: i + 1])
    return out


if TYPE_CHECKING:  # what from_settings reads
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import BinlogSettings


def from_settings(settings: BinlogSettings, mapping: CompiledMapping) -> SnapshotSource:
    if settings.mysql_url is None:
        raise SourceError("the snapshot needs mysql_url (KBGRAPH_MYSQL_URL=mysql://user:password@host:3306)")
    tables = MappedTables.from_mapping(mapping)
    if not tables.pairs:
        raise SourceError("the mappings name no table to snapshot")
    return SnapshotSource(server.ConnInfo.from_url(settings.mysql_url.get_secret_value()), tables,
                          chunk=settings.snapshot_chunk)
