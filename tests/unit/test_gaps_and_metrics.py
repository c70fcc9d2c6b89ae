"""Mapped columns versus table columns, unrepresentable values and the metrics hook, with plain values
(dead-letter reason kinds: ``test_writer_report.py``)."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest

from kbgraph.change import Change
from kbgraph.errors import SourceError
from kbgraph.mapping import compile_mappings
from kbgraph.mapping.source_columns import ColumnCheck, FirstImages, missing, needs, needs_for
from kbgraph.metrics import Metrics
from kbgraph.pipeline import RunStats
from kbgraph.sink.writer import Counts, Item
from kbgraph.source_check import type_problem
from kbgraph.sources.binlog.decode import ColumnKind, RowFixer
from kbgraph.unrepresentable import Unrepresentable

YAML = """\
source:
  schema: kb
entities:
  - table: person
    label: Person
    key: [id]
    where: "deleted = 0"
    label_from: {column: kind, allow: [A, B]}
    properties:
      name: nmae
      born: {column: born, type: date}
relations:
  - table: knows
    type: KNOWS
    from: {label: Person, key: {id: src}}
    to: {label: Person, key: {id: dst}}
"""


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(YAML, encoding="utf-8")
    return compile_mappings([path]), path


def test_needs_name_every_column_with_its_line(mapping):
    m, path = mapping
    found = needs(m.files)
    person = {(n.column, n.where) for n in found[("kb", "person")]}
    assert person == {("id", f"{path}:6"), ("deleted", f"{path}:7"), ("kind", f"{path}:8"), ("nmae", f"{path}:10"),
                      ("born", f"{path}:11")}
    assert [n.type for n in found[("kb", "person")] if n.column == "born"] == ["date"]
    assert {n.column for n in found[("kb", "knows")]} == {"src", "dst"}
    assert needs_for(found, None, "person") == needs_for(found, "kb", "person")
    assert needs_for(found, "other", "person") == []


def test_missing_columns_one_line_each(mapping):
    m, path = mapping
    lines = missing(needs(m.files)[("kb", "person")], "kb", "person", ["id", "name", "born", "deleted"])
    assert lines == [
        f"{path}:8: column 'kind' of rule 'person' is not in table kb.person (columns: id, name, born, deleted)",
        f"{path}:10: column 'nmae' of rule 'person' is not in table kb.person (columns: id, name, born, deleted); "
        "did you mean 'name'?",
    ]
    many = [f"c{i}" for i in range(20)]
    assert "(columns: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, …)" in missing(
        needs(m.files)[("kb", "knows")], "kb", "knows", many)[0]


def test_column_check_raises_and_caches(mapping):
    m, path = mapping
    check = ColumnCheck(m.files)
    check("kb", "knows", ["id", "src", "dst"])
    check("kb", "elsewhere", ["x"])  # no rule reads it
    with pytest.raises(SourceError) as info:
        check("kb", "knows", ["id", "src"])
    assert str(info.value).startswith(f"{path}:16: column 'dst' of rule 'knows' is not in table kb.knows")


def test_first_images_stop_only_when_no_record_has_the_column(mapping):
    m, path = mapping
    images = FirstImages(ColumnCheck(m.files), n=3)
    images.observe("kb", "knows", {"src": 1})  # a partial image: the next may have it
    images.observe("kb", "knows", {"dst": 2})  # together they have every column: this table is done
    images.observe("kb", "knows", {})  # not looked at again
    row = {"id": 1, "name": "x", "born": None, "deleted": 0, "kind": "A"}
    images.observe("kb", "person", row)
    images.observe("kb", "person", row)
    with pytest.raises(SourceError) as info:
        images.observe("kb", "person", row)
    assert str(info.value) == (f"{path}:10: column 'nmae' of rule 'person' is not in table kb.person (columns: born, "
                               "deleted, id, kind, name); did you mean 'name'? — absent from all of the first 3 "
                               "records of the table")


@pytest.mark.parametrize(("declared", "sql", "bad"), [
    ("date", "int", True), ("date", "datetime", False), ("date", "varchar", False), ("int", "date", True),
    ("json", "longtext", False), ("json", "int", True), (None, "blob", False), ("str", "date", False),
    ("time", "time", False), ("bytes", "int", True),
])
def test_type_compatibility(declared, sql, bad):
    assert type_problem(declared, sql) is bad


def test_unrepresentable_counts_and_logs_once(caplog):
    gaps = Unrepresentable()
    with caplog.at_level(logging.WARNING, logger="kbgraph.unrepresentable"):
        for v in ("0000-00-00", "0701-00-00", "2024-05-00"):
            gaps.add("kb.person", "born", v)
        gaps.add("kb.event", "at", None)
    assert gaps.counts == {"kb.person.born": 3, "kb.event.at": 1} and gaps.total == 4
    assert gaps.summary() == "kb.person.born 3, kb.event.at 1"
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["kb.person.born", "kb.event.at"]
    assert "'0000-00-00'" in caplog.records[0].getMessage()


def test_row_fixer_counts_after_images_only():
    gaps = Unrepresentable()
    fixer = RowFixer([ColumnKind("d", "date"), ColumnKind("ts", "timestamp"), ColumnKind("n", "int")],
                     where="kb.t", gaps=gaps)
    import datetime as dt

    zero_ts = dt.datetime(1970, 1, 1)
    row = {"d": None, "ts": zero_ts, "n": None}
    fixer(dict(row), {"d": "out of date range", "n": "null"})  # a before image: not written, not counted
    assert gaps.counts == {}
    after = fixer(dict(row), {"d": "out of date range", "n": "null"}, True)
    assert after["ts"] is None
    assert gaps.counts == {"kb.t.d": 1, "kb.t.ts": 1}


def _sample(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_hook_with_plain_values():
    m = Metrics("p")
    gaps = Unrepresentable()
    counts = Counts(changes=3, dead_letters=1, transactions=1, dead_by_kind={"conversion": 1})
    changes = [Change("t", "insert", None, {"id": i}, {}, "kb", None, True, ts) for i, ts in
               enumerate([1_000_000, 1_000_500, None])]
    stats = RunStats(counts, {}, 1.0, batch=[Item(c, []) for c in changes], batches=1, committed_at=1_002.0,
                     commit_s=[0.02, 0.3], unrepresentable=gaps)
    gaps.add("kb.t", "d")
    m(stats)
    m(stats)  # the same batch again (a progress call during an outage): nothing observed twice
    assert stats.commit_s == []
    text = generate_latest(m.registry).decode()
    assert _sample(text, "kbgraph_commit_to_visible_seconds_count", pipeline="p") == 2
    assert _sample(text, "kbgraph_commit_to_visible_seconds_sum", pipeline="p") == pytest.approx(2.0 + 1.5)
    assert _sample(text, "kbgraph_commit_to_visible_seconds_bucket", pipeline="p", le="1.0") == 0
    assert _sample(text, "kbgraph_commit_to_visible_seconds_bucket", pipeline="p", le="2.0") == 2
    assert _sample(text, "kbgraph_batch_commit_seconds_count", pipeline="p") == 2
    assert _sample(text, "kbgraph_batch_commit_seconds_bucket", pipeline="p", le="0.025") == 1
    assert _sample(text, "kbgraph_dead_letters_by_reason_total", pipeline="p", reason="conversion") == 1
    assert _sample(text, "kbgraph_checkpoint_timestamp_seconds", pipeline="p") == 1_002.0
    assert _sample(text, "kbgraph_unrepresentable_values_total", pipeline="p", column="kb.t.d") == 1
    counts.dead_by_kind["graph"] = 2
    stats.source_dead = {"decode": 3}  # the Kafka source's own dead letters
    gaps.add("kb.t", "d")
    m(stats)
    text = generate_latest(m.registry).decode()
    assert _sample(text, "kbgraph_dead_letters_by_reason_total", pipeline="p", reason="graph") == 2
    assert _sample(text, "kbgraph_dead_letters_by_reason_total", pipeline="p", reason="decode") == 3
    assert _sample(text, "kbgraph_dead_letters_by_reason_total", pipeline="p", reason="conversion") == 1
    assert _sample(text, "kbgraph_unrepresentable_values_total", pipeline="p", column="kb.t.d") == 2
    since = _sample(text, "kbgraph_seconds_since_checkpoint", pipeline="p")
    assert since is not None and since > 1_000_000  # the checkpoint of 1970 + 1002 s is long ago


def test_observe_all_records_what_one_observe_per_value_records():
    from prometheus_client import CollectorRegistry, Histogram

    from kbgraph.metrics import observe_all

    r = CollectorRegistry()
    one = Histogram("one", "x", registry=r, buckets=(0.5, 1, 2))
    many = Histogram("many", "x", registry=r, buckets=(0.5, 1, 2))
    values = [v for v, n in ((0.7, 5), (3.0, 2), (0.1, 1), (1.0, 4), (0.5, 1), (2.0, 1)) for _ in range(n)][::-1]
    for v in values:
        one.observe(v)
    observe_all(many, values[:7])
    observe_all(many, values[7:])
    observe_all(many, [])
    text = generate_latest(r).decode()
    samples = [ln.split(" ", 1) for ln in text.splitlines() if ln.startswith(("one_", "many_")) and "created" not in ln]
    ones = {k[len("one"):]: v for k, v in samples if k.startswith("one_")}
    manys = {k[len("many"):]: v for k, v in samples if k.startswith("many_")}
    assert float(ones.pop("_sum")) == pytest.approx(float(manys.pop("_sum")))  # summed in another order
    assert ones == manys and ones["_count"] == "14.0"


def test_observe_all_takes_the_fast_path_with_this_prometheus_client():
    """The fast path reads prometheus-client's private histogram layout: an upgrade that changes it
    fails here instead of silently taking the one-observe-per-value fallback."""
    from prometheus_client import CollectorRegistry, Histogram

    from kbgraph.metrics import Metrics, histogram_internals

    child = Histogram("h", "x", ["pipeline"], registry=CollectorRegistry(), buckets=(0.5, 1, 2)).labels("p")
    internals = histogram_internals(child)
    assert internals is not None
    buckets, bounds, _ = internals
    assert bounds == [0.5, 1, 2, float("inf")] and len(buckets) == 4
    m = Metrics("p")
    assert histogram_internals(m.visible) is not None and histogram_internals(m.commit) is not None


def test_kafka_dead_letter_headers_and_reader_offsets():
    from types import SimpleNamespace

    from kbgraph.sources.kafka.dlq import dead_letter_headers
    from kbgraph.sources.kafka.dlq_topic import Decoders, advance, letter_of

    original = SimpleNamespace(topic="dbz.kb.person", partition=2, offset=41, key=b"k", headers=[("trace", b"1")],
                               value=b'{"schema":"kb","table":"person","op":"insert","after":{"id":7,"name":"x"}}')
    headers = dead_letter_headers(original, "insert on kb.person: bad", "map", "native", None)
    msg = SimpleNamespace(partition=0, offset=5, key=b"k", value=original.value, headers=headers)
    d = letter_of(msg)
    assert (d.id, d.reason, d.stage, d.fmt, d.row) == ("0@5", "insert on kb.person: bad", "map", "native", None)
    assert d.record.headers == [("trace", b"1")] and d.position == {"topic": "dbz.kb.person", "partition": 2, "offset": 41}
    d.changes = Decoders().changes(d)
    assert (d.where, d.key_of(), d.change.position) == ("kb.person", {"id": 7}, {"kafka:dbz.kb.person:2": 42})

    def at(p, o):
        return SimpleNamespace(partition=p, offset=o, id=f"{p}@{o}")

    letters = [at(0, 1), at(0, 2), at(0, 3), at(1, 7), at(1, 8)]
    # partition 0 moves past its leading handled run only; partition 1 not at all (its first is kept)
    assert advance(letters, {"0@1", "0@2", "1@8"}) == {0: 3}
    assert advance(letters, {d.id for d in letters}) == {0: 4, 1: 9}
