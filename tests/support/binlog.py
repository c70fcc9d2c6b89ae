"""Binlog and snapshot helpers of the integration tests: SQL, positions, a binlog source, runs into the graph."""

from __future__ import annotations

import threading
from typing import Any

import pymysql

from kbgraph.change import Change
from kbgraph.sources import StandaloneContext
from kbgraph.sources.binlog.position import Position
from kbgraph.sources.binlog.reader import BinlogSource
from kbgraph.sources.binlog.server import ConnInfo, current_position
from kbgraph.sources.binlog.tables import MappedTables
from tests.support.graph import target_of as target_of  # re-exported: the binlog tests import it from here
from tests.support.mysql import mysql_connect


def conn_info(url: str) -> ConnInfo:
    return ConnInfo.from_url(url)


def sql(url: str, *statements: str, db: str | None = None) -> None:
    conn = mysql_connect(url, db)
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


def position_now(url: str) -> Position:
    conn = mysql_connect(url)
    try:
        return Position(*current_position(conn))
    finally:
        conn.close()


def source(url: str, db: str, tables: list[str], columns: dict[str, set[str]] | None = None, **kw: Any) -> BinlogSource:
    cols = columns or {}
    kw.setdefault("blocking", False)
    kw.setdefault("server_id", 4300 + threading.get_ident() % 500)
    return BinlogSource(
        conn_info(url), MappedTables({(db, t) for t in tables}, lambda s, t: cols.get(t, set())), **kw
    )


def read_all(src: BinlogSource, start: dict[str, Any] | None = None, limit: int | None = None) -> list[Change]:
    out: list[Change] = []
    try:
        for ch in src.changes(start or {}, StandaloneContext()):
            out.append(ch)
            if limit is not None and len(out) >= limit:
                break
    finally:
        src.close()
    return out


def merged(changes: list[Change], base: dict[str, Any] | None = None) -> dict[str, Any]:
    cp = dict(base or {})
    for ch in changes:
        cp.update(ch.position)
    return cp


def essence(changes: list[Change]) -> list[tuple[Any, ...]]:
    """What must be equal between two reads of the same stretch of binlog."""
    return [(c.schema, c.table, c.op, _freeze(c.before), _freeze(c.after), c.tx, c.tx_end) for c in changes]


def _freeze(row: dict[str, Any] | None) -> Any:
    if row is None:
        return None
    return tuple(sorted((k, tuple(sorted(v)) if isinstance(v, set) else v) for k, v in row.items()))


def dump_thread_ids(url: str) -> list[int]:
    conn = mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%%'")
            return [int(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


def kill(url: str, ids: list[int]) -> None:
    conn = mysql_connect(url)
    try:
        with conn.cursor() as cur:
            for i in ids:
                try:
                    cur.execute(f"KILL {int(i)}")
                except pymysql.err.OperationalError:
                    pass  # already gone
    finally:
        conn.close()


# -- end to end: the pipeline into the graph ----------------------------------------------


def compile_yaml(tmp_path: Any, text: str) -> Any:
    from kbgraph.mapping import compile_mappings

    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return compile_mappings([path])


def snapshot_into(url: str, mapping: Any, target: Any, name: str, chunk: int = 1000, batch_size: int = 2000) -> Any:
    """Run the snapshot through the pipeline; returns (stats, source)."""
    from kbgraph.pipeline import Pipeline
    from kbgraph.sources.snapshot import SnapshotSource

    src = SnapshotSource(conn_info(url), MappedTables.from_mapping(mapping), chunk=chunk)
    stats = Pipeline(mapping, target, name=name, batch_size=batch_size, flush_ms=10_000).run(src)
    return stats, src


def sync_into(url: str, mapping: Any, target: Any, name: str, batch_size: int = 2000, **kw: Any) -> Any:
    """Run the binlog source through the pipeline until the end of the binlog."""
    from kbgraph.pipeline import Pipeline

    kw.setdefault("server_id", 4600 + threading.get_ident() % 300)
    src = BinlogSource(conn_info(url), MappedTables.from_mapping(mapping), blocking=False, **kw)
    return Pipeline(mapping, target, name=name, batch_size=batch_size, flush_ms=10_000).run(src)


def scratch_dump(url: str, mapping: Any, target: Any, driver: Any) -> Any:
    """Reset the graph, load the current rows from scratch (a snapshot), and dump it."""
    from kbgraph.graph.schema import apply_schema
    from kbgraph.verify import dump_graph, reset_graph

    reset_graph(driver, target.database)
    apply_schema(driver, target.database, mapping)
    stats, _ = snapshot_into(url, mapping, target, "scratch")
    assert stats.counts.dead_letters == 0
    return dump_graph(driver, target.database)
