"""A graph outage mid-stream: the server process is really stopped, then started again on the same
port and data; the sync waits by itself and carries on from its checkpoint, nothing lost or doubled."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kbgraph.checkpoint import read_checkpoint
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline, RunStats
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource, rows_as_inserts
from kbgraph.verify import dump_graph, reset_graph
from tests.support.change_workload import Workload
from tests.support.graph import graph_is_stand_in
from tests.support.outage import RestartableGraph

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
MAPPING = ROOT / "tests" / "kb_mapping.yaml"
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


def test_sigterm_while_waiting_exits_0_and_a_sync_started_during_the_outage_waits(server, mapping, tmp_path):
    """The command line: the wait is logged once (not per retry) and shown in the progress line,
    SIGTERM ends it at once with exit 0; a sync started while the graph is still down waits for it,
    then resumes at the checkpoint; nothing lost, nothing doubled, no dead letters."""
    rows = [{"id": i, "type": "Person", "name": f"n{i}", "born_on": None, "meta": None, "score": None,
             "deleted": 0, "parent_id": None} for i in range(1, 2001)]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"schema": "kb", "table": "entity", "op": "insert", "after": r}) + "\n"
                            for r in rows))
    _prepare(server, mapping)
    env = {"PATH": "/usr/bin:/bin", "NEO4J_URI": server.uri, "NEO4J_USERNAME": server.user,
           "NEO4J_PASSWORD": server.password, "NEO4J_DATABASE": server.database, "KBGRAPH_PIPELINE": "sigterm",
           "KBGRAPH_BATCH_SIZE": "5", "KBGRAPH_GRAPH_RETRY_S": "1", "KBGRAPH_OUTAGE_CAP_S": "1"}
    sync = [sys.executable, "-m", "kbgraph", "sync", "--changes", str(feed), "--mappings", str(MAPPING)]
    log = tmp_path / "stderr.txt"

    def checkpoint_line() -> int:
        with server.driver() as d:
            return read_checkpoint(d, server.database, "sigterm").get("line", 0)

    out = tmp_path / "stdout.txt"

    def attempts_shown() -> int:  # the progress line (every 5 s off a terminal) shows the wait
        found = re.findall(r"waiting for the graph at bolt://\S+ since \S+ \(\d+ s,\s+(\d+)\s+attempt", out.read_text())
        return int(found[-1]) if found else 0

    with log.open("w") as err, out.open("w") as stdout:
        proc = subprocess.Popen(sync, env=env, cwd=ROOT, stdout=stdout, stderr=err)
    try:
        _until(lambda: checkpoint_line() > 0, "the first commits")
        server.stop()
        _until(lambda: attempts_shown() >= 3, "the sync to try three times and show it")
        proc.send_signal(signal.SIGTERM)  # what systemd does
        assert proc.wait(DEADLINE) == 0
        text = log.read_text()
        assert "stopped: asked to stop while waiting for the graph at bolt://" in text, text
        assert text.count("is unreachable") == 1 and "Traceback" not in text and server.password not in text
        # the driver logs each of its own retries: at least one per attempt, let through once a minute
        assert text.count("Transaction failed and will be retried") <= 1 + _minutes(text)

        # a sync started while the graph is still down waits for it too, then resumes at the checkpoint
        log2, out2 = tmp_path / "stderr2.txt", tmp_path / "stdout2.txt"
        with log2.open("w") as err, out2.open("w") as stdout:
            proc2 = subprocess.Popen(sync, env={**env, "KBGRAPH_BATCH_SIZE": "500"}, cwd=ROOT, stdout=stdout, stderr=err)
        _until(lambda: "is unreachable" in log2.read_text(), "the second sync to wait for the graph")
        server.start()
        assert proc2.wait(DEADLINE) == 0, log2.read_text()
    finally:
        for p in (proc, locals().get("proc2")):
            if p is not None and p.poll() is None:
                p.kill()
        server.start()
    assert "is back after" in log2.read_text()
    resumed = re.search(r"done: ([\d,]+) changes", out2.read_text())
    assert resumed, out2.read_text()
    assert 0 < int(resumed.group(1).replace(",", "")) < len(rows)  # the rest, after the first run's checkpoint
    with server.driver() as d:
        assert checkpoint_line() == len(rows)
        dead = d.execute_query("MATCH (x:KbDeadLetter) RETURN count(x) AS n", database_=server.database).records
        assert dead[0]["n"] == 0  # the batch in flight when the server went down is not a dead letter
        streamed = dump_graph(d, server.database)
    expected = expected_graph(mapping, rows_as_inserts({("kb", "entity"): rows})).dump()
    assert streamed == expected, streamed.diff(expected)


def _minutes(text: str) -> int:
    """Whole minutes the sync waited, by its own log (a "still waiting" line per minute)."""
    return text.count("still waiting for the graph")


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_batch_whose_commit_answer_was_lost_is_not_written_again(server, mapping):
    """After a failed attempt the writer asks the checkpoint whether the batch had committed after all."""
    from kbgraph.change import Change
    from kbgraph.sink.writer import GraphWriter, Item

    _prepare(server, mapping)
    rows = [Change("entity", "insert", None, {"id": i, "type": "Person", "name": f"n{i}", "deleted": 0},
                   position={"seq": i}, schema="kb") for i in range(1, 7)]
    items = [Item(c, mapping.translate(c)) for c in rows]
    with server.driver() as d:
        first = GraphWriter(d, server.database, "lost")
        first.write(items[:3])  # committed; suppose its answer never reached the writer
        again = GraphWriter(d, server.database, "lost")  # knows only what came before the batch
        assert again._already_committed(items[:3])
        assert again.position == {"seq": 3} and again.counts.changes == 3 and again.counts.transactions == 1
        assert not again._already_committed(items[3:])  # this one did not commit: it is written
        again.write(items[3:])
        assert read_checkpoint(d, server.database, "lost") == {"seq": 6}


def test_a_dead_letter_is_reported_to_the_source_only_after_its_commit(server, mapping):
    """``Source.report`` (the Kafka source produces the dead letter to its topic there) is called once
    the transaction holding the ``:KbDeadLetter`` node committed: while the graph is down and the
    batch's commit fails, nothing is reported; once the graph is back, the batch commits and its dead
    letter is reported exactly once."""
    from kbgraph.change import Change

    target = _prepare(server, mapping)
    row = {"id": 1, "type": "Person", "name": "n1", "born_on": None, "meta": None, "score": None, "deleted": 0,
           "parent_id": None}
    changes = [Change("entity", "insert", None, {**row, "id": 2, "type": "Robot"}, schema="kb"),  # not an allowed label
               Change("entity", "insert", None, row, schema="kb")]

    class StopsTheGraph(ListSource):
        def changes(self, start, ctx):
            server.stop()  # after the run started: the first batch, with the dead letter, meets a graph that is down
            yield from super().changes(start, ctx)

    source = StopsTheGraph(changes)
    while_down: list[list] = []
    waiting = threading.Event()

    def hook(stats: RunStats) -> None:
        if stats.outage is not None:
            while_down.append(list(source.reported))
            waiting.set()

    pipeline = Pipeline(mapping, target, name="report", batch_size=10, outage_cap_s=1.0, progress=hook)
    result: dict[str, object] = {}
    runner = threading.Thread(target=lambda: result.update(stats=pipeline.run(source)), daemon=True)
    runner.start()
    try:
        _wait(waiting, "the sync to wait for the graph")
        server.start()
        runner.join(DEADLINE)
        assert not runner.is_alive(), "the sync did not finish after the graph came back"
    finally:
        pipeline.stop()
        server.start()
        runner.join(DEADLINE)
    stats = result["stats"]
    assert isinstance(stats, RunStats)
    assert while_down and all(seen == [] for seen in while_down)  # a failed commit reports nothing
    assert [(c.after["id"], "'Robot'" in reason) for c, reason in source.reported] == [(2, True)]
    assert stats.counts.dead_letters == 1 and stats.counts.dead_by_kind == {"allow_list": 1} and stats.outages >= 1
    with server.driver() as d:
        dead = d.execute_query("MATCH (x:KbDeadLetter) RETURN count(x) AS n", database_=server.database).records
        assert dead[0]["n"] == 1
        assert read_checkpoint(d, server.database, "report") == {"seq": 2}
