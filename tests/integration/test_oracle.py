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

import pytest

from tests.support.oracle import random_steps, shrink
from tests.support.oracle_run import check_case

pytestmark = pytest.mark.integration
CASES = int(os.environ.get("KBGRAPH_ORACLE_CASES", "200"))
STEPS = 40


def test_random_schemas_and_workloads_converge(graph, graph_server, tmp_path):
    failures = []
    for seed in range(CASES):
        steps = random_steps(seed, STEPS)
        problem = check_case(seed, steps, graph, graph_server, tmp_path)
        if problem is None:
            continue
        small = shrink(steps, lambda s, seed=seed: check_case(seed, s, graph, graph_server, tmp_path) is not None)
        failures.append(f"seed {seed}, minimal steps {small}:\n{check_case(seed, small, graph, graph_server, tmp_path)}")
        if len(failures) >= 3:
            break
    assert not failures, "\n\n".join(failures)
