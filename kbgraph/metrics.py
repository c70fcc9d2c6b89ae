"""Prometheus metrics of a running sync (``kbgraph sync --metrics-port PORT``)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from kbgraph.pipeline import RunStats


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
        self._seen = (0, 0, 0)
        self._outages = 0

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

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        return start_http_server(port, addr=addr, registry=self.registry)
