"""TopicWatch: topics that do not exist yet are said once and looked for again every few seconds."""

from __future__ import annotations

import logging

from kbgraph.sources.kafka.topics import TopicWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_missing_topics_are_said_once_and_looked_for_every_period(caplog) -> None:
    clock, existing, looks = Clock(), {"a"}, []

    def fetch() -> set[str]:
        looks.append(clock.now)
        return set(existing)

    w = TopicWatch(["a", "b", "c"], fetch, every_s=5, clock=clock)
    with caplog.at_level(logging.INFO, logger="kbgraph.sources.kafka.topics"):
        assert w.check() == {"a"}
        assert w.missing == {"b", "c"}
        clock.now += 4.9
        assert w.check() == set() and looks == [100.0]  # not due yet: no metadata request
        clock.now += 0.1
        assert w.check() == set() and len(looks) == 2
        existing |= {"b"}
        clock.now += 5
        assert w.check() == {"b"} and w.missing == {"c"}
        existing |= {"c"}
        clock.now += 5
        assert w.check() == {"c"} and not w.missing
        clock.now += 50
        assert w.check() == set() and len(looks) == 4  # nothing missing: no more requests
    waiting = [r.getMessage() for r in caplog.records if "do not exist yet" in r.getMessage()]
    assert waiting == ["kafka: topic(s) b, c do not exist yet (or this client may not see them); waiting for them (looking again every 5 s)"]
    assert [r.getMessage() for r in caplog.records if "exist now" in r.getMessage()] == [
        "kafka: topic(s) b exist now; the group takes them up", "kafka: topic(s) c exist now; the group takes them up"]


def test_all_present_says_nothing_and_a_failed_look_is_retried(caplog) -> None:
    clock, calls = Clock(), []

    def fetch() -> set[str]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("broker went away")
        return {"a"}

    w = TopicWatch(["a"], fetch, every_s=5, clock=clock)
    with caplog.at_level(logging.INFO, logger="kbgraph.sources.kafka.topics"):
        assert w.check() == set() and w.missing == {"a"}
        clock.now += 5
        assert w.check() == {"a"} and not w.missing
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]
