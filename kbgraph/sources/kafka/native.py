"""kbgraph's own change format: one JSON object per record, the fields of ``kbgraph.change.Change``.

``{"table": "person", "op": "insert"|"update"|"delete"|"truncate", "schema": "kb", "before": {...},
"after": {...}, "ts_ms": 0}`` (``schema``, ``ts_ms`` optional): a line of the ``jsonl`` source,
checked by the same parser. ``position`` and ``transaction`` in a record are not used: on Kafka the
position is the record's own offset and every record is its own transaction.
"""

from __future__ import annotations

from typing import Any

import orjson

from kbgraph.change import OPS, Change
from kbgraph.errors import SourceError
from kbgraph.sources.jsonl import parse_line
from kbgraph.sources.kafka.message import (
    NOTHING_TOMBSTONE,
    Decoded,
    DecodeError,
    Message,
)


class NativeDecoder:
    name = "native"

    def decode(self, msg: Message) -> Decoded:
        if msg.value is None:
            return NOTHING_TOMBSTONE
        try:
            return self._decoded(parse_line(msg.value, "record"))
        except SourceError as e:
            raise DecodeError(str(e).removeprefix("record: ")) from None

    def decode_doc(self, doc: Any) -> Decoded:
        try:
            return self._decoded(parse_line(orjson.dumps(doc), "record"))
        except SourceError as e:
            raise DecodeError(str(e).removeprefix("record: ")) from None

    @staticmethod
    def _decoded(obj: dict[str, Any]) -> Decoded:
        op = obj["op"]
        before, after = (None, None) if op == "truncate" else (obj.get("before"), obj.get("after"))
        return Decoded([Change(obj["table"], op, before, after, schema=obj.get("schema"), ts_ms=obj.get("ts_ms"))])


def looks_like(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("op"), str) and doc["op"] in OPS and "table" in doc
