"""Column values as both the binlog and a snapshot SELECT deliver them, made identical.

The stream (``mysql-replication`` row images) and the snapshot (``pymysql`` SELECT results)
hand back different Python values for the same stored value; the convergence of "snapshot then
stream" with "stream all along" depends on normalising both to one form:

=================  ======================================================================
column type        value in a ``Change``
=================  ======================================================================
FLOAT              the shortest decimal that is the same float32 (binlog: exact float32;
                   snapshot: selected as ``CAST(c AS DOUBLE)`` since text has 6 digits)
TIMESTAMP          aware ``datetime`` in UTC (the zero timestamp: None)
TIME               ``timedelta`` (the library's negative-with-fraction bug corrected)
YEAR               ``int`` (0 stays 0; the library says 1900)
BIT(n)             ``int``
BINARY(n)          ``bytes`` of length n (the library drops trailing zero bytes)
BLOB, VARBINARY    ``bytes`` (the library gives ``''`` when empty)
UUID, INET6        their text form, as MariaDB prints it
JSON               the parsed document (MariaDB logs JSON as text); a string document is a
                   ``JsonString`` (``kbgraph.jsondoc``), never parsed again
SET                a ``set`` of its members (empty set: ``set()``; the library says None)
zero DATE/DATETIME None (also partial dates such as 0701-00-00; counted: ``kbgraph.unrepresentable``)
=================  ======================================================================
"""

from __future__ import annotations

import socket
import struct
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from kbgraph.jsondoc import parse_json
from kbgraph.mysql import types
from kbgraph.mysql.catalog import ColumnKind, table_columns  # the catalog's: kept importable from here (reader)

__all__ = ["ColumnKind", "RowFixer", "fix_time", "float32", "select_expression", "snapshot_fixes", "table_columns"]

EMPTY_SET = "empty set"  # pymysqlreplication.constants.NONE_SOURCE.EMPTY_SET
OUT_OF_RANGE = "out of "  # NONE_SOURCE.OUT_OF_DATE_RANGE, ..._DATETIME_RANGE, ..._DATETIME2_RANGE: zero/partial dates
_DATES = types.DATES
_F32 = struct.Struct("<f")
UTC = timezone.utc

Fix = Callable[[Any], Any]


# ---------------------------------------------------------------- shared conversions


def float32(v: float) -> float:
    """The shortest decimal that is the same float32 as ``v`` (1.100000023841858 -> 1.1)."""
    try:
        packed = _F32.pack(v)
    except (OverflowError, struct.error):
        return v
    for digits in range(6, 10):
        short = float(f"{v:.{digits}g}")
        if _F32.pack(short) == packed:
            return short
    return v


def _utc(v: datetime) -> datetime | None:
    if v.tzinfo is None:
        if v.year == 1970 and v.month == 1 and v.day == 1 and not (v.hour or v.minute or v.second or v.microsecond):
            return None  # the zero TIMESTAMP
        return v.replace(tzinfo=UTC)
    return v


def _bit_int(v: Any) -> int:
    if isinstance(v, str):  # binlog: '0000001010'
        return int(v, 2) if v else 0
    if isinstance(v, (bytes, bytearray)):  # SELECT: big-endian bytes
        return int.from_bytes(v, "big")
    return int(v)


def _as_bytes(v: Any) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


# ---------------------------------------------------------------- binlog


def fix_time(v: timedelta) -> timedelta:
    """Undo the library's error on negative TIME with a fraction (-1.25 s arrives as -1.75 s)."""
    if v < timedelta(0) and v.microseconds:
        a = -v
        return -(timedelta(a.days, a.seconds + 1) - timedelta(microseconds=a.microseconds))
    return v


def _year(v: int) -> int:
    return 0 if v == 1900 else v


def _padder(n: int) -> Fix:
    return lambda v: _as_bytes(v).ljust(n, b"\0")


def _uuid_text(v: Any) -> str:
    return str(uuid.UUID(bytes=_as_bytes(v).ljust(16, b"\0")))


