"""The regression cases A, B, C, E, L, S, K on the graph server, at several batch sizes.

Each must give the graph of the database's final rows, with no dead letters but the intended
rejections. Which operations they produce, and how batches order them, is tested without a
server in tests/unit/test_case_ops.py.
"""

from __future__ import annotations

import pytest

from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource
from kbgraph.verify import dump_graph, reset_graph
from tests.support.cases import CASES, MAPPING

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mapping():
    return compile_mappings([MAPPING])


@pytest.mark.parametrize("make", [
    f if f().stand_in else pytest.param(f, marks=pytest.mark.needs_neo4j) for f in CASES], ids=lambda f: f.__name__)
@pytest.mark.parametrize("batch", [1, 2, 3, 1000])
def test_case_converges(make, batch, mapping, graph, graph_server):
    case = make()
    target = GraphTarget(graph_server.uri, graph_server.user, graph_server.password, graph_server.database)
    apply_schema(graph, target.database, mapping)
    reset_graph(graph, target.database)
    run = Pipeline(mapping, target, name=f"case{case.name}", batch_size=batch, flush_ms=60_000).run(
        ListSource(case.changes))
    assert run.counts.dead_letters == case.rejected
    want = expected_graph(mapping, case.final_rows())
    assert not want.errors
    got = dump_graph(graph, target.database)
    assert got == want.dump(), got.diff(want.dump())
