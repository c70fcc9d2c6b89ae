"""One way to build a ``Pipeline`` from settings and run a source until it ends or SIGINT/SIGTERM.

Used by ``sync`` (and ``demo``, through it) and ``snapshot``; ``publish`` shares ``stop_on_signals``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from kbgraph.outage import OncePer, OncePerLogger
from kbgraph.pipeline import Pipeline, RunStats
from kbgraph.sink.breaker import Breaker
from kbgraph.sink.target import from_settings as target_from_settings

if TYPE_CHECKING:
    from kbgraph.mapping.rules import CompiledMapping
    from kbgraph.settings import Settings
    from kbgraph.sources import Source

Hook = Callable[[RunStats], None]


@dataclass
class Stop:
    """Whether SIGINT/SIGTERM arrived while ``stop_on_signals`` was in force."""

    requested: bool = False


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[Stop]:
    """Call ``stop`` on SIGINT/SIGTERM (the run then ends cleanly at its next step); the previous
    handlers come back on exit."""
    flag = Stop()

    def _stop(signum: int, frame: FrameType | None) -> None:
        flag.requested = True
        stop()

    old = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextmanager
def quiet_client_logs() -> Iterator[None]:
    """The graph driver logs every retry and kafka-python every failed reconnect: once per minute
    each while the run is on (kbgraph says itself what it waits for)."""
    retries = OncePer("Transaction failed and will be retried")
    driver_log = logging.getLogger("neo4j.session")
    driver_log.addFilter(retries)
    kafka_quiet = OncePerLogger("kafka.")
    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(kafka_quiet)
    try:
        yield
    finally:
        driver_log.removeFilter(retries)
        for h in handlers:
            h.removeFilter(kafka_quiet)


def build_pipeline(s: Settings, m: CompiledMapping) -> Pipeline:
    """The pipeline the settings describe: the graph target, batching, error policy, outage limits,
    circuit breaker. Raises the user-facing error when no graph is set."""
    breaker = Breaker(s.breaker_consecutive, s.breaker_ratio, s.breaker_window)
    return Pipeline(m, target_from_settings(s), name=s.pipeline, batch_size=s.batch_size, flush_ms=s.flush_ms,
                    queue_size=s.queue_size, on_error=s.on_error, outage_max_s=s.outage_max_s,
                    outage_cap_s=s.outage_cap_s, breaker=breaker)


def run_until_signal(pipeline: Pipeline, source: Source, hooks: list[Hook] | None = None) -> tuple[RunStats, bool]:
    """Run ``source`` through ``pipeline`` until it ends or SIGINT/SIGTERM stops it: (the run's
    stats, whether a signal stopped it). ``hooks`` receive the stats as the run goes (progress
    display, metrics). Raises what the pipeline raises (``StoppedWaiting`` when a signal came while
    the graph was unreachable)."""
    if hooks:
        every = list(hooks)

        def progress(stats: RunStats) -> None:
            for hook in every:
                hook(stats)

        pipeline.progress = progress
    with stop_on_signals(pipeline.stop) as stopped, quiet_client_logs():
        stats = pipeline.run(source)
    return stats, stopped.requested
