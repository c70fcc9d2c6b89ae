"""Checkpoint fragments, GTID state, error lines and table filters of the binlog source."""

from __future__ import annotations

import pymysql
import pytest
from pymysqlreplication.exceptions import BinLogNotEnabled

from kbgraph.errors import SourceError
from kbgraph.sources.binlog.errors import mysql_error_line, stream_error
from kbgraph.sources.binlog.position import MariaGtidState, MysqlGtidState, Position
from kbgraph.sources.binlog.server import ConnInfo
from kbgraph.sources.binlog.tables import MappedTables
from kbgraph.sources.snapshot import after_args, after_clause, decode_key, encode_key


def test_position_round_trip() -> None:
    p = Position("mariadb-bin.000002", 1234, "0-1-9", 3)
    assert Position.from_checkpoint({**p.fragment(), "other": 1}) == p
    assert Position.from_checkpoint({}) is None
    assert p.describe() == "mariadb-bin.000002:1234 GTID 0-1-9 +3 changes"


@pytest.mark.parametrize("cp", [{"file": "x"}, {"pos": 4}, {"file": "x", "pos": 2}, {"file": "x", "pos": 9, "index": -1},
                                {"file": 3, "pos": 9}])
def test_bad_checkpoint_positions(cp: dict) -> None:
    with pytest.raises(SourceError):
        Position.from_checkpoint(cp)


def test_mariadb_gtid_state_keeps_one_per_domain() -> None:
    s = MariaGtidState("0-1-5,2-1-7")
    s.add(0, "0-3-6")
    s.add(1, "1-1-1")
    assert str(s) == "0-3-6,1-1-1,2-1-7"
    with pytest.raises(SourceError):
        MariaGtidState("0-1")


def test_mysql_gtid_set_grows() -> None:
    s = MysqlGtidState("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")
    s.add("3e11fa47-71ca-11e1-9e33-c80aa9429562:6")
    assert str(s) == "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6"


def test_conn_info_from_url_hides_the_password() -> None:
    c = ConnInfo.from_url("mysql://kb%40x:s%3Acret@db.example:3307")
    assert (c.user, c.password, c.host, c.port) == ("kb@x", "s:cret", "db.example", 3307)
    assert "s:cret" not in repr(c) and c.where() == "kb@x@db.example:3307"
    with pytest.raises(SourceError, match="mysql://"):
        ConnInfo.from_url("postgres://x@y")


@pytest.mark.parametrize("code, text, expect", [
    (1045, "Access denied for user", "refused the login"),
    (2003, "Can't connect", "cannot connect to MySQL at u@h:1"),
    (1227, "Access denied; you need REPLICATION SLAVE", "lacks a privilege"),
])
def test_connection_error_lines(code: int, text: str, expect: str) -> None:
    line = mysql_error_line(pymysql.err.OperationalError(code, text), "u@h:1")
    assert expect in line and "\n" not in line


def test_a_missing_privilege_says_once_what_to_grant() -> None:
    denied = pymysql.err.OperationalError(1227, "Access denied; you need (at least one of) the RELOAD privilege(s)")
    line = mysql_error_line(denied, "u@h:1", grant="grant RELOAD ON *.* to this user")
    assert line.endswith("(error 1227); grant RELOAD ON *.* to this user")
    assert line.count("grant") == 1 and "REPLICATION" not in line


@pytest.mark.parametrize("code, text, expect", [
    (1236, "Could not find first log file name in binary log index file", "is no longer on"),
    (1236, "Error: connecting slave requested to start from GTID 0-1-99, which is not in the master's binlog",
     "cannot stream from binlog position"),
    (1236, "binlog truncated in the middle of event", "kbgraph snapshot"),
    (1941, "Could not parse GTID list", "malformed"),
    (4052, "A slave with the same server_uuid/server_id", "same server_id"),
])
def test_stream_error_lines(code: int, text: str, expect: str) -> None:
    err = stream_error(pymysql.err.OperationalError(code, text), "u@h:1", "f.000001:4")
    assert isinstance(err, SourceError) and expect in str(err)


def test_binlog_off_line() -> None:
    assert "binary log of u@h:1 is off" in str(stream_error(BinLogNotEnabled(), "u@h:1", "?"))


def test_mapped_tables_filters() -> None:
    t = MappedTables({("kb", "a"), ("kb", "b"), ("crm", "a")}, lambda s, t: {"id", t})
    assert t.only_schemas() == ["crm", "kb"] and t.only_tables() == ["a", "b"]
    assert t.matches("kb", "b") and not t.matches("crm", "b") and not t.matches("x", "a")
    assert t.columns("kb", "a") == {"id", "a"}
    anywhere = MappedTables({(None, "a"), ("kb", "b")})
    assert anywhere.only_schemas() is None and anywhere.matches("x", "a") and not anywhere.matches("x", "b")
    assert anywhere.matching("x", "a") == [(None, "a")]


def test_snapshot_key_codec_and_keyset_clause() -> None:
    key = [1, "x", b"\x00\xff"]
    assert decode_key(encode_key(key)) == key
    assert after_clause(["`a`", "`b`"]) == "((`a` > %s) OR (`a` = %s AND `b` > %s))"
    assert after_args([1, 2]) == [1, 1, 2]