def _inet6_text(v: Any) -> str:
    return socket.inet_ntop(socket.AF_INET6, _as_bytes(v).ljust(16, b"\0"))


_BINLOG_FIX: dict[str, Fix] = {
    "float": float32,
    "timestamp": _utc,
    "time": fix_time,
    "year": _year,
    "bit": _bit_int,
    **dict.fromkeys(types.BLOBS, _as_bytes),
    "uuid": _uuid_text,
    "inet6": _inet6_text,
    "inet4": lambda v: socket.inet_ntop(socket.AF_INET, _as_bytes(v).ljust(4, b"\0")),
    "json": parse_json,
}


class RowFixer:
    """Normalises binlog row images of one table in place (only the columns that need it).

    With ``gaps`` (``kbgraph.unrepresentable.Unrepresentable``), an after image's value that becomes
    NULL here (the zero TIMESTAMP) or that the library already gave as NULL because no calendar has
    it (zero and partial DATE / DATETIME: its "none source" says out of range) is counted."""

    __slots__ = ("dates", "fixes", "gaps", "sets", "where")

    def __init__(self, columns: list[ColumnKind], json_text: bool = False, where: str = "", gaps: Any = None) -> None:
        self.fixes: list[tuple[str, Fix]] = []
        self.sets: list[str] = []
        self.where, self.gaps = where, gaps
        self.dates = [c.name for c in columns if c.data_type in _DATES] if gaps is not None else []
        for col in columns:
            if json_text and col.data_type == "json":  # kept as the text the server logged (publish)
                continue
            if col.data_type == "binary" and col.length:
                self.fixes.append((col.name, _padder(col.length)))
            elif col.data_type == "set":
                self.sets.append(col.name)
            elif col.data_type in _BINLOG_FIX:
                self.fixes.append((col.name, _BINLOG_FIX[col.data_type]))

    def __bool__(self) -> bool:
        return bool(self.fixes or self.sets or self.dates)

    def __call__(self, values: dict[str, Any], none_sources: dict[str, str], after: bool = False) -> dict[str, Any]:
        for name, fix in self.fixes:
            v = values.get(name)
            if v is not None:
                fixed = values[name] = fix(v)
                if fixed is None and after and self.gaps is not None:
                    self.gaps.add(self.where, name, v)
        for name in self.sets:
            if values.get(name) is None and none_sources.get(name) == EMPTY_SET:
                values[name] = set()
        if after and none_sources and self.dates:
            for name in self.dates:
                if none_sources.get(name, "").startswith(OUT_OF_RANGE):
                    self.gaps.add(self.where, name)
        return values


# ---------------------------------------------------------------- snapshot (SELECT)


def select_expression(col: ColumnKind, quoted: str) -> str:
    """What a snapshot SELECTs for a column (FLOAT as DOUBLE: its text has only 6 digits)."""
    if col.data_type == "float":
        return f"CAST({quoted} AS DOUBLE)"
    return quoted


def _zero_date(v: Any) -> Any:
    return None if isinstance(v, str) else v  # pymysql leaves '0000-00-00' as text


def _set_members(v: Any) -> set[str]:
    if isinstance(v, (set, frozenset)):
        return set(v)
    return set(v.split(",")) if v else set()


def _snapshot_timestamp(v: Any) -> Any:
    if isinstance(v, str):
        return None
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


_SELECT_FIX: dict[str, Fix] = {
    "float": float32,
    "timestamp": _snapshot_timestamp,  # the session runs with time_zone '+00:00'
    "date": _zero_date,
    "datetime": _zero_date,
    "bit": _bit_int,
    "json": parse_json,
    "set": _set_members,
    **dict.fromkeys(types.BINARIES, _as_bytes),
}


def snapshot_fixes(columns: list[ColumnKind]) -> list[tuple[int, Fix]]:
    """(position in the SELECT list, fix) for the columns whose SELECT value needs one."""
    return [(i, _SELECT_FIX[c.data_type]) for i, c in enumerate(columns) if c.data_type in _SELECT_FIX]
