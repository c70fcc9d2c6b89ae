"""``BinlogSource``: MySQL / MariaDB row events as ``Change`` objects, resumable exactly.

Reading the events of one connection, and what a transaction is, lives in ``events.py``.

Resume: the stream always starts at binlog file/pos (``is_mariadb=False``: with it, MariaDB would
ignore file/pos and start at the oldest log). Positions are described in ``position.py``.

Connection drops: the library would silently reconnect from its *original* position and
replay transactions; our stream connections hide the "lost connection" errors from it
(``_StreamConnection``), and ``changes`` reconnects (tenacity) from the position after the last
change it yielded, dropping a half-read transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Literal

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XAPrepareEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)
from tenacity import RetryCallState, Retrying, wait_incrementing

from kbgraph.change import Change
from kbgraph.errors import KbgraphError, SourceError
from kbgraph.outage import OutageWatch, source_outage_hook
from kbgraph.sources import BaseSource, SourceContext
from kbgraph.sources.binlog import server
from kbgraph.sources.binlog.decode import RowFixer, table_columns
from kbgraph.sources.binlog.errors import (
    LOST_CONNECTION,
    error_code,
    error_text,
    stream_error,
)
from kbgraph.sources.binlog.events import StreamPass, Xid
from kbgraph.sources.binlog.position import Position
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.unrepresentable import Unrepresentable

log = logging.getLogger(__name__)

EVENTS = [
    MariadbGtidEvent, GtidEvent, QueryEvent, XidEvent, XAPrepareEvent, RotateEvent, HeartbeatLogEvent,
    WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent,
]
RECONNECT_CODES = LOST_CONNECTION | {1927, 2003}  # 1927: connection killed (MariaDB)
OUTAGE_LOG_EVERY_S = 60.0  # while reconnecting, a log line this often
# between reconnects: 0.1 s more each time (over the whole run), at most 2 s
RECONNECT_WAIT = wait_incrementing(start=0.1, increment=0.1, max=2.0)


class _Lost(Exception):
    """A lost connection, carried past the library (which would reconnect by itself from a stale position)."""

    def __init__(self, error: pymysql.err.OperationalError) -> None:
        super().__init__(str(error))
        self.error = error


class _StreamConnection(pymysql.connections.Connection):  # type: ignore[misc]  # PyMySQL ships no types
    """The library's connections: a lost connection reaches ``BinlogSource.changes`` instead of the
    library's own reconnect (``pymysqlreplication`` retries any ``OperationalError`` whose code is
    in its module-wide ``MYSQL_EXPECTED_ERROR_CODES``; this keeps that list untouched for others)."""

    def _read_packet(self, packet_type: Any = pymysql.protocol.MysqlPacket) -> Any:
        try:
            return super()._read_packet(packet_type)
        except pymysql.err.OperationalError as exc:
            if error_code(exc) in LOST_CONNECTION:
                raise _Lost(exc) from None
            raise


class BinlogSource(BaseSource):
    """Streams the binlog of one server for the mapped tables. See the module doc."""

    def __init__(
        self,
        conn: server.ConnInfo,
        tables: MappedTables,
        *,
        server_id: int = 4271,
        blocking: bool = True,
        heartbeat_s: float = 1.0,
        on_ddl: Literal["stop", "continue_unmapped"] = "stop",
        on_truncate: Literal["delete", "stop"] = "delete",
        initial: Position | Literal["current"] | None = None,
        reconnect_s: float | None = 60.0,  # give up after an outage this long (None: never)
        until: Position | None = None,
        describe_events: bool = False,
    ) -> None:
        self.conn, self.tables, self.server_id = conn, tables, server_id
        # publish: each change's binlog event in change.meta["binlog"] (file, pos of its event, row in
        # it, server_id, gtid of its transaction) and JSON columns as the text the server logged
        self.describe_events = describe_events
        self.blocking, self.heartbeat_s = blocking, heartbeat_s
        self.on_ddl, self.on_truncate = on_ddl, on_truncate
        self.initial, self.reconnect_s = initial, reconnect_s
        self.until = (until.file, until.pos) if until is not None and until.file is not None else None
        self._ctl: pymysql.connections.Connection | None = None
        self._stream: BinLogStreamReader | None = None
        self._fixers: dict[tuple[str, str], RowFixer] = {}
        self._table_ids: dict[tuple[str, str], int] = {}  # the table-map id each table's columns were checked at
        self.mariadb = True
        self._resume: dict[str, Any] = {}  # position fragment after the last change yielded (or whole tx read)
        self.reconnects = 0
        self.reconnected_at: list[Position] = []  # where each reconnect resumed (for tests / logs)
        self.events = 0  # events read since the last (re)connect
        self.unrepresentable: Unrepresentable = Unrepresentable()  # zero / partial dates written as NULL, per column
        self._watch: OutageWatch | None = None
        self.xa_unmapped: set[Xid] = set()  # prepared XA transactions read whole that changed no mapped table

    # ------------------------------------------------------------------ Source protocol

    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        snap = start.get("snapshot")
        if snap and not snap.get("done"):
            raise SourceError(
                "the snapshot of this pipeline was interrupted; run `kbgraph snapshot` again to finish it before syncing"
            )
        self._ctl = self.conn.connect()
        self.mariadb = server.is_mariadb(self._ctl)
        server.check_server(self._ctl, self.conn.where())
        server.check_tables_readable(
            self._ctl, [(s, t) for s, t in self.tables.pairs if s is not None], self.conn.where()
        )
        pos = self._start_position(start)
        self._resume = pos.fragment()
        self._watch = OutageWatch(f"MySQL at {self.conn.where()} (binlog)", max_wait_s=self.reconnect_s,
                                  log_every_s=OUTAGE_LOG_EVERY_S, on_change=source_outage_hook(ctx))

        def sleep(seconds: float) -> None:  # a stop ends the wait
            ctx.stopping.wait(seconds)

        retrying = Retrying(retry=self._reconnectable, wait=RECONNECT_WAIT, before_sleep=self._lost, sleep=sleep,
                            reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    if ctx.stopping.is_set():
                        return
                    yield from self._pass(ctx)
        except pymysql.err.MySQLError as exc:
            raise stream_error(exc, self.conn.where(), self.resume.describe()) from None
        except Exception as exc:
            if type(exc).__name__ == "BinLogNotEnabled":
                raise stream_error(exc, self.conn.where(), self.resume.describe()) from None
            raise

    def _pass(self, ctx: SourceContext) -> Iterator[Change]:
        """One connection's stream, from after the last change yielded."""
        try:
            self.events = 0
            yield from StreamPass(self, self.resume).changes(self._open(self.resume), ctx.stopping)
        except _Lost as lost:
            raise lost.error from None
        finally:
            self._close_stream()

    @staticmethod
    def _reconnectable(state: RetryCallState) -> bool:
        """A dropped or refused connection, but not a refused first one (a wrong address fails at once)."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(exc, pymysql.err.OperationalError):
            return False
        code = error_code(exc)
        if state.attempt_number == 1 and code not in LOST_CONNECTION:
            return False
        return code in RECONNECT_CODES

    def _lost(self, state: RetryCallState) -> None:
        """Before waiting to reconnect: tell the outage watch (it gives up after ``reconnect_s``)."""
        assert self._watch is not None and state.outcome is not None
        exc = state.outcome.exception()
        assert isinstance(exc, pymysql.err.OperationalError)
        try:
            self._watch.lost(f"error {error_code(exc)}: {error_text(exc)}", resume=self.resume.describe())
        except KbgraphError as e:
            raise SourceError(str(e).replace("the last committed batch", self.resume.describe())) from None
        self.reconnects += 1
        self.reconnected_at.append(self.resume)

    def committed(self, position: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        self._close_stream()
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None

    @property
    def resume(self) -> Position:
        """Where a reconnect continues: after the last change yielded (or the last whole transaction read)."""
        f = self._resume
        return Position(f.get("file"), f.get("pos"), f.get("gtid") or "", f.get("index", 0))

    # ------------------------------------------------------------------ start

    def _start_position(self, start: dict[str, Any]) -> Position:
        assert self._ctl is not None
        pos = Position.from_checkpoint(start)
        if pos is None:
            if self.initial == "current":
                file, p = server.current_position(self._ctl)
                pos = Position(file, p)
            elif isinstance(self.initial, Position):
                pos = self.initial
            else:
                raise SourceError(
                    "the graph holds no binlog position for this pipeline: run `kbgraph snapshot` first "
                    "(it loads the tables and records where the stream continues)"
                )
        if pos.file is None:
            raise SourceError(
                f"the checkpoint holds only a GTID ({pos.gtid}); kbgraph resumes from binlog file/pos: {self.resnap()}"
            )
        logs = server.binary_logs(self._ctl)
        assert pos.file is not None and pos.pos is not None
        if pos.file not in logs:
            raise SourceError(
                f"binlog file {pos.file} of the checkpoint ({pos.describe()}) is no longer on {self.conn.where()} "
                f"(purged? the server has {', '.join(sorted(logs)) or 'none'}); {self.resnap()}"
            )
        if pos.pos > logs[pos.file]:
            raise SourceError(
                f"binlog position {pos.describe()} lies beyond the end of {pos.file} ({logs[pos.file]} bytes); {self.resnap()}"
            )
        if self.mariadb and not pos.gtid and pos.index == 0:
            pos = Position(pos.file, pos.pos, server.mariadb_gtid_at(self._ctl, pos.file, pos.pos), 0)
        return pos

    @staticmethod
    def resnap() -> str:
        return "run `kbgraph snapshot` again to reload the tables and continue from a position the server has"

    # ------------------------------------------------------------------ reading

    def _open(self, pos: Position) -> BinLogStreamReader:
        settings = self.conn.pymysql_kwargs()
        if self.blocking:  # the server sends heartbeats while idle: silence this long means a dead link
            settings["read_timeout"] = max(30.0, 10 * self.heartbeat_s)
        self._stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=self.server_id,
            resume_stream=True,
            blocking=self.blocking,
            log_file=pos.file,
            log_pos=pos.pos,
            only_events=EVENTS,
            only_schemas=self.tables.only_schemas(),
            only_tables=self.tables.only_tables(),
            slave_heartbeat=self.heartbeat_s if self.blocking else None,
            is_mariadb=False,
            enable_logging=False,
            pymysql_wrapper=_StreamConnection,
        )
        return self._stream

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except (OSError, pymysql.err.Error, _Lost):  # closing a dead socket
                log.debug("closing the binlog stream", exc_info=True)
            self._stream = None

    # ------------------------------------------------------------------ what a StreamPass asks

    def resume_at(self, fragment: dict[str, Any]) -> None:
        self._resume = fragment

    def heard_from_server(self) -> None:
        if self._watch is not None and self._watch.current is not None:
            self._watch.back()  # the server answers again

    def check_table_map(self, schema: str, table: str, ev: Any) -> None:
        """A table map not seen before: the table's columns first seen, or seen again after DDL (also DDL the
        binlog does not hold, e.g. run with sql_log_bin=0): every mapped column must be there (its name is
        logged with binlog_row_metadata=FULL)."""
        if self._table_ids.get((schema, table)) == ev.table_id:
            return
        names = [c.name for c in ev.columns]
        if all(isinstance(n, str) and n for n in names):
            self.tables.check_columns(schema, table, names)
        if (schema, table) in self._table_ids:
            self._fixers.pop((schema, table), None)  # its column types may have changed too
        self._table_ids[(schema, table)] = ev.table_id

    def forget_fixers(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            self._fixers.pop(key, None)

    def fixer(self, schema: str, table: str) -> RowFixer:
        fixer = self._fixers.get((schema, table))
        if fixer is None:
            try:
                assert self._ctl is not None
                self._ctl.ping()
            except pymysql.err.MySQLError:
                self._ctl = self.conn.connect()
            fixer = self._fixers[(schema, table)] = RowFixer(table_columns(self._ctl, schema, table, self.mariadb),
                                                             json_text=self.describe_events, where=f"{schema}.{table}",
                                                             gaps=self.unrepresentable)
        return fixer
