"""A graph outage mid-stream: the server process is really stopped, then started again on the same
port and data; the sync waits by itself and carries on from its checkpoint, nothing lost or doubled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.outage import StoppedWaiting
from kbgraph.pipeline import Pipeline, RunStats
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource, rows_as_inserts
from kbgraph.verify import dump_graph, reset_graph
from tests.support.graph import graph_is_stand_in
from tests.support.outage import RestartableGraph
from tests.workload import Workload

pytestmark = pytest.mark.integration
MAPPING = Path(__file__).parents[1] / "kb_mapping.yaml"
DEADLINE = 90.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    g = RestartableGraph(tmp_path_factory.mktemp("outage-graph"))
    try:
        yield g
    finally:
        g.close()


@pytest.fixture
def mapping():
    return compile_mappings([MAPPING])


def _prepare(server, mapping) -> GraphTarget:
    with server.driver() as d:
        reset_graph(d, server.database)
        apply_schema(d, server.database, mapping)
    # a short driver retry window, so that the test sees kbgraph's own waiting, not only the driver's
    return GraphTarget(server.uri, server.user, server.password, server.database, retry_s=1.0)


class Outage:
    """Progress hook: the first time the run has committed ``after`` changes, it holds the writer
    until the test has stopped the server; it records what the run shows while it waits."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.reached = threading.Event()
        self.down = threading.Event()
        self.waiting = threading.Event()
        self.shown: list[str] = []
        self.healed_at = 0.0

    def __call__(self, stats: RunStats) -> None:
        if stats.outage is not None:
            self.shown.append(stats.outage.describe())
            self.waiting.set()
        elif self.waiting.is_set() and not self.healed_at:
            self.healed_at = time.monotonic()
        if not self.reached.is_set() and stats.counts.changes >= self.after:
            self.reached.set()
            assert self.down.wait(DEADLINE)


def _wait(event: threading.Event, what: str) -> None:
    assert event.wait(DEADLINE), f"timed out waiting for {what}"


def test_sync_waits_for_the_graph_and_carries_on(server, mapping):
    work = Workload(7, label_switch=not graph_is_stand_in())
    changes = work.run(400)
    target = _prepare(server, mapping)
    hook = Outage(after=150)
    pipeline = Pipeline(mapping, target, name="outage", batch_size=100, outage_cap_s=1.0, progress=hook)
    result: dict[str, object] = {}
    runner = threading.Thread(target=lambda: result.update(stats=pipeline.run(ListSource(changes))), daemon=True)
    runner.start()
    try:
        _wait(hook.reached, "the first commits")
        server.stop()  # the real server process ends
        hook.down.set()
        _wait(hook.waiting, "the sync to notice the outage and wait")
        server.start()
        up = time.monotonic()
        runner.join(DEADLINE)
        assert not runner.is_alive(), "the sync did not finish after the graph came back"
    finally:
        pipeline.stop()
        hook.down.set()
        runner.join(DEADLINE)
    stats = result["stats"]
    assert isinstance(stats, RunStats)
    print(f"\nrecovery: first commit {hook.healed_at - up:.2f} s after the server answered again")
    assert stats.counts.changes == len(changes) and stats.outages == 1 and stats.outage is None
    assert stats.counts.dead_letters == 0
    assert any("waiting for the graph at bolt://" in s for s in hook.shown)
    with server.driver() as d:
        assert read_checkpoint(d, server.database, "outage") == {"seq": len(changes)}
        streamed = dump_graph(d, server.database)
    expected = expected_graph(mapping, rows_as_inserts(work.final_rows())).dump()
    assert sum(expected.nodes.values()) > 50
    assert streamed == expected, streamed.diff(expected)


def test_stop_while_waiting_ends_at_the_checkpoint(server, mapping):
    work = Workload(8, label_switch=not graph_is_stand_in())
    changes = work.run(100)
    target = _prepare(server, mapping)
    hook = Outage(after=40)
    pipeline = Pipeline(mapping, target, name="outage-stop", batch_size=20, outage_cap_s=1.0, progress=hook)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            pipeline.run(ListSource(changes))
        except StoppedWaiting as e:
            result["stopped"] = e

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        _wait(hook.reached, "the first commits")
        server.stop()
        hook.down.set()
        _wait(hook.waiting, "the sync to notice the outage and wait")
        pipeline.stop()  # what SIGTERM / SIGINT do
        runner.join(DEADLINE)
        assert not runner.is_alive(), "the sync did not stop while waiting"
    finally:
        pipeline.stop()
        hook.down.set()
        runner.join(DEADLINE)
        server.start()
    assert "stopped while waiting for the graph" in str(result.get("stopped"))
    with server.driver() as d:
        at = read_checkpoint(d, server.database, "outage-stop")["seq"]
    assert 40 <= at < len(changes)
    # the next run resumes there and the graph is right
    rest = Pipeline(mapping, target, name="outage-stop", batch_size=20).run(ListSource(changes))
    assert rest.counts.changes == len(changes) - at
    with server.driver() as d:
        streamed = dump_graph(d, server.database)
    expected = expected_graph(mapping, rows_as_inserts(work.final_rows())).dump()
    assert streamed == expected, streamed.diff(expected)
