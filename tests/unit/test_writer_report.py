"""The writer's contract with a source, with a plain-value driver (no server): a dead letter is
reported only after the transaction that holds it committed; errors carry their kind; the pipeline's
sources leave the caller's changes alone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from neo4j.exceptions import Neo4jError, ServiceUnavailable

from kbgraph.change import Change
from kbgraph.checkpoint import encode_position
from kbgraph.errors import CHANGE_KINDS, ChangeError, KbgraphError, Transient
from kbgraph.graph.cypher import dead_letter_write
from kbgraph.mapping import compile_mappings
from kbgraph.outage import Patience
from kbgraph.sink.writer import TRANSIENT, GraphUnavailable, GraphWriter, Item
from kbgraph.sources import BaseSource, Source, StandaloneContext
from kbgraph.sources.memory import ListSource


class _Result:
    def consume(self) -> Any:
        return SimpleNamespace(counters=SimpleNamespace())


class _Tx:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.dead_letters = False

    def run(self, cypher: str, params: Any = None, **kw: Any) -> _Result:
        self.driver.events.append("run")
        self.dead_letters |= cypher == dead_letter_write()
        return _Result()


class Driver:
    """What the writer uses of a neo4j driver. ``fail``: how the next commits end — "refused" (the
    commit fails, nothing stored), "lost" (stored, but the answer is lost) — then they succeed."""

    def __init__(self, *fail: str) -> None:
        self.fail = list(fail)
        self.events: list[str] = []
        self.stored: dict[str, str] = {}  # the checkpoint's properties
        self.pending: dict[str, str] = {}  # those the transaction being committed writes
        # a batch whose checkpoint has this key fails (the graph answers), unless it is written as a dead letter
        self.rejects: str | None = None

    def run(self, query: str) -> _Result:  # the health check
        return _Result()

    def session(self, database: str | None = None) -> Driver:
        return self

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def execute_write(self, work: Any) -> Any:
        tx = _Tx(self)
        summaries = work(tx)
        if self.rejects is not None and self.rejects in self.pending and not tx.dead_letters:
            self.events.append("rejected")
            raise Neo4jError._hydrate_neo4j(code="Neo.ClientError.Schema.ConstraintValidationFailed", message="exists")
        outcome = self.fail.pop(0) if self.fail else "ok"
        if outcome == "refused":
            self.events.append("failed")
            raise ServiceUnavailable("connection refused")
        self.events.append("commit")
        self.stored.update(self.pending)
        if outcome == "lost":
            raise ServiceUnavailable("connection reset")
        return summaries

    def execute_query(self, query: str, **kw: Any) -> Any:
        return ([{"props": dict(self.stored)}] if self.stored else []), None, None


def _writer(driver: Driver, reported: list[str], patience: Patience | None = None) -> GraphWriter:
    def report(change: Change, reason: str) -> None:
        driver.events.append("report")
        reported.append(reason)

    w = GraphWriter(driver, "db", "p", "dead_letter", report, patience=patience)  # type: ignore[arg-type]
    original = w._commit

    def commit(items: list[Item]) -> None:  # the checkpoint the transaction writes, for execute_query
        position: dict[str, Any] = {}
        for it in items:
            position.update(it.change.position)
        driver.pending = encode_position(position)
        original(items)

    w._commit = commit  # type: ignore[method-assign]
    return w


def _items() -> list[Item]:
    ok = Change("t", "insert", None, {"id": 1}, position={"seq": 1})
    bad = Change("t", "insert", None, {"id": 2}, position={"seq": 2})
    return [Item(ok, []), Item(bad, [], ChangeError("insert of t: bad", kind="conversion"))]


def test_a_failed_commit_reports_nothing_and_the_retry_after_a_restart_reports_once() -> None:
    driver, reported = Driver("refused"), []
    with pytest.raises(GraphUnavailable):
        _writer(driver, reported).write(_items())
    assert reported == [] and driver.events[-1] == "failed"  # the dead letter's node is not in the graph either
    driver.events.clear()
    restarted = _writer(driver, reported)
    restarted.write(_items())
    assert driver.events[-2:] == ["commit", "report"] and reported == ["insert of t: bad"]
    assert restarted.counts.dead_by_kind == {"conversion": 1}


def test_a_commit_waited_out_reports_once_after_it_succeeded() -> None:
    driver, reported = Driver("refused", "refused"), []
    writer = _writer(driver, reported, Patience("the graph", first_s=0.001, cap_s=0.001))
    writer.write(_items())
    assert driver.events.count("report") == 1 and driver.events.index("report") > driver.events.index("commit")
    assert reported == ["insert of t: bad"] and writer.counts.dead_letters == 1


def test_a_commit_whose_answer_was_lost_is_reported_once_not_written_again() -> None:
    driver, reported = Driver("lost"), []
    writer = _writer(driver, reported, Patience("the graph", first_s=0.001, cap_s=0.001))
    writer.write(_items())
    assert driver.events.count("commit") == 1 and driver.events[-1] == "report"
    assert reported == ["insert of t: bad"] and writer.counts.dead_by_kind == {"conversion": 1}


def test_a_change_the_graph_rejects_is_isolated_and_reported_once_after_its_commit() -> None:
    driver, reported = Driver(), []
    driver.rejects = "p.bad"
    ok = [Item(Change("t", "insert", None, {"id": i}, position={"seq": i}), []) for i in range(3)]
    bad = Item(Change("t", "insert", None, {"id": 9}, position={"bad": 1}), [])
    writer = _writer(driver, reported)
    writer.write([*ok, bad])  # halved down to the one change; its dead letter (no ops) then commits
    assert len(reported) == 1 and reported[0].startswith("graph rejected insert on t")
    assert driver.events.index("report") > driver.events.index("rejected")
    assert writer.counts.dead_by_kind == {"graph": 1} and writer.counts.changes == 4


def test_transient_and_terminal_errors_are_sorted_once() -> None:
    assert issubclass(GraphUnavailable, Transient) and issubclass(GraphUnavailable, KbgraphError)
    assert isinstance(GraphUnavailable("x"), TRANSIENT) and isinstance(ServiceUnavailable("x"), TRANSIENT)
    assert not isinstance(KbgraphError("x"), TRANSIENT) and not isinstance(ChangeError("x"), TRANSIENT)


YAML = """\
entities:
  - table: person
    label: Person
    key: [id]
    label_from: {column: kind, allow: [A, B]}
    properties:
      born: {column: born, type: date}
