"""Each bad case of the binlog source gives one clear line (a SourceError), never a traceback."""

from __future__ import annotations

import threading
import time

import pytest

from kbgraph.errors import SourceError
from kbgraph.sources import StandaloneContext as Ctx
from kbgraph.sources.binlog.position import Position
from kbgraph.sources.binlog.reader import BinlogSource
from kbgraph.sources.binlog.server import ConnInfo
from kbgraph.sources.binlog.tables import MappedTables
from tests.support.binlog import conn_info, position_now, read_all, source, sql

pytestmark = pytest.mark.integration


def _error(src: BinlogSource, start: dict | None = None) -> str:
    with pytest.raises(SourceError) as info:
        read_all(src, start)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def _table(url: str, db: str) -> None:
    sql(url, "CREATE TABLE a (id INT PRIMARY KEY)", db=db)


def test_wrong_password(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    base = conn_info(mysql_url)
    bad = ConnInfo(base.host, base.port, "kbgraph", "not-the-password")
    text = _error(BinlogSource(bad, MappedTables({(mysql_db, "a")}), blocking=False, initial="current"))
    assert "refused the login" in text and "1045" in text and "not-the-password" not in text


def test_refused_connection(mysql_db: str) -> None:
    text = _error(BinlogSource(ConnInfo("127.0.0.1", 1), MappedTables({(mysql_db, "a")}), blocking=False))
    assert "cannot connect to MySQL at root@127.0.0.1:1" in text and "2003" in text


def test_no_checkpoint_asks_for_a_snapshot(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    assert "run `kbgraph snapshot` first" in _error(source(mysql_url, mysql_db, ["a"]))


def test_interrupted_snapshot_is_not_synced_over(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    now = position_now(mysql_url)
    cp = {**now.fragment(), "snapshot": {"done": False, "table": f"{mysql_db}.a", "after": [10]}}
    assert "snapshot of this pipeline was interrupted" in _error(source(mysql_url, mysql_db, ["a"]), cp)


def test_purged_file(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    text = _error(source(mysql_url, mysql_db, ["a"]), {"file": "mariadb-bin.999999", "pos": 4, "gtid": "", "index": 0})
    assert "mariadb-bin.999999" in text and "no longer on" in text and "kbgraph snapshot" in text


def test_position_beyond_the_end(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    now = position_now(mysql_url)
    text = _error(source(mysql_url, mysql_db, ["a"]), Position(now.file, now.pos + 10_000_000).fragment())
    assert "beyond the end" in text


def test_position_inside_an_event(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    now = position_now(mysql_url)
    sql(mysql_url, "INSERT INTO a VALUES (1)", db=mysql_db)
    text = _error(source(mysql_url, mysql_db, ["a"]), Position(now.file, now.pos + 7).fragment())
    assert "cannot stream from binlog position" in text or "error 1236" in text, text


def test_gtid_only_checkpoint(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    text = _error(source(mysql_url, mysql_db, ["a"]), {"gtid": "0-1-5"})
    assert "holds only a GTID" in text


def test_server_without_full_row_metadata_is_refused(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    sql(mysql_url, "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    try:
        text = _error(source(mysql_url, mysql_db, ["a"], initial="current"))
    finally:
        sql(mysql_url, "SET GLOBAL binlog_row_metadata = 'FULL'")
    assert "set binlog_row_metadata=FULL (it is MINIMAL)" in text


def test_user_without_replication_privilege(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    user = f"{mysql_db}_u"[:32]
    sql(mysql_url, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'", f"GRANT SELECT, REPLICATION CLIENT ON *.* TO '{user}'@'%'")
    try:
        base = conn_info(mysql_url)
        src = BinlogSource(ConnInfo(base.host, base.port, user, "pw"), MappedTables({(mysql_db, "a")}),
                           blocking=False, initial="current", server_id=4901)
        text = _error(src)
    finally:
        sql(mysql_url, f"DROP USER '{user}'@'%'")
    assert "lacks a privilege" in text and "REPLICATION SLAVE" in text


def test_second_reader_with_the_same_server_id(mysql_url: str, mysql_db: str) -> None:
    _table(mysql_url, mysql_db)
    now = position_now(mysql_url)
    first = source(mysql_url, mysql_db, ["a"], blocking=True, server_id=4902, initial=now)
    ctx = Ctx()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in first.changes({}, ctx):
                pass
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(1.0)  # the first reader is streaming
    second = source(mysql_url, mysql_db, ["a"], blocking=True, server_id=4902, initial=now)
    ctx2 = Ctx()
    try:
        it = second.changes({}, ctx2)
        sql(mysql_url, "INSERT INTO a VALUES (1)", db=mysql_db)
        next(it)
    except SourceError as exc:
        errors.append(exc)
    finally:
        ctx.stopping.set()
        ctx2.stopping.set()
        t.join(10)
        first.close()
        second.close()
    assert errors, "neither reader noticed the other"
    assert all(isinstance(e, SourceError) and "same server_id" in str(e) for e in errors), errors


def test_an_outage_longer_than_the_limit_gives_one_line(tmp_path) -> None:
    """The server goes away for good: the reader retries (tenacity), then stops with the outage line."""
    from tests.support.own_mariadb import OwnMariaDB, skip_reason

    if skip_reason():
        pytest.skip(skip_reason())
    server = OwnMariaDB(tmp_path / "own-mariadb", server_id=93).install().start()
    try:
        sql(server.url, "CREATE DATABASE gone", "CREATE TABLE gone.a (id INT PRIMARY KEY)")
        src = source(server.url, "gone", ["a"], initial=position_now(server.url), blocking=True, reconnect_s=1.0)
        ctx, got, failed = Ctx(), [], []

        def run() -> None:
            try:
                got.extend(src.changes({}, ctx))
            except SourceError as e:
                failed.append(str(e))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        sql(server.url, "INSERT INTO gone.a VALUES (1)")
        deadline = time.monotonic() + 60
        while not src.events and time.monotonic() < deadline:
            time.sleep(0.1)
        server.stop()
        t.join(120)
        ctx.stopping.set()
        src.close()
    finally:
        server.stop()  # no-op when stopped already
    assert not t.is_alive(), "the reader kept waiting past its outage limit"
    assert failed and failed[0].startswith(f"MySQL at {conn_info(server.url).where()} (binlog) has been unreachable"), failed
    assert "longer than the outage limit of 1 s" in failed[0] and src.reconnects >= 1
    assert "the last committed batch" not in failed[0] and "\n" not in failed[0]
