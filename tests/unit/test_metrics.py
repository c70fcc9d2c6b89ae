"""The Prometheus metrics: the pipeline's counts, mirrored."""

from __future__ import annotations


def test_metrics_mirror_the_pipeline_counts():
    from prometheus_client import generate_latest

    from kbgraph.metrics import Metrics
    from kbgraph.pipeline import RunStats
    from kbgraph.sink.writer import Counts

    m = Metrics("p1")
    stats = RunStats(Counts(changes=10, dead_letters=1, transactions=2), {}, 2.0)
    m(stats)
    stats.counts.changes = 25
    m(stats)
    text = generate_latest(m.registry).decode()
    assert 'kbgraph_changes_total{pipeline="p1"} 25.0' in text
    assert 'kbgraph_dead_letters_total{pipeline="p1"} 1.0' in text
    assert 'kbgraph_changes_per_second{pipeline="p1"} 12.5' in text
