"""The MySQL type family table and what the decoders derive from it."""

from __future__ import annotations

import pytest

from kbgraph.mysql import types
from kbgraph.sources.kafka.canal import converter


@pytest.mark.parametrize(
    ("column_type", "base"),
    [("decimal(10,2)", "decimal"), ("int(11) unsigned", "int"), ("  BIGINT ", "bigint"), ("double precision", "double precision"),
     ("double precision(10,2)", "double precision"), ("enum('a','b')", "enum"), ("varchar(20)", "varchar")],
)
def test_base_type_of_a_column_type(column_type: str, base: str) -> None:
    assert types.base_type(column_type) == base


def test_every_family_of_the_table() -> None:
    assert types.family("TINYINT") == types.INTEGER
    assert types.family("fixed") == types.DECIMAL
    assert types.family("real") == types.FLOAT
    assert types.family("timestamp") == types.DATE
    assert types.family("time") == types.TIME
    assert types.family("year") == types.YEAR
    assert types.family("longtext") == types.TEXT
    assert types.family("mediumblob") == types.BINARY
    assert types.family("json") == types.JSON
    assert types.family("boolean") == types.BIT
    assert types.family("enum") == types.ENUM
    assert types.family("set") == types.SET
    assert types.family("geometry") is None


def test_derived_sets() -> None:
    assert types.DATES == {"date", "datetime", "timestamp"}
    assert types.BINARIES == {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
    assert types.BLOBS == types.BINARIES - {"binary"}
    assert "uuid" not in types.TEXTS and "longtext" in types.TEXTS
    assert types.of(types.ENUM, types.SET) == {"enum", "set"}


@pytest.mark.parametrize(
    ("mysql_type", "text", "value"),
    [("int(11)", "7", 7), ("year", "2024", 2024), ("bit(1)", "1", 1), ("decimal(5,2)", "1.50", "1.50"),
     ("double precision", "1.5", 1.5), ("varchar(3)", "abc", None), ("enum('a')", "a", None), ("uuid", "x", None)],
)
def test_canal_converters_by_family(mysql_type: str, text: str, value: object) -> None:
    fn = converter(mysql_type)
    if value is None:
        assert fn is None
    else:
        assert fn is not None
        out = fn(text)
        assert (str(out) if mysql_type.startswith("decimal") else out) == value
