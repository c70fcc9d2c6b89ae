"""The JSONL change-file source: transactions, resuming after a position, and bad lines named by file and line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from kbgraph.errors import SourceError
from kbgraph.sources import StandaloneContext
from kbgraph.sources.jsonl import JsonlSource


def _write(tmp_path, *lines: bytes) -> Path:
    f = tmp_path / "c.jsonl"
    f.write_bytes(b"".join(line + b"\n" for line in lines))
    return f


def test_jsonl_groups_transactions_and_resumes_after_its_position(tmp_path):
    rows = [{"table": "t", "op": "insert", "after": {"id": i}, "transaction": tx} for i, tx in
            enumerate(["a", "a", "b", None, "c"])]
    f = _write(tmp_path, *(orjson.dumps(r) for r in rows))
    changes = list(JsonlSource(f).changes({}, StandaloneContext()))
    assert [c.tx_end for c in changes] == [False, True, True, True, True]
    resumed = list(JsonlSource(f).changes(changes[1].position, StandaloneContext()))
    assert [c.after["id"] for c in resumed] == [2, 3, 4]
    assert resumed[0].position["line"] == 3


@pytest.mark.parametrize("line, message", [
    (b"{not json", "c.jsonl:2: not JSON"),
    (b'{"table": "t", "op": "upsert", "after": {}}', "c.jsonl:2: 'op' must be one of"),
    (b'{"table": "t", "op": "delete", "before": null}', "c.jsonl:2: a delete needs 'before'"),
    (b'{"op": "insert", "after": {}}', "c.jsonl:2: 'table' must be a non-empty string"),
])
def test_jsonl_bad_line_names_file_and_line(tmp_path, line, message):
    f = _write(tmp_path, b'{"table": "t", "op": "insert", "after": {"id": 1}}', line)
    with pytest.raises(SourceError, match=message.replace("(", r"\(")):
        list(JsonlSource(f).changes({}, StandaloneContext()))
