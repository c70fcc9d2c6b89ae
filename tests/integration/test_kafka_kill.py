"""SIGKILL a running `kbgraph sync --source kafka` at ten random points while a producer keeps
writing native records, restarting it each time; after a final catch-up run the graph equals the
graph of the final rows: no divergence, nothing doubled, no dead letters (``tests/support/kill_soak.py``)."""

from __future__ import annotations

import pytest

from tests.support.kill_soak import dead_letters, kafka_soak

pytestmark = pytest.mark.integration
KILLS = 10


def test_sigkill_at_random_points_then_restart(kafka_bootstrap, graph, graph_server, tmp_path):
    report = kafka_soak(kafka_bootstrap, graph_server, graph, tmp_path, points=KILLS, seed=7,
                        label_switch=not graph_server.is_stand_in)
    print("\n" + report.line())
    assert len(report.recoveries) == KILLS
    assert report.changes > 100
    assert dead_letters(graph, graph_server.database) == 0
    assert (report.divergences, report.duplicates) == (0, 0), report.diff
