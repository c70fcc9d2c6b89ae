"""MySQL value texts: TIME and the zero date, one parser for Canal, Debezium defaults and the mapping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kbgraph.debezium.columns import SqlColumn
from kbgraph.mysql.values import is_zero_date, parse_time


@pytest.mark.parametrize(
    ("text", "value"),
    [("00:00:00", timedelta(0)), ("12:30:05", timedelta(hours=12, minutes=30, seconds=5)),
     ("838:59:59", timedelta(hours=838, minutes=59, seconds=59)),
     ("-838:59:59", -timedelta(hours=838, minutes=59, seconds=59)),
     ("-00:00:01.25", -timedelta(seconds=1, microseconds=250000)), ("01:02:03.000004", timedelta(hours=1, minutes=2, seconds=3, microseconds=4))],
)
def test_time_text(text: str, value: timedelta) -> None:
    assert parse_time(text) == value
    assert parse_time(text, seconds=False) == value


def test_seconds_are_optional_only_when_asked() -> None:
    assert parse_time("12:30") is None
    assert parse_time("12:30", seconds=False) == timedelta(hours=12, minutes=30)


@pytest.mark.parametrize("text", ["", "12", "1:2:3", "12:30:05.1234567", "a:00:00", "12:30:05Z", "+1:00:00"])
def test_not_a_time(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize("text", ["00:60:00", "00:00:60", "10:99"])
def test_minutes_and_seconds_below_60(text: str) -> None:
    with pytest.raises(ValueError, match="below 60"):
        parse_time(text, seconds=False)


def test_zero_date() -> None:
    assert is_zero_date("0000-00-00") and is_zero_date("0000-00-00 00:00:00")
    assert not is_zero_date("2024-01-01")


def test_debezium_time_default_uses_the_same_parser() -> None:
    col = SqlColumn.parse("t", "time(3)", nullable=False)
    assert col.with_default("-01:02:03.5", True).default == -timedelta(hours=1, minutes=2, seconds=3, microseconds=500000)
    assert col.with_default("00:61:00", True).default is None  # not a TIME: no default, as Debezium
