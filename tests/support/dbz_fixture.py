"""The recorded Debezium 3.3.1 MariaDB fixture (tests/fixtures/debezium-mariadb): records and mapping,
and a field-by-field comparison of two records."""

from __future__ import annotations

import functools
import json
import lzma
from pathlib import Path
from typing import Any

from kbgraph.sources.kafka.message import Message

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "debezium-mariadb"
MAPPINGS = [DIR / "kb.yaml", DIR / "xtypes.yaml"]


@functools.cache
def recorded(which: str) -> list[dict[str, Any]]:
    """The records of ``debezium-records-<which>.jsonl.xz`` (``schema`` or ``noschema``), in file order."""
    with lzma.open(DIR / f"debezium-records-{which}.jsonl.xz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def message(rec: dict[str, Any], offset: int, topic: str | None = None) -> Message:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    return Message(topic or rec["topic"], 0, offset, enc(rec["key"]), enc(rec["value"]),
                   [(k, enc(v)) for k, v in rec["headers"]])


def sql(name: str) -> str:
    with lzma.open(DIR / f"workload-{name}.sql.xz", "rt", encoding="utf-8") as f:
        return f.read()


# The only fields allowed to differ: the producer's name and the processing time.
ALLOWED = {("payload", "source", "version"), ("payload", "ts_ms"), ("payload", "ts_us"), ("payload", "ts_ns")}
ALLOWED_NOSCHEMA = {p[1:] for p in ALLOWED}


def json_pairs(text: str | bytes | None) -> Any:
    """A JSON text as nested lists of (key, value) pairs, so that comparing two also compares their key order."""
    return None if text is None else json.loads(text, object_pairs_hook=list)  # keeps key order


def differences(ours: Any, theirs: Any, path: tuple = (), allowed: set = ALLOWED) -> list[str]:
    """Where two ``json_pairs`` documents differ (a dotted path and both values), but at the ``allowed`` paths."""
    if path in allowed:
        return []
    if isinstance(ours, list) and isinstance(theirs, list) and ours and theirs and all(
            isinstance(x, tuple) for x in ours + theirs):
        if [k for k, _ in ours] != [k for k, _ in theirs]:
            return [f"{'.'.join(map(str, path))}: keys {[k for k, _ in ours]} != {[k for k, _ in theirs]}"]
        return [d for (k, a), (_, b) in zip(ours, theirs) for d in differences(a, b, (*path, k), allowed)]
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in differences(a, b, (*path, i), allowed)]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{'.'.join(map(str, path))}: {ours!r} != {theirs!r}"]
    return []
