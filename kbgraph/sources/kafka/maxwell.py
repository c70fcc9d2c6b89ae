"""Maxwell's daemon records.

``{"database", "table", "type": insert|update|delete|bootstrap-insert, "ts" (seconds), "xid",
"commit", "data": {...}, "old": {...}}``. ``old`` holds the *old values of the changed columns
only*, so the before image of an update is ``data`` overlaid with ``old``. DDL records
(``database-*``/``table-*`` types, with ``sql``/``def``) are recognised and not mapped; bootstrap
markers and heartbeats are control records.

Maxwell writes no column types: values are the JSON ones. A number with a fraction is a float that
remembers the text it was written as (``ExactNumber``): DOUBLE columns stay floats, and a DECIMAL
column (which Maxwell writes as a JSON number such as ``12.50``) mapped with ``type: decimal`` keeps
its exact digits and scale. Dates and times stay the text Maxwell writes (map them with ``type:
date`` / ``datetime``).

A Maxwell transaction (same ``xid``) may be spread over partitions (Maxwell partitions by key), so
each record is applied as its own transaction; ``xid`` is kept in ``Change.meta``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from kbgraph.change import Change
from kbgraph.sources.kafka.message import (
    NOTHING_TOMBSTONE,
    Decoded,
    DecodeError,
    Message,
    control,
    ddl,
    need,
)

ROW_TYPES = {"insert": "insert", "bootstrap-insert": "insert", "update": "update", "delete": "delete"}
CONTROL_TYPES = {"bootstrap-start", "bootstrap-complete", "heartbeat"}
DDL_PREFIXES = ("database-", "table-", "view-")



class ExactNumber(float):
    """A JSON number with a fraction: a float whose ``repr``/``str`` is the text it was written as."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> ExactNumber:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def exact(self) -> Decimal:
        return Decimal(self.text)


_loads = json.JSONDecoder(parse_float=ExactNumber).decode


class MaxwellDecoder:
    name = "maxwell"

    def decode(self, msg: Message) -> Decoded:
        if msg.value is None:
            return NOTHING_TOMBSTONE
        try:
            doc = _loads(msg.value.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise DecodeError(f"not JSON: {e}") from None
        return self.decode_doc(doc)

    def decode_doc(self, doc: Any) -> Decoded:
        if not isinstance(doc, dict):
            raise DecodeError("a Maxwell value must be a JSON object")
        kind = need(doc, "type", "Maxwell")
        op = ROW_TYPES.get(kind)
        if op is None:
            if kind in CONTROL_TYPES:
                return control(f"maxwell {kind}")
            if isinstance(kind, str) and kind.startswith(DDL_PREFIXES):
                return ddl(doc.get("database"), doc.get("table"), doc.get("sql"))
            raise DecodeError(f"unknown Maxwell type {kind!r}")
        table = need(doc, "table", "Maxwell")
        data = need(doc, "data", "Maxwell")
        if not isinstance(data, dict):
            raise DecodeError("Maxwell 'data' must be a JSON object")
        before: dict[str, Any] | None = None
        after: dict[str, Any] | None = None
        if op == "insert":
            after = data
        elif op == "delete":
            before = data
        else:
            old = doc.get("old") or {}
            if not isinstance(old, dict):
                raise DecodeError("Maxwell 'old' must be a JSON object")
            before = {**data, **old}
            after = data
        ts = doc.get("ts_ms")
        if ts is None and isinstance(doc.get("ts"), int):
            ts = doc["ts"] * 1000
        meta = {"xid": doc["xid"]} if "xid" in doc else None
        return Decoded([Change(table, op, before, after, schema=doc.get("database"), ts_ms=ts, meta=meta)])  # type: ignore[arg-type]


def looks_like(doc: dict[str, Any]) -> bool:
    kind = doc.get("type")
    return isinstance(kind, str) and kind.islower() and "database" in doc and "isDdl" not in doc
