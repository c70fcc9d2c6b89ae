"""Column types of the mapped tables, for Debezium records: what the envelope's schema cannot say.

Payload-only records (``schemas.enable=false``) carry bare JSON values: a DATE is a day count, a
DATETIME epoch milli- or microseconds, a DECIMAL base64 bytes without its scale. They are read with
the mapping file's ``source.ddl`` (the SQL type of each column gives the exact field schema the
connector used, through the same ``field_schema`` ``kbgraph publish`` writes with) and its
``source.debezium`` settings; without a DDL, with the mapping's declared ``type:`` where that is
unambiguous. What cannot be read without a schema is an error naming the column and what to add:

=====================  ===============================================================
declared type, no DDL  payload-only value
=====================  ===============================================================
date                   day count: read
time                   MicroTime (µs) with ``adaptive_time_microseconds``: read; else needs the DDL
datetime               ISO text (TIMESTAMP): read; epoch number: ms or µs depends on DATETIME's
                       precision -> needs the DDL (``connect`` mode: always ms, read)
decimal                ``precise`` (base64 bytes): needs the scale -> the DDL; string/double: read
bytes                  base64 (or hex) text: read
int                    a text value (BIT bytes, precise BIGINT UNSIGNED) -> needs the DDL
=====================  ===============================================================

With records that do carry a schema, the DDL still adds what the schema leaves out: a BIGINT
UNSIGNED value above 2^63-1 arrives wrapped to a negative number under Debezium's default
``bigint.unsigned.handling.mode=long``; a negative value in such a column is an error (set the
connector to ``precise``), never stored. MariaDB's JSON columns (plain strings) are parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbgraph.debezium.columns import ConnectorSettings, SqlColumn
from kbgraph.debezium.decode import BY_NAME, EncodingError, b64, enum_set, field_converter, json_doc
from kbgraph.debezium.encode import field_schema
from kbgraph.mapping.ddl import parse_ddl_types
from kbgraph.mapping.model import Column, MappingFile

Convert = Callable[[Any], Any]
TableId = tuple[str | None, str]


@dataclass
class TableTypes:
    payload: dict[str, Convert] = field(default_factory=dict)  # payload-only records
    checks: dict[str, Convert] = field(default_factory=dict)  # records with a schema


def _unsigned_check(name: str, inner: Convert | None) -> Convert:
    def check(v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool) and v < 0:
            raise EncodingError(
                f"BIGINT UNSIGNED, but Debezium sent {v}: a value above 2^63-1 wrapped by "
                "bigint.unsigned.handling.mode=long; set the connector's bigint.unsigned.handling.mode=precise "
                "(and source.debezium in the mapping)")
        return inner(v) if inner is not None else v

    return check


def _sql_converter(col: SqlColumn, settings: ConnectorSettings) -> Convert | None:
    fn = field_converter(field_schema(col, settings))
    if col.data_type == "json":
        return json_doc
    if col.data_type == "set":
        return enum_set
    if col.data_type == "bigint" and col.unsigned and settings.bigint_unsigned_handling_mode == "long":
        return _unsigned_check(col.name, fn)
    return fn


def _needs(name: str, what: str, why: str) -> Convert:
    def fail(v: Any) -> Any:
        raise EncodingError(
            f"type {what}: payload-only Debezium value {str(v)[:40]!r} cannot be read without a schema: {why}; "
            "name the SQL schema in the mapping's source.ddl, or turn on the connector's value.converter.schemas.enable")

    return fail


def _only(kind: type, fn: Convert) -> Convert:
    return lambda v: fn(v) if isinstance(v, kind) and not isinstance(v, bool) else v


def _declared_converter(name: str, declared: str, s: ConnectorSettings) -> Convert | None:
    """A payload-only value from the mapping's declared type alone (no DDL)."""
    if declared == "date":
        return _only(int, BY_NAME["io.debezium.time.Date"])
    if declared == "time":
        if s.time_precision_mode == "adaptive_time_microseconds":
            return _only(int, BY_NAME["io.debezium.time.MicroTime"])
        if s.time_precision_mode == "connect":
            return _only(int, BY_NAME["io.debezium.time.Time"])
        return _only(int, _needs(name, "time", "with time.precision.mode=adaptive TIME(0-3) is ms, TIME(4-6) µs"))
    if declared == "datetime":
        if s.time_precision_mode == "connect":
            return _only(int, BY_NAME["io.debezium.time.Timestamp"])
        return _only(int, _needs(name, "datetime", "DATETIME(0-3) is epoch ms, DATETIME(4-6) epoch µs"))
    if declared == "decimal" and s.decimal_handling_mode == "precise":
        return _only(str, _needs(name, "decimal", "the unscaled bytes need the column's scale"))
    if declared == "bytes":
        if s.binary_handling_mode == "hex":
            return _only(str, bytes.fromhex)
        return _only(str, b64)
    if declared == "int":
        return _only(str, _needs(name, "int", "a text value is a BIT or precise BIGINT UNSIGNED encoding"))
    return None


def _declared_types(model: MappingFile) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}

    def add(table: str, refs: Any) -> None:
        for ref in refs:
            if isinstance(ref, Column) and ref.type != "auto":
                out.setdefault(table, {}).setdefault(ref.column, ref.type)

    for e in model.entities:
        add(e.table, [*e.key_columns.values(), *e.properties.values()])
    for r in model.relations:
        add(r.table, [*r.from_.key.values(), *r.to.key.values(), *r.properties.values()])
    for p in model.properties:
        add(p.table, [*p.owner.key.values(), p.value])
    return out


class PayloadTypes:
    """Per mapped table, the converters payload-only records need and the checks schema'd ones get."""

    def __init__(self) -> None:
        self._tables: dict[TableId, TableTypes] = {}

    @classmethod
    def from_files(cls, files: Any) -> PayloadTypes:
        """From loaded mapping files (``CompiledMapping.files``: ``path`` and ``model``)."""
        out = cls()
        for f in files:
            model: MappingFile = f.model
            src = model.source
            settings = ConnectorSettings.of(src.debezium)
            sql: dict[str, dict[str, str]] = {}
            if src.ddl:
                sql = parse_ddl_types((Path(f.path).parent / src.ddl).read_text(encoding="utf-8-sig"))
            declared = _declared_types(model)
            for table in set(sql) | set(declared):
                tt = out._tables.setdefault((src.schema_, table), TableTypes())
                for name, type_text in sql.get(table, {}).items():
                    col = SqlColumn.parse(name, type_text)
                    fn = _sql_converter(col, settings)
                    if fn is not None:
                        tt.payload[name] = fn
                    if col.data_type == "json":
                        tt.checks[name] = json_doc
                    elif col.data_type == "bigint" and col.unsigned and settings.bigint_unsigned_handling_mode == "long":
                        tt.checks[name] = _unsigned_check(name, None)
                for name, t in declared.get(table, {}).items():
                    if name not in sql.get(table, {}):
                        fn = _declared_converter(name, t, settings)
                        if fn is not None:
                            tt.payload[name] = fn
        return out

    def table(self, schema: str | None, table: str) -> TableTypes | None:
        return self._tables.get((schema, table)) or self._tables.get((None, table))
