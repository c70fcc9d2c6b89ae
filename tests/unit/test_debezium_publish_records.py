"""``kbgraph publish``'s records against the records Debezium 3.3.1 (MariaDB connector) wrote for the
same row changes (tests/fixtures/debezium-mariadb), field by field."""

from __future__ import annotations

import json

import pytest

from kbgraph.change import Change
from kbgraph.debezium.envelope import NEW_KEY, EnvelopeWriter, tables_from_ddl
from kbgraph.sources.kafka.debezium import DebeziumDecoder
from tests.support.dbz_fixture import ALLOWED, ALLOWED_NOSCHEMA, DIR, differences, json_pairs, message, recorded


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
            diffs = differences(json_pairs(k), json_pairs(rec["key"]), ("key",), set())
            diffs += differences(json_pairs(v), json_pairs(rec["value"]), (), allowed)
            diffs += differences([(n, json_pairs(x)) for n, x in h], [(n, json_pairs(x)) for n, x in rec["headers"]], ("headers",), set())
            problems += [f"{change.table} {change.op}: {d}" for d in diffs]
    assert not problems, "\n".join(problems[:20])
