"""SIGKILL a running `kbgraph sync --source binlog` at ten random points while a writer keeps
writing, restarting it each time; after a final catch-up run the graph equals a from-scratch load of
the rows: no divergence, nothing doubled (``tests/support/kill_soak.py``; ``bench/kill_soak.py`` does 50)."""

from __future__ import annotations

import pytest

from tests.support.kill_soak import binlog_soak

pytestmark = pytest.mark.integration
KILLS = 10


def test_sigkill_at_random_points_then_restart(mysql_url, graph, graph_server, tmp_path):
    report = binlog_soak(mysql_url, graph_server, graph, tmp_path, points=KILLS, seed=5, server_id=4971,
                         label_switch=not graph_server.is_stand_in)
    print("\n" + report.line())
    assert len(report.recoveries) == KILLS  # every run committed before it was killed
    assert report.changes > 50
    assert (report.divergences, report.duplicates) == (0, 0), report.diff
