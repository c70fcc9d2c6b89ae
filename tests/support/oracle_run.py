"""One oracle case run for real: the case's changes streamed into the graph server several ways, each
compared with the graph of the final rows (the case itself: ``tests/support/oracle.py``)."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

from kbgraph.change import Change
from kbgraph.errors import ChangeError
from kbgraph.expected import expected_graph
from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings
from kbgraph.pipeline import Pipeline
from kbgraph.sink.target import GraphTarget
from kbgraph.sources.memory import ListSource
from kbgraph.verify import dump_graph, reset_graph
from tests.support.oracle import Step, build


def check_case(seed: int, steps: list[Step], graph: Any, server: Any, tmp_path: Path, batch_one: bool = True) -> str | None:
    """None when the case converges, else what differed.

    The changes are streamed at a random batch size, then with some transactions delivered twice
    in a row (at-least-once delivery), then at batch size 1; each time from an empty graph, which
    must end equal to the graph of the final rows, with only the intended dead letters.
    """
    db = build(seed, steps, label_switch=not server.is_stand_in)
    mapping = compile_mappings([db.s.write_mapping(tmp_path / f"m{seed}.yaml")])
    target = GraphTarget(server.uri, server.user, server.password, server.database)
    apply_schema(graph, target.database, mapping)
    rejected: dict[int, int] = {}
    for ch in db.changes:
        try:
            mapping.translate(ch)
            rejected[id(ch)] = 0
        except ChangeError:
            rejected[id(ch)] = 1
    want = expected_graph(mapping, db.final_rows())
    if want.errors:
        return f"final rows do not map: {want.errors[:3]}"
    expected = want.dump()
    r = random.Random(seed)
    batch = r.choice([2, 3, 7, 50, 1000])
    twice = doubled(db.changes, r)
    runs = [(f"batch {batch}", batch, db.changes), ("transactions delivered twice", batch, twice)]
    if batch_one:
        runs.append(("batch 1", 1, db.changes))
    for what, size, changes in runs:
        reset_graph(graph, target.database)
        run = Pipeline(mapping, target, name=f"oracle{seed}-{what}", batch_size=size, flush_ms=60_000).run(
            ListSource([copy.deepcopy(c) for c in changes]))
        intended = sum(rejected[id(c)] for c in changes)
        if run.counts.dead_letters != intended:
            return f"{what}: {run.counts.dead_letters} dead letters, {intended} intended"
        got = dump_graph(graph, target.database)
        if got != expected:
            return f"{what}: the graph differs from the final rows':\n{got.diff(expected)}"
    return None


def doubled(changes: list[Change], r: random.Random) -> list[Change]:
    """The changes with some transactions delivered twice in a row (at-least-once delivery)."""
    out: list[Change] = []
    tx: list[Change] = []
    for c in changes:
        tx.append(c)
        if c.tx_end:
            out += tx + (tx if r.random() < 0.3 else [])
            tx = []
    return out + tx
