"""Value converters: one test per type, the auto rules, options and errors."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from neo4j.time import Duration

from kbgraph.errors import ChangeError
from kbgraph.mapping.convert import ConversionError, Flattened, compile_converter
from kbgraph.mapping.model import Column, Options

OPTS = Options()


def conv(type_: str, value: Any, **kw: Any) -> Any:
    return compile_converter(Column(column="c", type=type_, **kw), OPTS)(value)


def fails(type_: str, value: Any, **kw: Any) -> str:
    with pytest.raises(ConversionError) as info:
        conv(type_, value, **kw)
    return str(info.value)


@pytest.mark.parametrize("type_", ["auto", "int", "float", "str", "bool", "decimal", "date", "datetime", "time", "json", "bytes"])
def test_null_stays_null(type_: str) -> None:
    assert conv(type_, None) is None


def test_int() -> None:
    assert conv("int", 7) == 7
    assert conv("int", True) == 1
    assert conv("int", 3.0) == 3
    assert conv("int", Decimal("12.00")) == 12
    assert conv("int", " 42 ") == 42
    assert "it has a fraction" in fails("int", 1.5)
    assert "not a whole number" in fails("int", "1.5")
    assert fails("int", 2**64 - 1) == (
        "column 'c': cannot convert 18446744073709551615 (int) to int: outside the graph's 64-bit integer range"
    )


def test_float() -> None:
    assert conv("float", 1) == 1.0 and type(conv("float", 1)) is float
    assert conv("float", Decimal("2.50")) == 2.5
    assert conv("float", "3.25") == 3.25
    assert fails("float", "three") == "column 'c': cannot convert 'three' (str) to float: not a number"


def test_str() -> None:
    assert conv("str", "马云") == "马云"
    assert conv("str", 5) == "5"
    assert conv("str", Decimal("1E+2")) == "100"
    assert conv("str", True) == "true"
    assert conv("str", date(2024, 1, 2)) == "2024-01-02"
    assert conv("str", "阿里".encode()) == "阿里"
    assert "not UTF-8 text" in fails("str", b"\xff\xfe")
    assert fails("str", {"a": 1}) == "column 'c': cannot convert {'a': 1} (dict) to str"


def test_bool() -> None:
    assert conv("bool", 1) is True and conv("bool", 0) is False
    assert conv("bool", "true") is True and conv("bool", "FALSE") is False
    assert conv("bool", b"\x01") is True and conv("bool", b"\x00") is False  # BIT(1)
    assert conv("bool", Decimal("1")) is True
    assert "only 0 and 1" in fails("bool", 2)
    assert "expected true/false" in fails("bool", "maybe")


def test_decimal() -> None:
    assert conv("decimal", Decimal("12.50")) == "12.50"  # scale kept
    assert conv("decimal", Decimal("1E+3")) == "1000"  # never exponent notation
    assert conv("decimal", "0.10") == "0.10"
    assert conv("decimal", 3) == "3"
    assert conv("decimal", 0.1) == "0.1"  # the float's shortest text, not its binary expansion
    assert conv("decimal", Decimal("12.50"), decimal="float") == 12.5
    assert compile_converter(Column(column="c", type="decimal"), Options(decimal="float"))("2.25") == 2.25
    assert "not a number" in fails("decimal", "12,50")
    assert fails("decimal", True) == "column 'c': cannot convert True (bool) to decimal"


def test_date() -> None:
    assert conv("date", "1964-09-10") == date(1964, 9, 10)
    assert conv("date", date(2000, 1, 1)) == date(2000, 1, 1)
    assert conv("date", datetime(2000, 1, 1, 12, 30)) == date(2000, 1, 1)  # the date part
    assert conv("date", "2000-01-01T12:30:00Z") == date(2000, 1, 1)
    assert fails("date", "0000-00-00") == (
        "column 'c': cannot convert '0000-00-00' (str) to date: not an ISO-8601 date"
    )


def test_datetime() -> None:
    assert conv("datetime", "2024-03-01 09:00:37.125000") == datetime(2024, 3, 1, 9, 0, 37, 125000)
    aware = conv("datetime", "2024-03-01T09:00:00Z")
    assert aware == datetime(2024, 3, 1, 9, tzinfo=timezone.utc) and aware.tzinfo is not None
    tz8 = timezone(timedelta(hours=8))
    assert conv("datetime", datetime(2024, 1, 1, tzinfo=tz8)).tzinfo == tz8  # an aware datetime stays aware
    assert conv("datetime", date(2024, 1, 1)) == datetime(2024, 1, 1)
    assert "not an ISO-8601 date-time" in fails("datetime", "yesterday")
    assert "(int) to datetime" in fails("datetime", 1700000000)


def test_time() -> None:
    assert conv("time", timedelta(hours=13, minutes=5, seconds=1, microseconds=5)) == time(13, 5, 1, 5)
    assert conv("time", timedelta(0)) == time(0)
    assert conv("time", timedelta(hours=30)) == Duration(seconds=30 * 3600)  # MySQL TIME beyond 24 h
    neg = conv("time", -timedelta(hours=1, microseconds=500))
    assert neg == Duration(seconds=-3600, microseconds=-500)
    assert conv("time", "10:30:00") == time(10, 30)
    assert conv("time", "10:30:00.25") == time(10, 30, 0, 250000)
    assert conv("time", "-838:59:59") == Duration(seconds=-(838 * 3600 + 59 * 60 + 59))
    assert conv("time", time(1, 2, 3)) == time(1, 2, 3)
    assert "minutes and seconds" in fails("time", "10:75:00")
    assert "not an ISO-8601 time" in fails("time", "noon")


def test_json_flatten() -> None:
    doc = {"wiki": {"zh": "马云", "en": "Jack_Ma"}, "tags": ["a", "b"], "n": 1, "mixed": [1, "a"], "empty": {},
           "none": None, "deep": {"x": {"y": True}}, "nums": [1, 2.5], "nolist": []}
    out = conv("json", doc)
    assert isinstance(out, Flattened)
    assert out == {
        "wiki.zh": "马云", "wiki.en": "Jack_Ma", "tags": ["a", "b"], "n": 1, "mixed": '[1,"a"]', "empty": "{}",
        "none": None, "deep.x.y": True, "nums": "[1,2.5]", "nolist": [],
    }
    assert conv("json", '{"a": {"b": 1}}') == {"a.b": 1}  # JSON text from a source
    assert conv("json", b'{"a": 1}') == {"a": 1}
    assert conv("json", {b"k": b"v"}) == {"k": "v"}  # older binlog readers give bytes
    assert conv("json", "[1, 2]") == [1, 2]
    assert conv("json", '[{"a": 1}]') == '[{"a":1}]'
    assert conv("json", "{}") == "{}"
    assert conv("json", "5") == 5  # a top-level scalar stays that scalar
    assert conv("json", '"text"') == "text"
    assert "not JSON" in fails("json", "{oops")
    assert "backtick" in fails("json", {"a`b": 1})


def test_json_string() -> None:
    assert conv("json", {"b": 1, "a": [1, "x"]}, json="string") == '{"a":[1,"x"],"b":1}'  # compact, sorted keys
    assert conv("json", '{"b": 1, "a": 2}', json="string") == '{"a":2,"b":1}'
    assert compile_converter(Column(column="c", type="json"), Options(json="string"))({"k": "中"}) == '{"k":"中"}'


def test_bytes() -> None:
    assert conv("bytes", b"\x00\xffab") == "AP9hYg=="
    assert conv("bytes", bytearray(b"\x00\xff"), bytes="hex") == "00ff"
    assert conv("bytes", memoryview(b"ab")) == "YWI="
    assert conv("bytes", "é", bytes="hex") == "c3a9"  # text is encoded as UTF-8 first
    assert fails("bytes", 5) == "column 'c': cannot convert 5 (int) to bytes"


def test_auto() -> None:
    auto = compile_converter("c", OPTS)
    for v in (True, 5, 1.5, "x", date(2024, 1, 1), datetime(2024, 1, 1, 1), time(1, 2)):
        assert auto(v) == v and type(auto(v)) is type(v)
    assert auto(Decimal("1.50")) == "1.50"
    assert auto(timedelta(hours=2)) == time(2)
    assert auto(timedelta(days=2)) == Duration(seconds=2 * 86400)
    assert auto(b"\x01") == "AQ=="
    assert auto({"a": {"b": 1}}) == {"a.b": 1} and isinstance(auto({"a": 1}), Flattened)
    assert auto([1, 2]) == [1, 2] and auto((1, 2)) == [1, 2]
    assert auto([1, "a"]) == '[1,"a"]'
    assert auto({"b", "a"}) == ["a", "b"]  # MySQL SET
    with pytest.raises(ConversionError) as too_big:
        auto(2**63)
    assert "64-bit" in str(too_big.value)
    with pytest.raises(ConversionError) as info:
        auto(object())
    assert "no graph type for it" in str(info.value)


def test_auto_follows_file_and_column_options() -> None:
    file_opts = Options(decimal="float", json="string", bytes="hex")
    assert compile_converter("c", file_opts)(Decimal("1.5")) == 1.5
    assert compile_converter("c", file_opts)({"a": 1}) == '{"a":1}'
    assert compile_converter("c", file_opts)(b"\x01") == "01"
    col = Column(column="c", decimal="string", json="flatten", bytes="base64")  # per column overrides
    assert compile_converter(col, file_opts)(Decimal("1.5")) == "1.5"
    assert compile_converter(col, file_opts)({"a": 1}) == {"a": 1}
    assert compile_converter(col, file_opts)(b"\x01") == "AQ=="


def test_error_names_column_value_and_type_and_truncates() -> None:
    with pytest.raises(ChangeError) as info:
        compile_converter(Column(column="score", type="int"), OPTS)("x" * 200)
    assert str(info.value) == "column 'score': cannot convert '" + "x" * 76 + "... (str) to int: not a number"
    assert isinstance(info.value, ConversionError) and info.value.column == "score"
