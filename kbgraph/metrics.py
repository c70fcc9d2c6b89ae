"""Prometheus metrics of a running sync (``kbgraph sync --metrics-port PORT``)."""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from kbgraph.pipeline import RunStats


def histogram_internals(histogram: Any) -> tuple[list[Any], list[float], Any] | None:
    """prometheus-client's private per-bucket counters, upper bounds and sum of a histogram (a
    labelled child), or None when its layout is not the expected one. The fast path of
    ``observe_all`` rests on them; ``test_gaps_and_metrics`` fails when an upgrade changes them, so
    that the slow fallback is never taken silently."""
    buckets = getattr(histogram, "_buckets", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    total = getattr(histogram, "_sum", None)
    if not isinstance(buckets, list) or not isinstance(bounds, list) or len(buckets) != len(bounds) \
            or not all(callable(getattr(x, "inc", None)) for x in (*buckets, total)):
        return None
    return buckets, bounds, total


def observe_all(histogram: Any, values: list[float]) -> None:
    """What ``observe(v)`` for each of ``values`` records, in one pass: sorted, then counted per
    bucket by bisection (prometheus-client keeps a sum and per-bucket counts; when its internals are
    not the expected ones, it falls back to one ``observe`` per value). Sorts ``values`` in place."""
    internals = histogram_internals(histogram)
    if internals is None:
        for v in values:
            histogram.observe(v)
        return
    buckets, bounds, total = internals
    if not values:
        return
    values.sort()
    total.inc(sum(values))
    done = 0
    for i, bound in enumerate(bounds):
        upto = bisect_right(values, bound)  # observe() puts v in the first bucket with v <= bound
        if upto > done:
            buckets[i].inc(upto - done)
            done = upto
        if done == len(values):
            break


class Metrics:
    """Mirrors a pipeline's counts into Prometheus series; call it as the pipeline's progress hook."""

    def __init__(self, pipeline: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = {"pipeline": pipeline}
        r = self.registry
        self.changes = Counter("kbgraph_changes", "changes applied to the graph", ["pipeline"], registry=r).labels(**labels)
        self.dead = Counter("kbgraph_dead_letters", "changes sent to the dead-letter store", ["pipeline"], registry=r).labels(**labels)
        self.txs = Counter("kbgraph_graph_transactions", "graph transactions committed", ["pipeline"], registry=r).labels(**labels)
        self.lag = Gauge("kbgraph_lag_seconds", "now minus the source commit time of the last change written",
                         ["pipeline"], registry=r).labels(**labels)
        self.rate = Gauge("kbgraph_changes_per_second", "changes per second since the run started", ["pipeline"],
                          registry=r).labels(**labels)
        self.waiting = Gauge("kbgraph_outage_seconds", "how long the run has been waiting for an unreachable graph "
                             "(0 when it is not waiting)", ["pipeline"], registry=r).labels(**labels)
        self.outages = Counter("kbgraph_outages", "outages of the graph this run waited out (or is waiting out)",
                               ["pipeline"], registry=r).labels(**labels)
        self.visible = Histogram(
            "kbgraph_commit_to_visible_seconds", "source commit time of each change to the graph commit that made it "
            "visible (binlog timestamps have whole seconds)", ["pipeline"], registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, math.inf)).labels(**labels)
        self.commit = Histogram(
            "kbgraph_batch_commit_seconds", "latency of each graph transaction (a batch with its checkpoint)",
            ["pipeline"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, math.inf)).labels(**labels)
        self.dead_kind = Counter("kbgraph_dead_letters_by_reason", "dead letters by reason kind (graph, conversion, "
                                 "allow_list, null_key, key_value, attribute, schema, other; decode: a Kafka record "
                                 "that does not decode)", ["pipeline", "reason"],
                                 registry=r)
        self.checkpoint_ts = Gauge("kbgraph_checkpoint_timestamp_seconds", "unix time of the last checkpoint this run "
                                   "committed (NaN before the first)", ["pipeline"], registry=r).labels(**labels)
        self.checkpoint_ts.set(math.nan)
        self.since = Gauge("kbgraph_seconds_since_checkpoint", "seconds since this run last committed a checkpoint "
                           "(since the run started, before the first)", ["pipeline"], registry=r).labels(**labels)
        self.since.set_function(self._since)
        self.unrepresentable = Counter("kbgraph_unrepresentable_values", "values the graph cannot represent (zero and "
                                       "partial dates) written as NULL, per schema.table.column", ["pipeline", "column"],
                                       registry=r)
        self._pipeline = pipeline
        self._started = time.time()
        self._checkpoint_at: float | None = None
        self._batches = 0
        self._kinds: dict[str, int] = {}
        self._gaps: dict[str, int] = {}
        self._seen = (0, 0, 0)
        self._outages = 0

    def _since(self) -> float:
        return time.time() - (self._checkpoint_at or self._started)

    def __call__(self, stats: RunStats) -> None:
        c = stats.counts
        changes, dead, txs = c.changes, c.dead_letters, c.transactions
        self.changes.inc(changes - self._seen[0])
        self.dead.inc(dead - self._seen[1])
        self.txs.inc(txs - self._seen[2])
        self._seen = (changes, dead, txs)
        self.rate.set(stats.rate)
        self.waiting.set(stats.outage.waited() if stats.outage is not None else 0)
        self.outages.inc(stats.outages - self._outages)
        self._outages = stats.outages
        if stats.lag_ms is not None:
            self.lag.set(stats.lag_ms / 1000)
        for seconds in stats.commit_s:
            self.commit.observe(seconds)
        del stats.commit_s[:]
        if stats.batches != self._batches and stats.committed_at is not None:
            self._batches = stats.batches
            self._checkpoint_at = stats.committed_at
            self.checkpoint_ts.set(stats.committed_at)
            now_ms = stats.committed_at * 1000
            # the one piece of per-change work: its lag, then one pass over the batch's lags
            observe_all(self.visible, [max(0.0, now_ms - ts) / 1000 for ts in
                                       (item.change.ts_ms for item in stats.batch) if ts is not None])
        kinds = dict(c.dead_by_kind)
        for kind, n in (stats.source_dead or {}).items():
            kinds[kind] = kinds.get(kind, 0) + n
        for kind, n in kinds.items():
            if n != self._kinds.get(kind, 0):
                self.dead_kind.labels(self._pipeline, kind).inc(n - self._kinds.get(kind, 0))
                self._kinds[kind] = n
        if stats.unrepresentable is not None:
            for column, n in stats.unrepresentable.snapshot().items():
                if n != self._gaps.get(column, 0):
                    self.unrepresentable.labels(self._pipeline, column).inc(n - self._gaps.get(column, 0))
                    self._gaps[column] = n

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        return start_http_server(port, addr=addr, registry=self.registry)
