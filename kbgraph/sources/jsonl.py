"""The JSONL change source: one JSON object per line, the embedded default and a test vehicle.

Each line::

    {"table": "entity", "op": "insert" | "update" | "delete" | "truncate",
     "before": {...} | null, "after": {...} | null,
     "schema": "kb",            # optional: the source database / schema
     "transaction": "tx-17",    # optional: consecutive lines with the same value are one transaction
     "position": ...,           # optional: the producer's own position, kept for dead letters
     "ts_ms": 1700000000000}    # optional: commit time, for lag

insert needs ``after``, delete needs ``before``, update needs ``after`` (and ``before`` to detect key
changes, removed properties and moved relationships). The checkpoint is the byte offset after the
last applied line, so a run resumes exactly, also inside a transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from kbgraph.change import OPS, Change
from kbgraph.errors import SourceError
from kbgraph.sources import BaseSource

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import JsonlSettings
    from kbgraph.sources import SourceContext


# orjson reads an integer beyond 64 bits as a float, silently rounding it; a line that may hold one
# is read again by the standard library, which keeps it exact (the mapping then refuses a value the
# graph cannot store as a dead letter, instead of writing a rounded number)
_LONG_DIGITS = re.compile(rb"\d{19}")


def parse_line(raw: bytes, where: str) -> dict[str, Any]:
    try:
        obj = orjson.loads(raw)
        if _LONG_DIGITS.search(raw):
            obj = json.loads(raw)
    except (orjson.JSONDecodeError, ValueError) as e:
        raise SourceError(f"{where}: not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise SourceError(f"{where}: a change must be a JSON object")
    table, op = obj.get("table"), obj.get("op")
    if not isinstance(table, str) or not table:
        raise SourceError(f"{where}: 'table' must be a non-empty string")
    if op not in OPS:
        raise SourceError(f"{where}: 'op' must be one of {', '.join(OPS)}, not {op!r}")
    for image in ("before", "after"):
        if obj.get(image) is not None and not isinstance(obj[image], dict):
            raise SourceError(f"{where}: '{image}' must be an object or null")
    need = {"insert": ("after",), "update": ("after",), "delete": ("before",), "truncate": ()}[op]
    for image in need:
        if obj.get(image) is None:
            raise SourceError(f"{where}: a {op} needs '{image}'")
    return obj


class JsonlSource(BaseSource):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"change file {str(self.path)!r} does not exist")

    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        offset, line_no = 0, 0
        if start.get("file") == str(self.path):
            offset, line_no = int(start.get("offset", 0)), int(start.get("line", 0))
        name = str(self.path)
        with self.path.open("rb") as f:
            f.seek(offset)
            pending: Change | None = None
            pending_tx: Any = None
            for raw in f:
                line_no += 1
                offset += len(raw)
                if not raw.strip():
                    continue
                obj = parse_line(raw, f"{name}:{line_no}")
                tx = obj.get("transaction")
                if pending is not None:
                    pending.tx_end = tx is None or tx != pending_tx
                    yield pending
                    if ctx.stopping.is_set():
                        return
                pending_tx = tx
                pending = Change(
                    table=obj["table"],
                    op=obj["op"],
                    before=obj.get("before"),
                    after=obj.get("after"),
                    position={"file": name, "offset": offset, "line": line_no},
                    schema=obj.get("schema"),
                    tx=None if tx is None else str(tx),
                    tx_end=True,
                    ts_ms=obj.get("ts_ms"),
                    meta={"line": line_no, "position": obj.get("position")},
                )
            if pending is not None:
                yield pending


def from_settings(settings: JsonlSettings, mapping: CompiledMapping) -> JsonlSource:
    if settings.changes is None:
        raise SourceError("the jsonl source needs a change file: --changes FILE")
    return JsonlSource(settings.changes)
