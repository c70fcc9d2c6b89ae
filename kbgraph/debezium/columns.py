"""A SQL column's type as Debezium sees it, and the connector settings that decide its encoding.

``SqlColumn.parse(name, "decimal(30,10) unsigned")`` reads MySQL's ``COLUMN_TYPE`` text, the same
text a ``CREATE TABLE`` column definition starts with, so ``information_schema`` (publish) and a
mapping's ``source.ddl`` (payload-only records) describe a column alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kbgraph.errors import KbgraphError

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
    default: Any = None  # the column default as Debezium shows it (already encoded), None = none
    comment: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

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
    def from_properties(cls, props: dict[str, Any] | None, flavour: str = "mariadb") -> ConnectorSettings:
        """From connector properties as Debezium names them (``time.precision.mode`` ...)."""
        p = props or {}
        d = cls()
        return cls(str(p.get("time.precision.mode", d.time_precision_mode)),
                   str(p.get("decimal.handling.mode", d.decimal_handling_mode)),
                   str(p.get("bigint.unsigned.handling.mode", d.bigint_unsigned_handling_mode)),
                   str(p.get("binary.handling.mode", d.binary_handling_mode)), flavour)
