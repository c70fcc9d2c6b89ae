"""Pure logic of waiting out an outage (backoff, logging once per interval) and of the circuit breaker."""

from __future__ import annotations

import logging
import threading

import pytest

from kbgraph.change import Change
from kbgraph.errors import ChangeError, KbgraphError
from kbgraph.outage import Patience, StoppedWaiting
from kbgraph.sink.breaker import Breaker, CircuitOpen, reason_group
from kbgraph.sink.writer import Item


class Down(Exception):
    pass


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def flaky(failures: int, clock: FakeClock | None = None, step: float = 10.0):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if clock is not None:
            clock.t += step
        if calls["n"] <= failures:
            raise Down(f"refused #{calls['n']}")
        return "ok"

    return fn, calls


def quick(**kw) -> Patience:
    return Patience("the graph at bolt://x", first_s=0.001, cap_s=0.004, **kw)


def test_waits_until_the_server_is_back_logging_once_per_interval(caplog):
    clock = FakeClock()
    seen = []
    p = quick(clock=clock, log_every_s=30, on_change=lambda o: seen.append(None if o is None else o.attempts))
    fn, calls = flaky(10, clock)
    with caplog.at_level(logging.WARNING, logger="kbgraph.outage"):
        assert p.call(fn, (Down,)) == "ok"
    assert calls["n"] == 11
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("is unreachable" in m for m in msgs) == 1
    # ten failures 10 s apart, logged at most every 30 s: three "still waiting" lines, not ten
    still = [m for m in msgs if m.startswith("still waiting for the graph at bolt://x since")]
    assert len(still) == 3
    assert "refused #" in still[0]
    assert sum("is back after" in m for m in msgs) == 1
    assert seen == list(range(1, 11)) + [None]  # shown on every attempt, then cleared
    assert p.current is None and p.outages == 1 and p.waited_s == pytest.approx(100)


def test_backoff_grows_and_is_capped():
    sleeps: list[float] = []
    p = Patience("x", first_s=0.5, cap_s=4)
    p._sleep = sleeps.append  # type: ignore[method-assign]
    fn, _ = flaky(7)
    p.call(fn, (Down,))
    assert sleeps == [0.5, 1, 2, 4, 4, 4, 4]


def test_other_errors_are_not_waited_for():
    p = quick()

    def fn():
        raise ValueError("bad data")

    with pytest.raises(ValueError):
        p.call(fn, (Down,))
    assert p.outages == 0


def test_the_outage_limit_ends_the_wait_with_a_clear_error():
    p = quick(max_wait_s=0.05)
    fn, calls = flaky(10**9)
    with pytest.raises(KbgraphError, match=r"the graph at bolt://x has been unreachable for .* outage limit of 0.05 s"):
        p.call(fn, (Down,))
    assert calls["n"] > 1 and p.current is None


def test_stopping_ends_the_wait_at_once():
    stopping = threading.Event()
    p = Patience("the graph", stopping=stopping, first_s=3600, cap_s=3600)  # would sleep an hour
    fn, calls = flaky(10**9)
    threading.Timer(0.1, stopping.set).start()
    with pytest.raises(StoppedWaiting, match="asked to stop while waiting for the graph since"):
        p.call(fn, (Down,))
    assert calls["n"] == 1


# -- circuit breaker ---------------------------------------------------------------------------


def item(i: int, bad: bool) -> Item:
    c = Change("entity", "insert", None, {"id": i}, position={"line": i}, schema="kb")
    err = ChangeError(f"{c.describe()}: where 'deleted = 0': the row has no column 'deleted'") if bad else None
    return Item(c, [], err)


def test_reason_group_drops_the_position_and_numbers():
    a, b = item(1, True), item(22, True)
    assert reason_group(str(a.error), a.change) == reason_group(str(b.error), b.change)
    assert reason_group(str(a.error), a.change) == ("insert on kb.entity: where 'deleted = 0': "
                                                    "the row has no column 'deleted'")


def test_consecutive_dead_letters_trip_before_the_one_too_many():
    b = Breaker(consecutive=3, ratio=0)
    assert b.trips_at([item(1, True), item(2, True), item(3, True)]) is None
    assert b.trips_at([item(1, True), item(2, False), item(3, True), item(4, True), item(5, True), item(6, True)]) == 5
    b.record([item(1, True), item(2, True)])
    assert b.trips_at([item(3, True), item(4, True)]) == 1
    b.record([item(3, False)])  # a good change ends the run
    assert b.trips_at([item(i, True) for i in range(4, 7)]) is None
    b.record([item(i, True) for i in range(4, 7)])
    err = b.open_error(item(7, True))
    assert isinstance(err, CircuitOpen)
    assert "more than 3 consecutive" in str(err)
    assert "most common reason (4 of 4): insert on kb.entity: where 'deleted = 0': the row has no column 'deleted'" in str(err)
    assert "just before insert on kb.entity at {'line': 7}" in str(err)


