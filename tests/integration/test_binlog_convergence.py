"""The core's convergence test through the real binlog: a random workload executed as SQL on
MariaDB, a snapshot, then sync (twice, resuming) must give the graph a from-scratch snapshot load
of the final rows gives."""

from __future__ import annotations

import pytest

from kbgraph.graph.schema import apply_schema
from kbgraph.verify import dump_graph
from tests.support.binlog import scratch_dump, snapshot_into, sync_into, target_of
from tests.support.kb_sql import kb_setup
from tests.support.mysql import mysql_connect
from tests.support.sql_workload import SqlWorkload

pytestmark = pytest.mark.integration
SEEDS = range(10)


@pytest.mark.parametrize("seed", SEEDS)
def test_binlog_stream_converges_to_a_from_scratch_load(seed, mysql_url, mysql_db, graph, graph_server, tmp_path):
    mapping = kb_setup(mysql_url, mysql_db, tmp_path)
    target = target_of(graph_server)
    apply_schema(graph, target.database, mapping)
    conn = mysql_connect(mysql_url, mysql_db)
    try:
        work = SqlWorkload(conn, seed, label_switch=not graph_server.is_stand_in)
        work.run(30)
        snapshot_into(mysql_url, mapping, target, "conv", chunk=17)
        work.run(100)
        batch = [2, 50, 2000, 9][seed % 4]  # 2 and 9 split transactions over batches
        first = sync_into(mysql_url, mapping, target, "conv", batch_size=batch)
        work.run(50)
        second = sync_into(mysql_url, mapping, target, "conv", batch_size=batch)
    finally:
        conn.close()
    assert work.committed > 120
    assert first.counts.changes > 0 and second.counts.changes > 0
    assert first.counts.dead_letters == 0 and second.counts.dead_letters == 0
    streamed = dump_graph(graph, target.database)
    expected = scratch_dump(mysql_url, mapping, target, graph)
    assert sum(expected.nodes.values()) > 25 and sum(expected.relationships.values()) > 15
    assert streamed == expected, streamed.diff(expected)
