"""A SQL column's type as Debezium sees it, and the connector settings that decide its encoding.

``SqlColumn.parse(name, "decimal(30,10) unsigned")`` reads MySQL's ``COLUMN_TYPE`` text, the same
text a ``CREATE TABLE`` column definition starts with, so ``information_schema`` (publish) and a
mapping's ``source.ddl`` (payload-only records) describe a column alike.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from kbgraph.errors import KbgraphError
from kbgraph.mysql import types
from kbgraph.mysql.values import parse_time

_TYPE = re.compile(r"^\s*([A-Za-z_][\w ]*?)\s*(?:\((.*)\))?\s*((?:unsigned|signed|zerofill|\s)*)$", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r"'((?:[^'\\]|''|\\.)*)'")
_ALIASES = {"integer": "int", "bool": "tinyint", "boolean": "tinyint", "dec": "decimal", "numeric": "decimal",
            "fixed": "decimal", "real": "double", "double precision": "double", "int1": "tinyint", "int2": "smallint",
            "int3": "mediumint", "int4": "int", "int8": "bigint", "middleint": "mediumint",
            "character": "char", "character varying": "varchar", "long": "mediumtext", "long varchar": "mediumtext"}


@dataclass(frozen=True)
class SqlColumn:
    name: str
    data_type: str  # base type, lower case: bigint, decimal, datetime, enum, json (MariaDB: a json_valid LONGTEXT)
    unsigned: bool = False
    length: int | None = None  # DECIMAL precision, DATETIME/TIME/TIMESTAMP fraction digits, BIT/BINARY/CHAR length
    scale: int | None = None  # DECIMAL scale
    members: tuple[str, ...] = ()  # ENUM / SET
    nullable: bool = True
    default: Any = None  # the column default as the binlog would give it (``default_value``), None = none
    comment: str | None = None

    @classmethod
    def parse(cls, name: str, column_type: str, **kw: Any) -> SqlColumn:
        m = _TYPE.match(column_type)
        if not m:
            raise KbgraphError(f"column {name!r}: cannot read its type {column_type!r}")
        base = " ".join(m.group(1).lower().split())
        base = _ALIASES.get(base, base)
        args, flags = m.group(2), m.group(3).lower()
        length = scale = None
        members: tuple[str, ...] = ()
        if args is not None and base in ("enum", "set"):
            members = tuple(s.replace("''", "'").replace("\\'", "'").replace("\\\\", "\\") for s in _QUOTED.findall(args))
        elif args:
            parts = [p.strip() for p in args.split(",")]
            try:
                length = int(parts[0])
                scale = int(parts[1]) if len(parts) > 1 else None
            except ValueError:
                raise KbgraphError(f"column {name!r}: cannot read its type {column_type!r}") from None
        if base == "decimal":
            length = 10 if length is None else length
            scale = scale or 0
        if m.group(1).lower() in ("bool", "boolean"):
            length = 1
        return cls(name, base, "unsigned" in flags, length, scale, members, **kw)

    def with_default(self, text: str | None, quoted: bool) -> SqlColumn:
        """This column with its DEFAULT (``text`` as information_schema or the DDL writes it)."""
        return replace(self, default=default_value(self, text, quoted))

    @property
    def fraction(self) -> int:
        """Fraction digits of a DATETIME / TIMESTAMP / TIME (0 when not given)."""
        return self.length or 0


TIME_PRECISION = ("adaptive_time_microseconds", "adaptive", "connect")
DECIMAL_HANDLING = ("precise", "double", "string")
BIGINT_UNSIGNED = ("long", "precise")
BINARY_HANDLING = ("bytes", "base64", "base64-url-safe", "hex")


@dataclass(frozen=True)
class ConnectorSettings:
    """The Debezium connector properties that change how a value is written (Debezium's defaults)."""

    time_precision_mode: str = "adaptive_time_microseconds"
    decimal_handling_mode: str = "precise"
    bigint_unsigned_handling_mode: str = "long"
    binary_handling_mode: str = "bytes"
    flavour: str = "mariadb"  # the connector: "mariadb" or "mysql" (they differ in JSON columns and names)

    def __post_init__(self) -> None:
        for value, allowed, prop in ((self.time_precision_mode, TIME_PRECISION, "time.precision.mode"),
                                     (self.decimal_handling_mode, DECIMAL_HANDLING, "decimal.handling.mode"),
                                     (self.bigint_unsigned_handling_mode, BIGINT_UNSIGNED, "bigint.unsigned.handling.mode"),
                                     (self.binary_handling_mode, BINARY_HANDLING, "binary.handling.mode"),
                                     (self.flavour, ("mariadb", "mysql"), "connector")):
            if value not in allowed:
                raise KbgraphError(f"Debezium {prop} {value!r} is not one of {', '.join(allowed)}")

    @classmethod
    def of(cls, d: Any) -> ConnectorSettings:
        """From a mapping file's ``source.debezium`` (``kbgraph.mapping.model.DebeziumSettings``)."""
        return cls(d.time_precision_mode, d.decimal_handling_mode, d.bigint_unsigned_handling_mode, d.binary_handling_mode,
                   d.connector)

_EPOCH = dt.datetime(1970, 1, 1)
_INTEGERS = types.of(types.INTEGER, types.YEAR, types.BIT)


def default_value(c: SqlColumn, text: str | None, quoted: bool) -> Any:
    """A column DEFAULT as the value the binlog source would give for it (None: no default).

    Debezium shows ``CURRENT_TIMESTAMP`` of a NOT NULL DATETIME/TIMESTAMP as the epoch."""
    if text is None or (not quoted and text.upper() == "NULL"):
        return None
    t = c.data_type
    try:
        if not quoted and t in ("datetime", "timestamp") and text.lower().startswith(("current_timestamp", "now", "localtime")):
            if c.nullable:
                return None
            return _EPOCH.replace(tzinfo=dt.timezone.utc) if t == "timestamp" else _EPOCH
        if t in _INTEGERS:
            return int(text)
        if t == "decimal":
            return Decimal(text)
        if t in ("float", "double"):
            return float(text)
        if t == "date":
            return dt.date.fromisoformat(text)
        if t == "datetime":
            return dt.datetime.fromisoformat(text)
        if t == "timestamp":
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        if t == "time":
            return parse_time(text)
        if t == "set":
            return frozenset(text.split(",")) if text else frozenset()  # hashable: SqlColumn keys a cache
    except (ValueError, InvalidOperation):
        return None  # an expression default: Debezium shows none either
    return text