"""


@pytest.mark.parametrize(("after", "kind", "text"), [
    ({"id": 1, "kind": "A", "born": "x"}, "conversion", "cannot convert"),
    ({"id": 1, "kind": "Q", "born": None}, "allow_list", "is not an allowed"),
    ({"id": None, "kind": "A", "born": None}, "null_key", "is NULL"),
])
def test_a_change_error_carries_the_kind_set_where_it_was_raised(tmp_path, after, kind, text) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(YAML, encoding="utf-8")
    mapping = compile_mappings([f])
    with pytest.raises(ChangeError) as info:
        mapping.translate(Change("person", "insert", None, after))
    assert info.value.kind == kind and text in str(info.value)


def test_kinds_are_a_bounded_set() -> None:
    several = ChangeError.joined("insert of t", [ChangeError("a", kind="allow_list"), ChangeError("b", kind="conversion")])
    assert str(several) == "insert of t: a; b" and several.kind == "conversion"  # the first kind in CHANGE_KINDS
    assert ChangeError("something new").kind == "other"
    assert ChangeError("graph rejected x", kind="graph").kind == "graph" and "graph" in CHANGE_KINDS
    with pytest.raises(AssertionError):
        ChangeError("x", kind="free text")


def test_list_source_leaves_the_callers_changes_alone_and_keeps_reports() -> None:
    given = [Change("t", "insert", None, {"id": i}, position={"mine": i}) for i in range(3)]
    source = ListSource(given)
    assert isinstance(source, Source)
    yielded = list(source.changes({"seq": 1}, StandaloneContext()))
    assert [c.position for c in yielded] == [{"seq": 2}, {"seq": 3}]
    assert [c.position for c in given] == [{"mine": 0}, {"mine": 1}, {"mine": 2}]
    source.report(yielded[0], "why")
    assert source.reported == [(yielded[0], "why")]


def test_a_base_source_states_nothing_it_does_not_do() -> None:
    class Plain(BaseSource):
        def changes(self, start: dict[str, Any], ctx: Any) -> Any:
            return iter(())

    p = Plain()
    assert isinstance(p, Source) and p.unrepresentable is None and dict(p.dead_by_kind) == {}
    p.report(Change("t", "insert", None, {"id": 1}), "why")  # nothing to report to


def test_graph_and_source_outages_are_two_fields_and_the_graphs_is_shown_first() -> None:
    from kbgraph.outage import Outage
    from kbgraph.pipeline import Pipeline, PipelineContext, RunStats
    from kbgraph.sink.writer import Counts

    shown: list[str | None] = []
    p = Pipeline(None, None, name="p", progress=lambda s: shown.append(s.outage and s.outage.what))  # type: ignore[arg-type]
    p._stats = stats = RunStats(Counts(), {}, 0.0)
    ctx = PipelineContext(p)
    graph, kafka = Outage("the graph", 0, 0), Outage("Kafka at k:9092", 0, 0)
    ctx.source_outage(kafka)
    assert stats.outage is kafka and shown == ["Kafka at k:9092"]
    stats.graph_outage = graph
    ctx.source_outage(kafka)  # the graph's wait is shown first: no new line
    assert stats.outage is graph and stats.source_outage is kafka and len(shown) == 1
    stats.graph_outage = None
    assert stats.outage is kafka
    ctx.source_outage(None)
    assert stats.outage is None and shown == ["Kafka at k:9092", None]
