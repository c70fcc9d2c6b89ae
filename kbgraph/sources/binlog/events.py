"""One pass over the binlog stream: events in, ``Change`` objects out, and the transaction being read.

Transactions: MariaDB writes GTID (+ BEGIN) … rows … ``XidEvent`` (InnoDB) or ``QueryEvent
'COMMIT'`` (non-transactional engines); a DDL statement is a GTID followed by one QueryEvent.
MySQL writes GTID, BEGIN … rows … Xid. An XA transaction is applied when it is prepared
(``XAPrepareEvent``). ``StreamPass`` holds back the latest change until the next event shows
whether it ends its transaction, so ``tx_end`` is exact; each change carries the position a
restart resumes from (``position.py``).

XA ROLLBACK of a prepared transaction: its changes were delivered at the prepare. When this
process read that transaction from its GTID event to its prepare and it had no change of a mapped
table, the rollback is logged and passed; otherwise (mapped changes, or a transaction not read
whole) the policy stops.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pymysqlreplication.event import (
    GtidEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XAPrepareEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from kbgraph.change import Change, Op
from kbgraph.errors import SourceError
from kbgraph.sources.binlog.ddl import classify
from kbgraph.sources.binlog.policy import statement_changes
from kbgraph.sources.binlog.position import MariaGtidState, MysqlGtidState, Position

if TYPE_CHECKING:
    from kbgraph.sources.binlog.reader import BinlogSource

log = logging.getLogger(__name__)

# row event class → (op, before key, after key, before none-sources key, after none-sources key)
_ROWS: dict[type, tuple[Op, str | None, str | None, str, str]] = {
    WriteRowsEvent: ("insert", None, "values", "", "none_sources"),
    UpdateRowsEvent: ("update", "before_values", "after_values", "before_none_sources", "after_none_sources"),
    DeleteRowsEvent: ("delete", "values", None, "none_sources", ""),
}
_FAST_CONTROL = {"BEGIN": "begin", "COMMIT": "commit", "ROLLBACK": "commit"}
# the XID of a logged XA statement: X'hex',X'hex',format (as the server logs it) or 'gtrid'[,'bqual'[,format]]
_XID_HEX = re.compile(r"X'([0-9a-fA-F]*)'\s*,\s*X'([0-9a-fA-F]*)'\s*,\s*(\d+)")
_XID_STR = re.compile(r"'((?:[^'\\]|'')*)'(?:\s*,\s*'((?:[^'\\]|'')*)')?(?:\s*,\s*(\d+))?")

Xid = tuple[int, bytes, bytes]  # format id, gtrid, bqual


def statement_xid(query: str) -> Xid | None:
    """The XID an ``XA …`` statement names, None when it cannot be read."""
    m = _XID_HEX.search(query)
    if m:
        return int(m[3]), bytes.fromhex(m[1]), bytes.fromhex(m[2])
    m = _XID_STR.search(query)
    if m:
        return int(m[3] or 1), m[1].replace("''", "'").encode(), (m[2] or "").replace("''", "'").encode()
    return None


class StreamPass:
    """Reads one connection's stream from ``start``; holds the state of the transaction being read."""

    def __init__(self, src: BinlogSource, start: Position) -> None:
        self.src = src
        self.gtids: MariaGtidState | MysqlGtidState = (MariaGtidState if src.mariadb else MysqlGtidState)(start.gtid)
        self.file = start.file
        self.skip = start.index  # changes of the first transaction delivered before
        self.in_tx = False
        self.began = False  # BEGIN seen: a QueryEvent now is part of the transaction, not standalone DDL
        self.tx_file, self.tx_pos = start.file, start.pos
        self.tx_id: str | None = None
        self.tx_gtid: tuple[int, str] | None = None
        self.gtid_before = str(self.gtids)  # the GTID state before the current transaction
        self.count = 0  # mapped changes of the current transaction so far (skipped ones included)
        self.held: Change | None = None
        self.done = False  # reached `until`
        self.tx_from_start = False  # this pass saw the current transaction's GTID event
        self.tx_changes = 0  # mapped changes since that GTID event (an XA commits at XA START / END too)

    def changes(self, stream: Iterable[Any], stopping: threading.Event) -> Iterator[Change]:
        src = self.src
        for ev in stream:
            src.events += 1
            src.heard_from_server()
            if stopping.is_set() or self.done:
                return
            cls = type(ev)
            if cls in _ROWS:
                yield from self._rows(ev)
            elif cls is XidEvent or cls is XAPrepareEvent:
                if cls is XAPrepareEvent and self.tx_from_start and not self.tx_changes:
                    src.xa_unmapped.add((ev.xid_format_id, ev.xid_gtrid, ev.xid_bqual))
                yield from self._commit(ev.packet.log_pos)
            elif cls is MariadbGtidEvent or cls is GtidEvent:
                self._gtid(ev)
            elif cls is QueryEvent:
                yield from self._query(ev)
            elif cls is RotateEvent:
                self.file = ev.next_binlog
            # HeartbeatLogEvent: only wakes us up to look at `stopping`
            if self.done:
                return

    # ------------------------------------------------------------------ transactions

    def _begin(self, pos: int, tx_id: str | None) -> None:
        self.in_tx, self.tx_file, self.tx_pos, self.tx_id = True, self.file, pos, tx_id
        self.gtid_before = str(self.gtids)

    def _gtid(self, ev: Any) -> None:
        if self.held is not None:
            raise SourceError(
                f"the binlog at {self.file}:{ev.packet.log_pos} starts transaction {ev.gtid} before the previous one "
                f"({self.tx_id}) committed; the stream is inconsistent — {self.src.resnap()}"
            )
        self._begin(_start_of(ev), ev.gtid)
        self.began, self.count, self.tx_from_start, self.tx_changes = False, 0, True, 0
        if type(ev) is MariadbGtidEvent:
            self.tx_gtid = (ev.domain_id, ev.gtid)
        elif any(ev.sid):
            self.tx_gtid = (0, ev.gtid)
        else:  # MySQL's anonymous transaction (gtid_mode OFF): no GTID to record
            self.tx_gtid, self.tx_id = None, None

    def _commit(self, end: int) -> Iterator[Change]:
        """The transaction ends at ``end``: its held change is the last one."""
        if self.tx_gtid is not None:
            if isinstance(self.gtids, MariaGtidState):
                self.gtids.add(*self.tx_gtid)
            else:
                self.gtids.add(self.tx_gtid[1])
        after = Position(self.file, end, str(self.gtids), 0).fragment()
        out, src = self.held, self.src
        src.resume_at(after)
        if src.until is not None and (self.file or "", end) >= src.until:
            self.done = True
        self.in_tx = self.began = False
        self.skip = self.count = 0
        self.held = self.tx_gtid = None
        if out is not None:
            out.position, out.tx_end = after, True
            yield out

    def _counted(self) -> bool:
        """Counts one mapped change of the transaction; False when it was delivered before (skip it)."""
        self.count += 1
        self.tx_changes += 1
        return self.count > self.skip

    def _hold(self, change: Change) -> Iterator[Change]:
        """Holds ``change`` back and yields the one held before (not the last of its transaction)."""
        if self.held is not None:
            self.held.position = {"file": self.tx_file, "pos": self.tx_pos, "gtid": self.gtid_before,
                                  "index": self.count - 1}
            self.src.resume_at(self.held.position)
            yield self.held
        self.held = change

    def _meta(self, ev: Any, row: int) -> dict[str, Any] | None:
        if not self.src.describe_events:
            return None
        return {"binlog": {"file": self.file, "pos": _start_of(ev), "row": row, "server_id": ev.packet.server_id,
                           "gtid": self.tx_id}}

    # ------------------------------------------------------------------ events

    def _rows(self, ev: Any) -> Iterator[Change]:
        src = self.src
        schema, table = ev.schema, ev.table
        if not src.tables.matches(schema, table):
            return
        if not self.in_tx:  # rows outside BEGIN (should not happen): a transaction of their own
            self._begin(_start_of(ev), None)
        src.check_table_map(schema, table, ev)
        fixer = src.fixer(schema, table)
        ts_ms = ev.timestamp * 1000
        tx = self.tx_id or f"{self.tx_file}:{self.tx_pos}"
        op, key_b, key_a, none_b, none_a = _ROWS[type(ev)]
        for row_index, row in enumerate(ev.rows):
            if not self._counted():
                continue
            before = after = None
            if key_b is not None:
                before = row[key_b]
                if fixer:
                    fixer(before, row[none_b])
            if key_a is not None:
                after = row[key_a]
                if fixer:
                    fixer(after, row[none_a], True)
            yield from self._hold(Change(table, op, before, after, {}, schema, tx, False, ts_ms, self._meta(ev, row_index)))

    def _query(self, ev: Any) -> Iterator[Change]:
        query = ev.query.strip()
        fast = _FAST_CONTROL.get(query.upper())
        if fast == "begin":
            if not self.in_tx:
                self._begin(_start_of(ev), None)
                self.tx_gtid = None
            self.began = True
            return
        if fast == "commit":
            yield from self._commit(ev.packet.log_pos)
            return
        src = self.src
        schema = ev.schema.decode() if isinstance(ev.schema, bytes) else (ev.schema or "")
        where = f"{self.file}:{_start_of(ev)}"
        st = classify(query)
        if st.kind == "xa_rollback" and self._unmapped_xa(query, where):
            st.kind = "control"
        elif st.kind == "control" and query[:9].upper() == "XA COMMIT" and (xid := statement_xid(query)):
            src.xa_unmapped.discard(xid)
        truncated, touched = statement_changes(st, schema or None, where, src.tables, src.on_ddl, src.on_truncate)
        src.forget_fixers(touched)  # their columns may have changed
        for change in truncated:
            if not self._counted():
                continue
            change.tx = self.tx_id or f"{self.tx_file}:{self.tx_pos}"
            change.ts_ms = ev.timestamp * 1000
            change.meta = self._meta(ev, 0)
            yield from self._hold(change)
        if not self.began:  # a standalone statement (DDL) is its own transaction
            yield from self._commit(ev.packet.log_pos)

    def _unmapped_xa(self, query: str, where: str) -> bool:
        """An XA ROLLBACK of a transaction this process saw prepared, with no change of a mapped table."""
        xid = statement_xid(query)
        if xid is None or xid not in self.src.xa_unmapped:
            return False
        self.src.xa_unmapped.discard(xid)
        log.info("the binlog at %s rolls back prepared XA transaction %r, which changed no mapped table; continuing",
                 where, xid[1])
        return True


def _start_of(ev: Any) -> int:
    return int(ev.packet.log_pos - ev.packet.event_size)
