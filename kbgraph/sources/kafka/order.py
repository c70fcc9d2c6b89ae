"""The source position a record carries, as a comparable key for the ordered merge (``merge.py``).

Debezium's MySQL / MariaDB connectors and ``kbgraph publish`` put the binlog coordinates of each
change in the envelope's ``source`` block: ``file``, ``pos`` and ``row``. In Debezium's records
``pos`` is the position of the row event and ``row`` the row inside it; in ``publish``'s, ``pos``
is the transaction's start with ``row`` = the change's number for all but its last change, which
has the commit's end and ``row`` 0. Both increase with the binlog, file name first (the server
numbers its files with a fixed width). Snapshot records (``op: r``) all carry the snapshot's
position: equal keys, which the merge keeps in arrival order.

GTIDs are not used: MariaDB's are ordered only inside one domain, MySQL's not across servers.
Records of other formats, and records without those fields, have no key (None).

The same coordinates, with the server's id, tell a replay (``replay_key``): Debezium delivers at
least once, and a connector that restarts without its last offset writes again, at new Kafka
offsets, records it had written already. Inside one partition the source position of the records
only grows, so a streamed record behind the last one read from that partition was seen before.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

_NUMBERED = re.compile(r"(.*?)(\d+)$")


def binlog_order(at: tuple[Any, ...]) -> tuple[Any, ...]:
    """``(file, pos, row)`` as a comparable key: the file's number as a number (``…bin.999999`` < ``…bin.1000000``)."""
    file, pos, row = at
    m = _NUMBERED.match(file)
    return ((m.group(1), int(m.group(2))) if m else (file, -1), pos, row)


_SOURCE = re.compile(rb'"source"\s*:\s*\{')
_DECODER = json.JSONDecoder()


def source_block(value: bytes | None) -> dict[str, Any] | None:
    """The ``source`` block of a Debezium JSON value, or None.

    Only the ``source`` object is parsed (the decoder has parsed the whole value already): with
    the JSON converter's schema a value is mostly schema, and this runs for every record.
    """
    if not value:
        return None
    # the last one is the payload's (a schema names its fields "field": "source"); compact JSON first
    at = value.rfind(b'"source":{')
    if at >= 0:
        at += 9
    else:
        last = deque(_SOURCE.finditer(value), maxlen=1)  # the last match, without a list of them all
        if not last:
            return None
        at = last[0].end() - 1
    try:
        src, _ = _DECODER.raw_decode(value[at:].decode("utf-8", "replace"))
    except ValueError:
        return None
    return src if isinstance(src, dict) else None


def _coordinates(src: dict[str, Any] | None) -> tuple[str, int, int] | None:
    if src is None:
        return None
    file, pos, row = src.get("file"), src.get("pos"), src.get("row")
    if not isinstance(file, str) or not file or not isinstance(pos, int) or isinstance(pos, bool):
        return None
    return (file, pos, row if isinstance(row, int) and not isinstance(row, bool) else 0)


def debezium_position(value: bytes | None) -> tuple[str, int, int] | None:
    """``(file, pos, row)`` from the ``source`` block of a Debezium JSON value, or None."""
    return _coordinates(source_block(value))


def record_position(fmt: str | None, record: Any, src: dict[str, Any] | None = None) -> tuple[Any, int, int] | None:
    """The merge key of a Kafka record of format ``fmt`` (``binlog_order`` of its coordinates);
    ``src``: its ``source`` block when the decoder has it already (else it is read from the record)."""
    if fmt != "debezium":
        return None
    at = _coordinates(src if src is not None else source_block(getattr(record, "value", None)))
    return None if at is None else binlog_order(at)


_STREAMED = (None, False, "false")  # Debezium's ``snapshot`` field of a streamed (not a snapshot) record


def replay_key(fmt: str | None, record: Any, src: dict[str, Any] | None = None) -> tuple[Any, str, int, int, Any] | None:
    """``(server_id, file, pos, row, ts_ms)`` of a streamed Debezium record, or None (``ts_ms``: the
    source's commit time, None when absent).

    Snapshot records (``snapshot`` true, first, last, incremental…) share one position and state a
    row's whole content, so they are never taken for a replay; nor is a record without coordinates.
    """
    if fmt != "debezium":
        return None
    if src is None:
        src = source_block(getattr(record, "value", None))
    at = _coordinates(src)
    if at is None or src is None or src.get("snapshot") not in _STREAMED:
        return None
    ts = src.get("ts_ms")
    return (src.get("server_id"), *at, ts if isinstance(ts, int) and not isinstance(ts, bool) else None)
