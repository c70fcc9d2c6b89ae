"""kbgraph's own change format: one JSON object per record, the fields of ``kbgraph.change.Change``.

``{"table": "person", "op": "insert"|"update"|"delete"|"truncate", "schema": "kb", "before": {...},
"after": {...}, "ts_ms": 0}`` (``schema``, ``ts_ms`` optional). It is the JSONL change format of the
``jsonl`` source, one line per record. ``position`` and ``tx`` in a record are ignored: on Kafka the
position is the record's own offset and every record is its own transaction.
"""

from __future__ import annotations

from typing import Any

import orjson

from kbgraph.change import OPS, Change
from kbgraph.sources.kafka.message import (
    NOTHING_TOMBSTONE,
    Decoded,
    DecodeError,
    Message,
    need,
)


class NativeDecoder:
    name = "native"

    def decode(self, msg: Message) -> Decoded:
        if msg.value is None:
            return NOTHING_TOMBSTONE
        try:
            doc = orjson.loads(msg.value)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"not JSON: {e}") from None
        return self.decode_doc(doc)

    def decode_doc(self, doc: Any) -> Decoded:
        if not isinstance(doc, dict):
            raise DecodeError("a native change must be a JSON object")
        op = need(doc, "op", "native")
        if op not in OPS:
            raise DecodeError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
        table = need(doc, "table", "native")
        if not isinstance(table, str) or not table:
            raise DecodeError("'table' must be a non-empty string")
        before, after = doc.get("before"), doc.get("after")
        for name, image in (("before", before), ("after", after)):
            if image is not None and not isinstance(image, dict):
                raise DecodeError(f"{name!r} must be an object or null")
        if op in ("insert", "update") and after is None:
            raise DecodeError(f"{op} change has no 'after' row")
        if op == "delete" and before is None:
            raise DecodeError("delete change has no 'before' row")
        if op == "truncate":
            before = after = None
        return Decoded([Change(table, op, before, after, schema=doc.get("schema"), ts_ms=doc.get("ts_ms"))])


def looks_like(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("op"), str) and doc["op"] in OPS and "table" in doc
