"""The recorded Debezium 3.3.1 MariaDB fixture (tests/fixtures/debezium-mariadb): records and mapping."""

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
