"""The adversarial oracle on the graph server: random schemas, mappings and workloads converge.

Each case is a random schema (composite keys, nullable composite foreign keys, a join table keyed
by its foreign keys, subject/predicate/object tables, EAV as node properties and as property
nodes, soft delete, JSON, DECIMAL, ``label_from`` / ``type_from`` with values outside the
allow-list) and a random workload on it, with key changes onto stubs, re-key chains, delete and
re-insert, and ``ON UPDATE CASCADE`` (see ``tests/support/oracle.py``). For each:

- streamed with a random batch size, the graph equals the graph computed in memory from the final
  rows (``kbgraph.expected``, the same as a snapshot load: see test_convergence);
- streamed one change per batch, it is the same graph;
- the only dead letters are the intended rejections.

A failure is shrunk to a minimal list of steps and printed. ``bench/soak_convergence.py`` runs
thousands of cases.
"""

from __future__ import annotations

import os
import random

import pytest

from kbgraph.errors import ChangeError
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource
from kbgraph.verify import dump_graph, reset_graph
from tests.support.oracle import build, random_steps, shrink

pytestmark = pytest.mark.integration
CASES = int(os.environ.get("KBGRAPH_ORACLE_CASES", "200"))
STEPS = 40


def check_case(seed: int, steps, graph, server, tmp_path) -> str | None:
    """None when the case converges, else what differed."""
    db = build(seed, steps, label_switch=not server.is_stand_in)
    mapping = compile_mappings([db.s.write_mapping(tmp_path / f"m{seed}.yaml")])
    target = GraphTarget(server.uri, server.user, server.password, server.database)
    apply_schema(graph, target.database, mapping)
    intended = 0
    for ch in db.changes:
        try:
            mapping.translate(ch)
        except ChangeError:
            intended += 1
    want = expected_graph(mapping, db.final_rows())
    if want.errors:
        return f"final rows do not map: {want.errors[:3]}"
    expected = want.dump()
    batch = random.Random(seed).choice([2, 3, 7, 50, 1000])
    for size in (batch, 1):
        reset_graph(graph, target.database)
        run = Pipeline(mapping, target, name=f"oracle{seed}", batch_size=size, flush_ms=60_000).run(
            ListSource([c for c in db.changes]))
        if run.counts.dead_letters != intended:
            return f"batch {size}: {run.counts.dead_letters} dead letters, {intended} intended"
        got = dump_graph(graph, target.database)
        if got != expected:
            return f"batch {size}: the graph differs from the final rows':\n{got.diff(expected)}"
    return None


def test_random_schemas_and_workloads_converge(graph, graph_server, tmp_path):
    failures = []
    for seed in range(CASES):
        steps = random_steps(seed, STEPS)
        problem = check_case(seed, steps, graph, graph_server, tmp_path)
        if problem is None:
            continue
        small = shrink(steps, lambda s: check_case(seed, s, graph, graph_server, tmp_path) is not None)
        failures.append(f"seed {seed}, minimal steps {small}:\n{check_case(seed, small, graph, graph_server, tmp_path)}")
        if len(failures) >= 3:
            break
    assert not failures, "\n\n".join(failures)
