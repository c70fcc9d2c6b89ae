"""verify's comparison logic with plain values: property diffs, naming by key, re-check, caps, settle."""

from __future__ import annotations

import datetime as dt

import pytest
from neo4j import time as ntime

from kbgraph.errors import ChangeError
from kbgraph.mapping.columns import Columns, stored
from kbgraph.mapping.model import Column, Options
from kbgraph.verify.differences import (
    ABSENT,
    DIFFERS,
    EXTRA,
    MISSING,
    Difference,
    PropDiff,
    Report,
    diff_props,
    name_of,
    still_there,
)
from kbgraph.verify.extras import split_id
from kbgraph.verify.row_checks import owned_by
from kbgraph.verify.verifier import Settle, VerifyOptions


def test_a_differing_property_names_both_values():
    d = Difference(DIFFERS, name_of("Person", ["id"], (7,)), diff_props({"id": 7, "name": "Ann"}, {"id": 7, "name": "Anne"}))
    assert str(d) == "Person {id: 7}: name: graph 'Ann' ≠ source 'Anne'"


def test_absent_and_none_are_the_same_and_only_owned_graph_properties_count():
    owned = owned_by(["id", "meta"])
    graph = {"id": 1, "meta.a": 1, "color": "red", "_kb_stub": None}
    assert diff_props(graph, {"id": 1, "meta.a": 1, "meta.note": None}, owned) == ()
    assert diff_props(graph, {"id": 1}, owned) == (PropDiff("meta.a", 1, ABSENT),)
    assert diff_props({"id": 1}, {"id": 1, "meta.b": "x"}, owned) == (PropDiff("meta.b", ABSENT, "x"),)


def test_temporal_values_compare_as_the_driver_returns_them():
    graph = {"d": ntime.Date(2024, 2, 29), "t": ntime.DateTime(2024, 1, 2, 3, 4, 5)}
    assert diff_props(graph, {"d": dt.date(2024, 2, 29), "t": dt.datetime(2024, 1, 2, 3, 4, 5)}) == ()
    assert diff_props(graph, {"d": dt.date(2024, 3, 1), "t": dt.datetime(2024, 1, 2, 3, 4, 5)})[0].prop == "d"


def test_composite_keys_and_text_keys_are_named():
    assert name_of("Edge", ["a", "b"], (1, "x")) == "Edge {a: 1, b: 'x'}"


def test_a_recheck_reports_only_what_both_looks_found():
    first = [Difference(MISSING, "A {id: 1}"), Difference(EXTRA, "A {id: 2}"), Difference(DIFFERS, "A {id: 3}")]
    again = [Difference(MISSING, "A {id: 1}"), Difference(DIFFERS, "A {id: 4}"),
             Difference(DIFFERS, "A {id: 3}", (PropDiff("x", 1, 2),))]
    assert [d.what for d in still_there(first, again)] == ["A {id: 1}", "A {id: 3}"]


def test_report_caps_per_rule_and_counts_the_rest():
    r = Report(cap=2)
    r.rule("entity", "kb.entity → :Entity").rows = 5
    r.add("entity", [Difference(MISSING, f"E {{id: {i}}}") for i in range(5)])
    r.reject("entity", "column 'big': out of range")
    lines = r.lines()
    assert lines[0].startswith("entity (kb.entity → :Entity): 5 rows") and "5 missing, 0 extra, 0 differing" in lines[0]
    assert "1 rows the mappings reject" in lines[0]
    assert lines[1:] == ["  missing  E {id: 0}", "  missing  E {id: 1}", "  … and 3 more"]
    js = r.as_json()
    assert js["differences"] == 5 and js["rules"][0]["missing"] == 5 and len(js["rules"][0]["shown"]) == 2


def test_row_ids_split_back_into_key_values():
    assert split_id('alias:[3,"zh"]') == ("alias", [3, "zh"])
    assert split_id("relation:[77]") == ("relation", [77])
    assert split_id("made by hand") is None and split_id("x:[not json") is None


def test_the_stored_rule_drops_none_and_the_int_range_is_checked_on_the_hot_path():
    assert stored({"a": 1, "b": None, "c": "{}", "d": []}) == {"a": 1, "c": "{}", "d": []}
    cols = Columns({"big": "big", "n": Column(column="n", type="int")}, Options())
    assert cols.props({"big": 2**63 - 1, "n": -(2**63)}) == {"big": 2**63 - 1, "n": -(2**63)}
    for row in ({"big": 2**64 - 1}, {"n": 2**63}):
        with pytest.raises(ChangeError, match="64-bit"):
            cols.props(row)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_settle_waits_for_a_moving_checkpoint_to_pass_the_position():
    clock = _Clock()
    cps = iter([{"file": "b.1", "pos": 10}, {"file": "b.1", "pos": 50}, {"file": "b.2", "pos": 4}])
    last = {}

    def cp():
        nonlocal last
        last = next(cps, last)
        return last

    s = Settle(cp, VerifyOptions(wait_s=30, idle_s=2, poll_s=0.5), clock, clock.sleep)
    assert s(("b.1", 900)) == "passed" and clock.now == 1.0


def test_settle_stops_waiting_when_no_sync_moves_the_checkpoint_and_then_does_not_wait_again():
    clock = _Clock()
    s = Settle(lambda: {"file": "b.1", "pos": 10}, VerifyOptions(wait_s=30, idle_s=2, poll_s=0.5), clock, clock.sleep)
    assert s(("b.1", 900)) == "idle" and 2.0 <= clock.now < 3.0
    before = clock.now
    assert s(("b.1", 950)) == "idle" and clock.now == before  # one re-check at once
    assert s(None) == "idle"  # no position readable (SELECT-only user)


def test_settle_gives_up_at_the_deadline():
    clock = _Clock()
    n = iter(range(10**6))
    s = Settle(lambda: {"file": "b.1", "pos": 10 + next(n)}, VerifyOptions(wait_s=5, idle_s=2, poll_s=0.5), clock, clock.sleep)
    assert s(("b.9", 4)) == "deadline" and clock.now == 5.0