def test_a_high_share_of_dead_letters_trips_once_the_window_is_full():
    b = Breaker(consecutive=0, ratio=0.5, window=10)
    half = [item(i, i % 2 == 0) for i in range(40)]  # exactly half: not more than half
    assert b.trips_at(half) is None
    b.record(half)
    more = [item(i, i % 3 != 0) for i in range(40, 60)]  # two in three
    at = b.trips_at(more)
    assert at is not None and more[at].error is not None
    assert "of the last 10 changes went to the dead letters (more than 50%)" in str(b.open_error(more[at]))


def test_off_means_off():
    b = Breaker(consecutive=0, ratio=0)
    assert b.trips_at([item(i, True) for i in range(100)]) is None


def test_the_progress_line_and_the_metrics_show_the_wait():
    from prometheus_client import generate_latest

    from kbgraph.cli.progress import line
    from kbgraph.metrics import Metrics
    from kbgraph.outage import Outage
    from kbgraph.pipeline import RunStats
    from kbgraph.sink.writer import Counts

    stats = RunStats(Counts(changes=5), {"seq": 5}, 1.0)
    stats.graph_outage, stats.outages = Outage("the graph at bolt://x", since=0, started=0, attempts=3), 1
    assert line(stats).startswith("[yellow]waiting for the graph at bolt://x since ")
    m = Metrics("p")
    m(stats)
    text = generate_latest(m.registry).decode()
    assert 'kbgraph_outages_total{pipeline="p"} 1.0' in text
    assert 'kbgraph_outage_seconds{pipeline="p"} 0.0' not in text
    stats.graph_outage = None
    m(stats)
    text = generate_latest(m.registry).decode()
    assert 'kbgraph_outage_seconds{pipeline="p"} 0.0' in text and 'kbgraph_outages_total{pipeline="p"} 1.0' in text
    assert "waiting" not in line(stats)


def test_the_drivers_retry_lines_pass_once_a_minute():
    from kbgraph.outage import OncePer

    clock = FakeClock()
    f = OncePer("Transaction failed and will be retried", 60, clock=clock)

    def rec(msg: str) -> logging.LogRecord:
        return logging.LogRecord("neo4j.session", logging.WARNING, __file__, 1, msg, (), None)

    passed = []
    for _ in range(10):  # ten retries 10 s apart
        passed.append(f.filter(rec("Transaction failed and will be retried in %ss (%s)")))
        clock.t += 10
    assert passed == [True] + [False] * 5 + [True] + [False] * 3
    assert f.filter(rec("something else")) and f.dropped == 8


def test_dead_letters_group_by_reason_and_a_replayed_one_keeps_its_origin_position():
    import orjson

    from kbgraph.deadletters import groups, letter_of

    def stored(i: int, table: str, reason_tail: str, replayed: bool = False) -> dict:
        position = {"line": i, **({"dl:#1:0": 0} if replayed else {})}
        c = Change(table, "insert", None, {"id": i}, position=position, schema="kb")
        return {"reason": f"{c.describe()}: {reason_tail}", "table": table, "schema": "kb", "op": "insert",
                "position": orjson.dumps(position).decode(), "change": orjson.dumps({"after": {"id": i}}).decode()}

    letters = [letter_of(stored(1, "entity", "no column 'x'"), "a"), letter_of(stored(2, "alias", "no column 'x'"), "b"),
               letter_of(stored(3, "entity", "label 'Planet' not allowed", replayed=True), "c"),
               letter_of(stored(4, "entity", "no column 'x'"), "d")]
    assert letters[2].position == {"line": 3} and letters[2].after == {"id": 3}
    gs = groups(iter(letters))
    assert [(g.count, g.first.id, g.last.id) for g in gs] == [(2, "a", "d"), (1, "b", "b"), (1, "c", "c")]
    assert gs[0].reason == "insert on kb.entity: no column 'x'" and gs[2].reason.endswith("label 'Planet' not allowed")
    assert "dl:" not in gs[2].reason


def test_reason_group_keeps_quoted_text_and_drops_a_position_that_changed_shape():
    c = Change("entity", "update", {"id": 1}, {"id": 1}, position={"gtid": "0-1-77", "pos": (4, 5)}, schema="kb")
    stored = str({"gtid": "0-1-77", "pos": [4, 5]})  # as it reads back from the dead-letter store
    reason = f"update on kb.entity at {stored}: where 'weight >= 0': row 17 holds 'x2'"
    assert reason_group(reason, c) == "update on kb.entity: where 'weight >= 0': row N holds 'x2'"
