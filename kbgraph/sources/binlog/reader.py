"""``BinlogSource``: MySQL / MariaDB row events as ``Change`` objects, resumable exactly.

Transactions: MariaDB writes GTID (+ BEGIN) … rows … ``XidEvent`` (InnoDB) or ``QueryEvent
'COMMIT'`` (non-transactional engines); a DDL statement is a GTID followed by one QueryEvent.
MySQL writes GTID, BEGIN … rows … Xid. The reader holds back the latest change until the next
event shows whether it ends its transaction, so ``tx_end`` is exact.

Resume: the stream always starts at binlog file/pos (``is_mariadb=False``: with it, MariaDB would
ignore file/pos and start at the oldest log). Positions are described in ``position.py``.

Connection drops: the library would silently reconnect from its *original* position and
replay transactions; we turn that off (``MYSQL_EXPECTED_ERROR_CODES = []``) and reconnect
ourselves from the position after the last change we yielded, dropping a half-read transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Literal

import pymysql
from pymysqlreplication import BinLogStreamReader, binlogstream
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

from kbgraph.change import Change
from kbgraph.errors import KbgraphError, SourceError
from kbgraph.outage import OutageWatch, source_outage_hook
from kbgraph.sources import BaseSource, SourceContext
from kbgraph.sources.binlog import server
from kbgraph.sources.binlog.ddl import classify
from kbgraph.sources.binlog.decode import RowFixer, table_columns
from kbgraph.sources.binlog.errors import (
    LOST_CONNECTION,
    error_code,
    error_text,
    stream_error,
)
from kbgraph.sources.binlog.policy import statement_changes
from kbgraph.sources.binlog.position import MariaGtidState, MysqlGtidState, Position
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.unrepresentable import Unrepresentable

log = logging.getLogger(__name__)

# We reconnect ourselves (see the module doc); the library's own reconnect replays transactions.
binlogstream.MYSQL_EXPECTED_ERROR_CODES = []

EVENTS = [
    MariadbGtidEvent, GtidEvent, QueryEvent, XidEvent, XAPrepareEvent, RotateEvent, HeartbeatLogEvent,
    WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent,
]
RECONNECT_CODES = LOST_CONNECTION | {1927, 2003}  # 1927: connection killed (MariaDB)
_FAST_CONTROL = {"BEGIN": "begin", "COMMIT": "commit", "ROLLBACK": "commit"}


OUTAGE_LOG_EVERY_S = 60.0  # while reconnecting, a log line this often


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
        self._mariadb = True
        self._resume: dict[str, Any] = {}  # position fragment after the last change yielded (or whole tx read)
        self.reconnects = 0
        self.reconnected_at: list[Position] = []  # where each reconnect resumed (for tests / logs)
        self.events = 0  # events read since the last (re)connect
        self.unrepresentable: Unrepresentable = Unrepresentable()  # zero / partial dates written as NULL, per column
        self._watch: OutageWatch | None = None

    # ------------------------------------------------------------------ Source protocol

    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        snap = start.get("snapshot")
        if snap and not snap.get("done"):
            raise SourceError(
                "the snapshot of this pipeline was interrupted; run `kbgraph snapshot` again to finish it before syncing"
            )
        self._ctl = self.conn.connect()
        self._mariadb = server.is_mariadb(self._ctl)
        server.check_server(self._ctl, self.conn.where())
        server.check_tables_readable(
            self._ctl, [(s, t) for s, t in self.tables.pairs if s is not None], self.conn.where()
        )
        pos = self._start_position(start)
        self._resume = pos.fragment()
        first = True
        watch = self._watch = OutageWatch(f"MySQL at {self.conn.where()} (binlog)", max_wait_s=self.reconnect_s,
                                          log_every_s=OUTAGE_LOG_EVERY_S, on_change=source_outage_hook(ctx))
        while not ctx.stopping.is_set():
            try:
                self.events = 0
                for change in self._read(self.resume, ctx):
                    yield change
                return
            except pymysql.err.OperationalError as exc:
                code = error_code(exc)
                if first and not self.reconnects and code not in LOST_CONNECTION:
                    raise stream_error(exc, self.conn.where(), self.resume.describe()) from None
                if code not in RECONNECT_CODES:
                    raise stream_error(exc, self.conn.where(), self.resume.describe()) from None
                try:
                    watch.lost(f"error {code}: {error_text(exc)}", resume=self.resume.describe())
                except KbgraphError as e:
                    raise SourceError(str(e).replace("the last committed batch", self.resume.describe())) from None
                self.reconnects += 1
                self.reconnected_at.append(self.resume)
                self._close_stream()
                ctx.stopping.wait(min(2.0, 0.1 * self.reconnects))
            except pymysql.err.MySQLError as exc:
                raise stream_error(exc, self.conn.where(), self.resume.describe()) from None
            except Exception as exc:
                if type(exc).__name__ == "BinLogNotEnabled":
                    raise stream_error(exc, self.conn.where(), self.resume.describe()) from None
                raise
            finally:
                first = False
                self._close_stream()

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
                f"the checkpoint holds only a GTID ({pos.gtid}); kbgraph resumes from binlog file/pos: {self._resnap()}"
            )
        logs = server.binary_logs(self._ctl)
        assert pos.file is not None and pos.pos is not None
        if pos.file not in logs:
            raise SourceError(
                f"binlog file {pos.file} of the checkpoint ({pos.describe()}) is no longer on {self.conn.where()} "
                f"(purged? the server has {', '.join(sorted(logs)) or 'none'}); {self._resnap()}"
            )
        if pos.pos > logs[pos.file]:
            raise SourceError(
                f"binlog position {pos.describe()} lies beyond the end of {pos.file} ({logs[pos.file]} bytes); {self._resnap()}"
            )
        if self._mariadb and not pos.gtid and pos.index == 0:
            pos = Position(pos.file, pos.pos, server.mariadb_gtid_at(self._ctl, pos.file, pos.pos), 0)
        return pos

    @staticmethod
    def _resnap() -> str:
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
        )
        return self._stream

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # closing a dead socket
                pass
            self._stream = None

    def _read(self, start: Position, ctx: SourceContext) -> Iterator[Change]:
        stream = self._open(start)
        gtids: MariaGtidState | MysqlGtidState = (MariaGtidState if self._mariadb else MysqlGtidState)(start.gtid)
        file = start.file
        skip = start.index
        in_tx = False
        began = False  # BEGIN seen: a QueryEvent now is part of the transaction, not standalone DDL
        tx_file, tx_pos, tx_id, tx_gtid = file, start.pos, None, None
        gtid_before = str(gtids)  # the GTID state before the current transaction
        count = 0  # mapped changes of the current transaction so far (skipped ones included)
        held: Change | None = None
        done = [False]  # reached `until`
        stopping = ctx.stopping
        tables = self.tables

        def commit(end: int) -> Change | None:
            nonlocal in_tx, began, skip, held, count, tx_gtid
            if tx_gtid is not None:
                if isinstance(gtids, MariaGtidState):
                    gtids.add(tx_gtid[0], tx_gtid[1])
                else:
                    gtids.add(tx_gtid[1])
            after = Position(file, end, str(gtids), 0)
            out = held
            if out is not None:
                out.position = after.fragment()
                out.tx_end = True
            self._resume = out.position if out is not None else after.fragment()
            if self.until is not None and (file or "", end) >= self.until:
                done[0] = True
            in_tx = began = False
            skip = count = 0
            held = tx_gtid = None
            return out

        for ev in stream:
            self.events += 1
            if self._watch is not None and self._watch.current is not None:
                self._watch.back()  # the server answers again
            if stopping.is_set() or done[0]:
                return
            cls = type(ev)
            if cls is WriteRowsEvent or cls is UpdateRowsEvent or cls is DeleteRowsEvent:
                schema, table = ev.schema, ev.table
                if not tables.matches(schema, table):
                    continue
                if not in_tx:  # rows outside BEGIN (should not happen): a transaction of their own
                    in_tx, tx_file, tx_pos, tx_id = True, file, ev.packet.log_pos - ev.packet.event_size, None
                    gtid_before = str(gtids)
                if self._table_ids.get((schema, table)) != ev.table_id:
                    # a table map not seen before: the table's columns first seen, or seen again after DDL
                    # (also DDL the binlog does not hold, e.g. run with sql_log_bin=0): every mapped column
                    # must be there (its name is logged with binlog_row_metadata=FULL)
                    names = [c.name for c in ev.columns]
                    if all(isinstance(n, str) and n for n in names):
                        tables.check_columns(schema, table, names)
                    if (schema, table) in self._table_ids:
                        self._fixers.pop((schema, table), None)  # its column types may have changed too
                    self._table_ids[(schema, table)] = ev.table_id
                fixer = self._fixer(schema, table)
                ts_ms = ev.timestamp * 1000
                tx = tx_id or f"{tx_file}:{tx_pos}"
                if cls is WriteRowsEvent:
                    op, key_b, key_a = "insert", None, "values"
                elif cls is UpdateRowsEvent:
                    op, key_b, key_a = "update", "before_values", "after_values"
                else:
                    op, key_b, key_a = "delete", "values", None
                for row_index, row in enumerate(ev.rows):
                    count += 1
                    if count <= skip:
                        continue
                    before = after = None
                    if key_b is not None:
                        before = row[key_b]
                        if fixer:
                            fixer(before, row["before_none_sources" if op == "update" else "none_sources"])
                    if key_a is not None:
                        after = row[key_a]
                        if fixer:
                            fixer(after, row["after_none_sources" if op == "update" else "none_sources"], True)
                    if held is not None:
                        held.position = self._resume = {"file": tx_file, "pos": tx_pos, "gtid": gtid_before,
                                                        "index": count - 1}
                        yield held
                    held = Change(table, op, before, after, {}, schema, tx, False, ts_ms)  # type: ignore[arg-type]
                    if self.describe_events:
                        held.meta = {"binlog": {"file": file, "pos": ev.packet.log_pos - ev.packet.event_size, "row": row_index,
                                                "server_id": ev.packet.server_id, "gtid": tx_id}}
            elif cls is XidEvent or cls is XAPrepareEvent:  # an XA transaction is applied when prepared
                out = commit(ev.packet.log_pos)
                if out is not None:
                    yield out
                if done[0]:
                    return
            elif cls is MariadbGtidEvent or cls is GtidEvent:
                if held is not None:
                    raise SourceError(
                        f"the binlog at {file}:{ev.packet.log_pos} starts transaction {ev.gtid} before the previous one "
                        f"({tx_id}) committed; the stream is inconsistent — {self._resnap()}"
                    )
                in_tx, began, count = True, False, 0
                tx_file, tx_pos, tx_id = file, ev.packet.log_pos - ev.packet.event_size, ev.gtid
                gtid_before = str(gtids)
                if cls is MariadbGtidEvent:
                    tx_gtid = (ev.domain_id, ev.gtid)
                elif any(ev.sid):
                    tx_gtid = (0, ev.gtid)
                else:  # MySQL's anonymous transaction (gtid_mode OFF): no GTID to record
                    tx_gtid, tx_id = None, None
            elif cls is QueryEvent:
                query = ev.query.strip()
                fast = _FAST_CONTROL.get(query.upper())
                if fast == "begin":
                    if not in_tx:
                        in_tx, tx_file, tx_pos, tx_id, tx_gtid = True, file, ev.packet.log_pos - ev.packet.event_size, None, None
                        gtid_before = str(gtids)
                    began = True
                    continue
                if fast == "commit":
                    out = commit(ev.packet.log_pos)
                    if out is not None:
                        yield out
                    if done[0]:
                        return
                    continue
                schema = ev.schema.decode() if isinstance(ev.schema, bytes) else (ev.schema or "")
                where = f"{file}:{ev.packet.log_pos - ev.packet.event_size}"
                truncated, touched = statement_changes(
                    classify(query), schema or None, where, tables, self.on_ddl, self.on_truncate
                )
                for key in touched:
                    self._fixers.pop(key, None)  # their columns may have changed
                for change in truncated:
                    count += 1
                    if count <= skip:
                        continue
                    if held is not None:
                        held.position = self._resume = {"file": tx_file, "pos": tx_pos, "gtid": gtid_before,
                                                        "index": count - 1}
                        yield held
                    change.tx = tx_id or f"{tx_file}:{tx_pos}"
                    change.ts_ms = ev.timestamp * 1000
                    if self.describe_events:
                        change.meta = {"binlog": {"file": file, "pos": ev.packet.log_pos - ev.packet.event_size, "row": 0,
                                                  "server_id": ev.packet.server_id, "gtid": tx_id}}
                    held = change
                if not began:  # a standalone statement (DDL) is its own transaction
                    out = commit(ev.packet.log_pos)
                    if out is not None:
                        yield out
                    if done[0]:
                        return
            elif cls is RotateEvent:
                file = ev.next_binlog
            # HeartbeatLogEvent: only wakes us up to look at `stopping`

    def _fixer(self, schema: str, table: str) -> RowFixer:
        fixer = self._fixers.get((schema, table))
        if fixer is None:
            try:
                assert self._ctl is not None
                self._ctl.ping()
            except pymysql.err.MySQLError:
                self._ctl = self.conn.connect()
            fixer = self._fixers[(schema, table)] = RowFixer(table_columns(self._ctl, schema, table, self._mariadb),
                                                             json_text=self.describe_events, where=f"{schema}.{table}",
                                                             gaps=self.unrepresentable)
        return fixer
