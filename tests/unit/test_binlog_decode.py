"""Binlog and SELECT values normalised to one form (kbgraph.sources.binlog.decode)."""

from __future__ import annotations

import struct
from datetime import date, datetime, timedelta, timezone

import pytest

from kbgraph.sources.binlog.decode import (
    ColumnKind,
    RowFixer,
    fix_time,
    float32,
    parse_json,
    select_expression,
    snapshot_fixes,
)


@pytest.mark.parametrize("text", ["1.1", "1.2345678", "3.4e+38", "0.1", "-7.25", "1e-10", "16777217"])
def test_float32_gives_the_shortest_same_float32(text: str) -> None:
    exact = struct.unpack("<f", struct.pack("<f", float(text)))[0]
    short = float32(exact)
    assert struct.pack("<f", short) == struct.pack("<f", exact)
    assert len(repr(short)) <= len(repr(exact))
    if text != "16777217":  # not representable: rounds to 16777216
        assert short == float(text)


@pytest.mark.parametrize("wrong, right", [
    (timedelta(seconds=-1.75), timedelta(seconds=-1.25)),  # what the library returns for -1.25 s
    (timedelta(days=-1, seconds=41103, microseconds=1), -timedelta(hours=12, minutes=34, seconds=56, microseconds=1)),
    (timedelta(seconds=-3600), timedelta(seconds=-3600)),  # no fraction: unchanged
    (timedelta(seconds=1.5), timedelta(seconds=1.5)),  # positive: unchanged
])
def test_negative_time_with_fraction_is_corrected(wrong: timedelta, right: timedelta) -> None:
    assert fix_time(wrong) == right


def _kinds(**types: str) -> list[ColumnKind]:
    return [ColumnKind(name, t.split(":")[0], int(t.split(":")[1]) if ":" in t else None) for name, t in types.items()]


def test_row_fixer_normalises_binlog_values() -> None:
    cols = _kinds(id="int", bn="binary:4", bl="blob", vb="varbinary", uu="uuid", i6="inet6", js="json", st="set",
                  ts="timestamp", yr="year", bt="bit", fl="float", tm="time", s2="set")
    fixer = RowFixer(cols)
    row = {"id": 1, "bn": b"a", "bl": "", "vb": b"\x01", "uu": b"\x124Vx\x124\x124\x124\x124Vx", "i6": b" \x01\r\xb8",
           "js": '{"a": [1, 2]}', "st": None, "ts": datetime(2024, 1, 1, 22, 4, 5), "yr": 1900, "bt": "0000001010",
           "fl": 1.100000023841858, "tm": timedelta(seconds=-1.75), "s2": None}
    out = fixer(row, {"st": "empty set", "s2": "null"})
    assert out == {
        "id": 1, "bn": b"a\x00\x00\x00", "bl": b"", "vb": b"\x01", "uu": "12345678-1234-1234-1234-123456780000",
        "i6": "2001:db8::", "js": {"a": [1, 2]}, "st": set(), "ts": datetime(2024, 1, 1, 22, 4, 5, tzinfo=timezone.utc),
        "yr": 0, "bt": 10, "fl": 1.1, "tm": timedelta(seconds=-1.25), "s2": None,
    }


def test_row_fixer_leaves_nulls_and_plain_columns() -> None:
    fixer = RowFixer(_kinds(id="int", name="varchar", d="date"))
    assert not fixer
    assert RowFixer(_kinds(bn="binary:2"))({"bn": None}, {"bn": "null"}) == {"bn": None}


def test_zero_timestamp_is_none() -> None:
    fixer = RowFixer(_kinds(ts="timestamp"))
    assert fixer({"ts": datetime(1970, 1, 1)}, {}) == {"ts": None}


def test_snapshot_fixes_match_the_binlog_forms() -> None:
    cols = _kinds(id="int", fl="float", st="set", js="json", bt="bit", d="date", dt="datetime", ts="timestamp", bn="binary:2")
    fixes = dict(snapshot_fixes(cols))
    row = [1, 1.2345677614212036, "x,z", '"s"', b"\x00\x0a", "0000-00-00", "0000-00-00 00:00:00",
           datetime(2024, 1, 1), b"a\x00"]
    out = [fixes[i](v) if i in fixes else v for i, v in enumerate(row)]
    assert out == [1, 1.2345678, {"x", "z"}, "s", 10, None, None, datetime(2024, 1, 1, tzinfo=timezone.utc), b"a\x00"]
    assert fixes[2]("") == set()
    assert fixes[5](date(2024, 2, 29)) == date(2024, 2, 29)


def test_float_is_selected_as_double() -> None:
    assert select_expression(ColumnKind("f", "float"), "`f`") == "CAST(`f` AS DOUBLE)"
    assert select_expression(ColumnKind("d", "double"), "`d`") == "`d`"


def test_parse_json_keeps_parsed_values_and_big_integers() -> None:
    assert parse_json({"a": 1}) == {"a": 1}
    assert parse_json("[18446744073709551616]") == [18446744073709551616]
    assert parse_json("null") is None
