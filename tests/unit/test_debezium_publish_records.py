"""``kbgraph publish``'s records against the records Debezium 3.3.1 (MariaDB connector) wrote for the
same row changes (tests/fixtures/debezium-mariadb), field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kbgraph.change import Change
from kbgraph.debezium.envelope import NEW_KEY, EnvelopeWriter, tables_from_ddl
from kbgraph.sources.kafka.debezium import DebeziumDecoder
from tests.support.dbz_fixture import DIR, message, recorded

# The only fields allowed to differ: the producer's name and the processing time.
ALLOWED = {("payload", "source", "version"), ("payload", "ts_ms"), ("payload", "ts_us"), ("payload", "ts_ns")}
ALLOWED_NOSCHEMA = {p[1:] for p in ALLOWED}


def _pairs(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text, object_pairs_hook=list)  # keeps key order


def _differences(ours: Any, theirs: Any, path: tuple = (), allowed: set = ALLOWED) -> list[str]:
    if path in allowed:
        return []
    if isinstance(ours, list) and isinstance(theirs, list) and ours and theirs and all(
            isinstance(x, tuple) for x in ours + theirs):
        if [k for k, _ in ours] != [k for k, _ in theirs]:
            return [f"{'.'.join(map(str, path))}: keys {[k for k, _ in ours]} != {[k for k, _ in theirs]}"]
        return [d for (k, a), (_, b) in zip(ours, theirs) for d in _differences(a, b, (*path, k), allowed)]
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in _differences(a, b, (*path, i), allowed)]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{'.'.join(map(str, path))}: {ours!r} != {theirs!r}"]
    return []


def _changes() -> list[tuple[Change, list[int]]]:
    """The row changes behind the streamed records (not the snapshot's), as the binlog source gives them
    (JSON columns as the text MariaDB logged), each with the indices of Debezium's records of it."""
    dec = DebeziumDecoder()  # no column types: MariaDB's JSON columns stay the text the server logged
    recs = recorded("schema")
    out = []
    i = 0
    while i < len(recs):
        r = recs[i]
        if r["value"] is None:
            raise AssertionError(f"unexpected tombstone at {i}")
        payload = json.loads(r["value"])
        payload = payload.get("payload", payload)
        if r["topic"] == "dbzt" or payload.get("op") == "r":
            i += 1
            continue
        (c,) = dec.decode(message(r, i)).changes
        src = payload["source"]
        group = [i]
        if c.op == "delete":
            group.append(i + 1)
            if any(k == NEW_KEY for k, _ in r["headers"]):
                group.append(i + 2)
                (created,) = dec.decode(message(recs[i + 2], i + 2)).changes
                c = Change(c.table, "update", c.before, created.after, schema=c.schema)
        c.ts_ms = src["ts_ms"]
        c.tx = src["gtid"]
        c.meta = {"binlog": {k: src[k] for k in ("file", "pos", "row", "server_id", "gtid")}}
        out.append((c, group))
        i += len(group)
    return out


@pytest.mark.parametrize("which,prefix", [("schema", "dbzt"), ("noschema", "dbzt.ns")])
def test_publish_writes_what_debezium_wrote(which: str, prefix: str) -> None:
    infos = tables_from_ddl((DIR / "dbzt.sql").read_text(), "dbzt")
    writer = EnvelopeWriter(prefix, schemas=which == "schema")
    allowed = ALLOWED if which == "schema" else ALLOWED_NOSCHEMA
    changes = _changes()
    recs = recorded(which)
    assert len(changes) == 2842 - 143  # streamed row events, a key change's delete + create counted once
    problems: list[str] = []
    for change, indices in changes:
        theirs = [recs[i] for i in indices]
        ours = writer.records(change, infos[change.table], 0)
        assert len(ours) == len(theirs), change.describe()
        for (k, v, h), rec in zip(ours, theirs):
            diffs = _differences(_pairs(k), _pairs(rec["key"]), ("key",), set())
            diffs += _differences(_pairs(v), _pairs(rec["value"]), (), allowed)
            diffs += _differences([(n, _pairs(x)) for n, x in h], [(n, _pairs(x)) for n, x in rec["headers"]], ("headers",), set())
            problems += [f"{change.table} {change.op}: {d}" for d in diffs]
    assert not problems, "\n".join(problems[:20])
