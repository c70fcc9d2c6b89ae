"""The binlog reader alone against the real MariaDB binlog: values, transactions, exact resume,
log rotation, a killed connection, DDL / TRUNCATE / statement-format detection."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kbgraph.errors import StopAtCheckpoint
from kbgraph.sources import StandaloneContext as Ctx
from tests.support.binlog import (
    dump_thread_ids,
    essence,
    kill,
    merged,
    position_now,
    read_all,
    source,
    sql,
)

pytestmark = pytest.mark.integration

TYPES_DDL = """CREATE TABLE t (
  id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, bu BIGINT UNSIGNED, fl FLOAT, db DOUBLE,
  de DECIMAL(12,4), ch CHAR(5), vc VARCHAR(300), tx TEXT, bl BLOB, vb VARBINARY(10), bn BINARY(4),
  uu UUID, i6 INET6, en ENUM('a','b'), st SET('x','y','z'), d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL,
  tm TIME(6), yr YEAR, bt BIT(10), js JSON)"""

TYPES_ROWS = [
    "INSERT INTO t VALUES (1, -5, 250, 18446744073709551615, 1.1, 0.30000000000000004, -12345678.1234, 'ab', "
    "'中文😀', 'long text', '', '', 'a', '00000000-0000-0000-0000-000000000000', '2001:db8::', 'b', '', "
    "'0000-00-00', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5', '-00:00:01.25', 2024, b'1010', "
    "'{\"a\": [1, 2], \"b\": {\"c\": null}}')",
    "INSERT INTO t VALUES (2, NULL, NULL, 0, 1.2345678, 1e300, 0.0001, NULL, NULL, NULL, x'00ff00', x'0100', "
    "x'01000000', '12345678-1234-1234-1234-123456780000', '::ffff:10.0.0.1', NULL, 'z,x', '2024-02-29', "
    "'0000-00-00 00:00:00', NULL, '-12:34:56.000001', 0, 0, '[1, \"x\"]')",
]

EXPECTED = {
    1: {"id": 1, "ti": -5, "tu": 250, "bu": 18446744073709551615, "fl": 1.1, "db": 0.30000000000000004,
        "de": Decimal("-12345678.1234"), "ch": "ab", "vc": "中文😀", "tx": "long text", "bl": b"", "vb": b"",
        "bn": b"a\x00\x00\x00", "uu": "00000000-0000-0000-0000-000000000000", "i6": "2001:db8::", "en": "b",
        "st": set(), "d": None, "dt": datetime(2024, 1, 2, 3, 4, 5, 123456),
        "ts": datetime(2024, 1, 1, 22, 4, 5, 500000, tzinfo=timezone.utc), "tm": -timedelta(seconds=1.25),
        "yr": 2024, "bt": 10, "js": {"a": [1, 2], "b": {"c": None}}},
    2: {"id": 2, "ti": None, "tu": None, "bu": 0, "fl": 1.2345678, "db": 1e300, "de": Decimal("0.0001"),
        "ch": None, "vc": None, "tx": None, "bl": b"\x00\xff\x00", "vb": b"\x01\x00", "bn": b"\x01\x00\x00\x00",
        "uu": "12345678-1234-1234-1234-123456780000", "i6": "::ffff:10.0.0.1", "en": None, "st": {"x", "z"},
        "d": date(2024, 2, 29), "dt": None, "ts": None,
        "tm": -timedelta(hours=12, minutes=34, seconds=56, microseconds=1), "yr": 0, "bt": 0, "js": [1, "x"]},
}


def test_every_type_arrives_normalised(mysql_url: str, mysql_db: str) -> None:
    sql(mysql_url, TYPES_DDL, "SET sql_mode = ''", db=mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "SET sql_mode = ''", "SET time_zone = '+05:00'", *TYPES_ROWS,
        "UPDATE t SET vc = 'v' WHERE id = 2", db=mysql_db)
    changes = read_all(source(mysql_url, mysql_db, ["t"], initial=start))
    assert [c.op for c in changes] == ["insert", "insert", "update"]
    for c in changes[:2]:
        assert c.after == EXPECTED[c.after["id"]], c.after
    upd = changes[2]
    assert upd.before == EXPECTED[2]
    assert upd.after == {**EXPECTED[2], "vc": "v"}
    assert all(c.schema == mysql_db and c.table == "t" and c.tx_end for c in changes)


def _workload(url: str, db: str) -> None:
    sql(url,
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
        "CREATE TABLE other (id INT PRIMARY KEY)",
        db=db)


def test_transactions_group_and_resume_exactly_inside_one(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url,
        "INSERT INTO a VALUES (1, 'one')",
        "BEGIN", "INSERT INTO a VALUES (2, 'x'), (3, 'y')", "INSERT INTO other VALUES (1)",
        "UPDATE a SET v = 'z' WHERE id >= 2", "DELETE FROM a WHERE id = 1", "COMMIT",
        "INSERT INTO other VALUES (2)",
        "INSERT INTO a VALUES (9, 'last')",
        db=mysql_db)
    full = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
    assert [c.op for c in full] == ["insert", "insert", "insert", "update", "update", "delete", "insert"]
    assert [c.tx_end for c in full] == [True, False, False, False, False, True, True]
    assert len({c.tx for c in full[1:6]}) == 1 and full[0].tx != full[1].tx
    # mid-transaction positions name the transaction's start and how many of it are done
    assert [c.position["index"] for c in full[1:6]] == [1, 2, 3, 4, 0]
    for k in range(len(full)):
        cp = merged(full[: k + 1])
        rest = read_all(source(mysql_url, mysql_db, ["a"]), cp)
        assert essence(rest) == essence(full[k + 1:]), f"resume after change {k}"


def test_resume_across_log_rotation(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "INSERT INTO a VALUES (1, 'before')", "FLUSH BINARY LOGS",
        "INSERT INTO a VALUES (2, 'after')", "FLUSH BINARY LOGS", "UPDATE a SET v = 'again'", db=mysql_db)
    full = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
    assert [c.op for c in full] == ["insert", "insert", "update", "update"]
    files = [c.position["file"] for c in full]
    assert files[0] != files[1] != files[2], files
    for k in range(len(full)):
        rest = read_all(source(mysql_url, mysql_db, ["a"]), merged(full[: k + 1]))
        assert essence(rest) == essence(full[k + 1:])


def test_killed_connection_mid_transaction_loses_and_repeats_nothing(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    sql(mysql_url, "ALTER TABLE a MODIFY v VARCHAR(300)", db=mysql_db)
    start = position_now(mysql_url)
    pad = "p" * 250
    values = ",".join(f"({i}, '{pad}')" for i in range(20000))  # ~5 MB: more than the socket buffers
    sql(mysql_url, "BEGIN", f"INSERT INTO a VALUES {values}", "UPDATE a SET v = 'w' WHERE id < 10000", "COMMIT",
        "INSERT INTO a VALUES (50000, 'tail')", db=mysql_db)
    expected = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
    assert len(expected) == 30001
    src = source(mysql_url, mysql_db, ["a"], initial=start, blocking=True)
    got = []
    ctx = Ctx()
    try:
        for ch in src.changes({}, ctx):
            got.append(ch)
            if len(got) in (3000, 15000, 24000):  # inside the big transaction: the insert, then the update
                # the client may still be reading what was buffered before an earlier kill: kill what is there
                kill(mysql_url, dump_thread_ids(mysql_url))
            if len(got) == len(expected):
                ctx.stopping.set()
    finally:
        src.close()
    assert essence(got) == essence(expected)
    assert [c.position for c in got] == [c.position for c in expected]
    assert any(p.index > 0 for p in src.reconnected_at), src.reconnected_at  # a drop inside the transaction
    from pymysqlreplication import binlogstream

    assert binlogstream.MYSQL_EXPECTED_ERROR_CODES == [2013, 2006]  # the library's own list stays as it ships


def test_ddl_on_a_mapped_column_stops_after_what_came_before(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "INSERT INTO a VALUES (1, 'x')", "ALTER TABLE a MODIFY v VARCHAR(50)",
        "INSERT INTO a VALUES (2, 'y')", db=mysql_db)
    src = source(mysql_url, mysql_db, ["a"], {"a": {"id", "v"}}, initial=start, on_ddl="continue_unmapped")
    got = []
    with pytest.raises(StopAtCheckpoint, match=rf"alters mapped table {mysql_db}\.a .*mapped column"):
        for ch in src.changes({}, Ctx()):
            got.append(ch)
    src.close()
    assert [c.after["id"] for c in got] == [1]


def test_ddl_policy(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "ALTER TABLE a ADD COLUMN extra INT", "ALTER TABLE other ADD COLUMN w INT",
        "INSERT INTO a VALUES (1, 'x', 7)", db=mysql_db)
    # continue: the ALTER touches no mapped column
    got = read_all(source(mysql_url, mysql_db, ["a"], {"a": {"id", "v"}}, initial=start, on_ddl="continue_unmapped"))
    assert [c.after for c in got] == [{"id": 1, "v": "x", "extra": 7}]
    # stop (the default): any DDL on a mapped table
    with pytest.raises(StopAtCheckpoint, match=r"alters mapped table .*binlog_ddl=continue_unmapped"):
        read_all(source(mysql_url, mysql_db, ["a"], {"a": {"id", "v"}}, initial=start))


@pytest.mark.parametrize("statement, what", [
    ("DROP TABLE a", "drops"), ("RENAME TABLE a TO a2", "renames"), ("ALTER TABLE a RENAME TO a3", "renames"),
])
def test_drop_and_rename_stop(mysql_url: str, mysql_db: str, statement: str, what: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, statement, "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))", db=mysql_db)
    with pytest.raises(StopAtCheckpoint, match=rf"{what} mapped table {mysql_db}\.a"):
        read_all(source(mysql_url, mysql_db, ["a"], initial=start, on_ddl="continue_unmapped"))


def test_truncate_is_a_change_or_a_stop(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "INSERT INTO a VALUES (1, 'x')", "TRUNCATE TABLE a", "TRUNCATE other",
        "INSERT INTO a VALUES (2, 'y')", db=mysql_db)
    got = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
    assert [(c.op, c.table, c.schema, c.before, c.after, c.tx_end) for c in got[1:3]] == [
        ("truncate", "a", mysql_db, None, None, True), ("insert", "a", mysql_db, None, {"id": 2, "v": "y"}, True)]
    with pytest.raises(StopAtCheckpoint, match=rf"truncates mapped table {mysql_db}\.a"):
        read_all(source(mysql_url, mysql_db, ["a"], initial=start, on_truncate="stop"))


def test_statement_format_dml_stops(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "INSERT INTO a VALUES (1, 'row')", "SET SESSION binlog_format = 'STATEMENT'",
        "INSERT INTO other VALUES (5)", "UPDATE a SET v = 'stmt'", db=mysql_db)
    got = []
    with pytest.raises(StopAtCheckpoint, match=r"statement-format change that may touch mapped table a"):
        for ch in source(mysql_url, mysql_db, ["a"], initial=start).changes({}, Ctx()):
            got.append(ch)
    assert [c.after["v"] for c in got] == ["row"]


def test_same_named_table_in_another_schema_is_not_delivered(mysql_url: str, mysql_db: str) -> None:
    other_db = mysql_db + "_o"
    _workload(mysql_url, mysql_db)
    sql(mysql_url, f"CREATE DATABASE `{other_db}`", f"CREATE TABLE `{other_db}`.a (id INT PRIMARY KEY, v TEXT)")
    try:
        start = position_now(mysql_url)
        sql(mysql_url, f"INSERT INTO `{other_db}`.a VALUES (1, 'elsewhere')", "INSERT INTO a VALUES (2, 'here')",
            db=mysql_db)
        got = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
        assert [(c.schema, c.after["id"]) for c in got] == [(mysql_db, 2)]
    finally:
        sql(mysql_url, f"DROP DATABASE `{other_db}`")


def test_uuid_column_matches_the_servers_text(mysql_url: str, mysql_db: str) -> None:
    sql(mysql_url, "CREATE TABLE u (id INT PRIMARY KEY, uu UUID, i6 INET6)", db=mysql_db)
    start = position_now(mysql_url)
    values = [str(uuid.uuid1()), str(uuid.uuid4()), "ffffffff-0000-0000-0000-000000000000"]
    addrs = ["::", "::1.2.3.4", "fe80::1:0:0:0", "2001:db8:0:0:1:0:0:1"]
    sql(mysql_url, *[f"INSERT INTO u VALUES ({i}, '{v}', '{addrs[i]}')" for i, v in enumerate(values)], db=mysql_db)
    got = read_all(source(mysql_url, mysql_db, ["u"], initial=start))
    from tests.support.mysql import mysql_connect

    conn = mysql_connect(mysql_url, mysql_db)
    with conn.cursor() as cur:
        cur.execute("SELECT id, CAST(uu AS CHAR), CAST(i6 AS CHAR) FROM u ORDER BY id")
        server_text = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    conn.close()
    assert {c.after["id"]: (c.after["uu"], c.after["i6"]) for c in got} == server_text



def test_blocking_reader_delivers_live_changes_and_returns_when_asked(mysql_url: str, mysql_db: str) -> None:
    import threading

    _workload(mysql_url, mysql_db)
    src = source(mysql_url, mysql_db, ["a"], blocking=True, initial=position_now(mysql_url), heartbeat_s=0.5)
    ctx = Ctx()
    got = []
    first = threading.Event()

    def run() -> None:
        for ch in src.changes({}, ctx):
            got.append(ch)
            first.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    sql(mysql_url, "INSERT INTO a VALUES (1, 'live')", db=mysql_db)
    assert first.wait(30), "the live insert never arrived"
    ctx.stopping.set()  # idle now: the server's heartbeats let the reader notice
    t.join(30)
    src.close()
    assert not t.is_alive(), "the reader did not return after stopping was set"
    assert [(c.op, c.after) for c in got] == [("insert", {"id": 1, "v": "live"})]


def test_xa_transaction_is_applied_when_prepared(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)
    start = position_now(mysql_url)
    sql(mysql_url, "XA START 'kb1'", "INSERT INTO a VALUES (1, 'xa')", "UPDATE a SET v = 'xa2' WHERE id = 1",
        "XA END 'kb1'", "XA PREPARE 'kb1'", "XA COMMIT 'kb1'", "INSERT INTO a VALUES (2, 'after')", db=mysql_db)
    got = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
    assert [(c.op, c.after["v"], c.tx_end) for c in got] == [
        ("insert", "xa", False), ("update", "xa2", True), ("insert", "after", True)]
    sql(mysql_url, "XA START 'kb2'", "INSERT INTO a VALUES (3, 'undone')", "XA END 'kb2'", "XA PREPARE 'kb2'",
        "XA ROLLBACK 'kb2'", db=mysql_db)
    with pytest.raises(StopAtCheckpoint, match="rolls back a prepared XA transaction"):
        read_all(source(mysql_url, mysql_db, ["a"]), merged(got))


def test_xa_rollback_of_a_transaction_without_mapped_changes_continues(mysql_url: str, mysql_db: str) -> None:
    _workload(mysql_url, mysql_db)  # a is mapped, other is not
    start = position_now(mysql_url)
    sql(mysql_url, "XA START 'kb3'", "INSERT INTO other VALUES (1)", "XA END 'kb3'", "XA PREPARE 'kb3'",
        "XA ROLLBACK 'kb3'", "INSERT INTO a VALUES (4, 'after the rollback')", db=mysql_db)
    got = read_all(source(mysql_url, mysql_db, ["a"], initial=start))
    assert [(c.op, c.after["v"], c.tx_end) for c in got] == [("insert", "after the rollback", True)]
    # a reader that starts after the prepare cannot tell what the transaction changed: it stops
    sql(mysql_url, "XA START 'kb4'", "INSERT INTO other VALUES (2)", "XA END 'kb4'", "XA PREPARE 'kb4'", db=mysql_db)
    after_prepare = position_now(mysql_url)
    sql(mysql_url, "XA ROLLBACK 'kb4'", db=mysql_db)
    with pytest.raises(StopAtCheckpoint, match="rolls back a prepared XA transaction"):
        read_all(source(mysql_url, mysql_db, ["a"], initial=after_prepare))
    # read from before it, the same rollback passes
    assert read_all(source(mysql_url, mysql_db, ["a"]), merged(got)) == []
