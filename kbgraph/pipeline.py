"""The pipeline: a reader thread (source → changes → graph operations) and a writer (batches →
graph), joined by a bounded queue so that neither waits for the other and memory stays flat.

Batches hold whole source transactions; a transaction larger than ``batch_size`` is split (its
changes' positions say how far inside it they are). A batch is flushed when it is full or when
``flush_ms`` has passed since its first change.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kbgraph.checkpoint import read_checkpoint
from kbgraph.errors import ChangeError, KbgraphError
from kbgraph.graph.schema import require_schema
from kbgraph.mapping.rules import CompiledMapping
from kbgraph.outage import Outage, Patience
from kbgraph.sink.breaker import Breaker
from kbgraph.sink.target import GraphTarget
from kbgraph.sink.writer import TRANSIENT, Counts, GraphWriter, Item
from kbgraph.sources import Source
from kbgraph.unrepresentable import Unrepresentable

log = logging.getLogger(__name__)


class _End:
    pass


@dataclass
class _Failure:
    error: BaseException


@dataclass
class _FlushRequest:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class RunStats:
    counts: Counts
    position: dict[str, Any]
    seconds: float
    last_ts_ms: int | None = None  # source commit time of the last change written
    graph_outage: Outage | None = None  # the graph's outage the run waits out right now, if any
    source_outage: Outage | None = None  # the source's server the run waits for right now, if any
    outages: int = 0  # outages waited out (or being waited out) in this run
    # for the metrics hook: the last batch committed (its changes' ts_ms give commit-to-visible) and
    # when; the graph transactions' latencies since the hook last took them; values written as NULL
    batch: list[Any] = field(default_factory=list)
    batches: int = 0  # batches committed in this run (a hook called again for the same one skips it)
    committed_at: float | None = None  # time.time() of the last graph commit (checkpoint) of this run
    commit_s: list[float] = field(default_factory=list)
    unrepresentable: Unrepresentable | None = None  # values written as NULL, of the source, if it has any
    source_dead: Mapping[str, int] | None = None  # dead letters a source sends itself, by kind (Kafka: decode)

    @property
    def outage(self) -> Outage | None:
        """What the run waits for right now: the graph's outage first, else the source's."""
        return self.graph_outage or self.source_outage

    @property
    def rate(self) -> float:
        return self.counts.changes / self.seconds if self.seconds > 0 else 0.0

    @property
    def lag_ms(self) -> int | None:
        return None if self.last_ts_ms is None else max(0, int(time.time() * 1000) - self.last_ts_ms)


class PipelineContext:
    """The ``SourceContext`` a pipeline hands its source: stop, flush, checkpoint, source outages."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.stopping = pipeline._stopping
        self._pipeline = pipeline

    def flush(self) -> None:
        req = _FlushRequest()
        self._pipeline._put(req)
        while not req.done.wait(0.2):
            if self._pipeline._writer_failed.is_set():
                raise KbgraphError("the writer stopped before the flush completed")
            if self._pipeline._writer_done.is_set():
                return  # the writer finished after committing everything it was given

    def checkpoint(self) -> dict[str, Any]:
        p = self._pipeline
        return read_checkpoint(p._driver, p.target.database, p.name)

    def source_outage(self, outage: Outage | None) -> None:
        """A source waits for its server (or no longer): shown in the progress line like a graph outage."""
        stats = self._pipeline._stats
        if stats is None:
            return
        shown = stats.graph_outage is None  # the graph's wait is shown first
        stats.source_outage = outage
        if shown and self._pipeline.progress is not None:
            self._pipeline.progress(stats)


class Pipeline:
    def __init__(
        self,
        mapping: CompiledMapping,
        target: GraphTarget,
        *,
        name: str,
        batch_size: int = 1000,
        flush_ms: int = 200,
        queue_size: int = 10_000,
        on_error: str = "dead_letter",
        progress: Callable[[RunStats], None] | None = None,
        check_schema: bool = True,
        outage_max_s: float | None = None,
        outage_cap_s: float = 10.0,
        breaker: Breaker | None = None,
    ) -> None:
        if on_error not in ("dead_letter", "stop"):
            raise KbgraphError(f"on_error must be 'dead_letter' or 'stop', not {on_error!r}")
        self.mapping = mapping
        self.target = target
        self.name = name
        self.batch_size = batch_size
        self.flush_s = flush_ms / 1000
        self.on_error = on_error
        self.progress = progress
        self.check_schema = check_schema
        self.outage_max_s = outage_max_s  # give up after an outage this long (None: wait forever)
        self.outage_cap_s = outage_cap_s  # longest pause between attempts while the graph is unreachable
        self.breaker = breaker
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(queue_size, batch_size))
        self._stopping = threading.Event()
        self._writer_failed = threading.Event()
        self._writer_done = threading.Event()
        self._driver: Any = None
        self._stats: RunStats | None = None

    def stop(self) -> None:
        """Ask the run to end: complete source transactions already read are committed."""
        self._stopping.set()

    # -- reader --------------------------------------------------------------------------------
    def _put(self, item: Any) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._writer_failed.is_set():
                    raise _WriterGone() from None

    def _read(self, source: Source, start: dict[str, Any]) -> None:
        translate = self.mapping.translate
        try:
            for change in source.changes(start, PipelineContext(self)):
                try:
                    item = Item(change, translate(change))
                except ChangeError as e:
                    item = Item(change, e.ops, e)
                self._put(item)
                if self._stopping.is_set():
                    break
        except _WriterGone:
            return
        except BaseException as e:  # noqa: BLE001 - handed to the writer thread, which re-raises it
            try:
                self._put(_Failure(e))
            except _WriterGone:
                return
        try:
            self._put(_End())
        except _WriterGone:
            pass

    # -- writer --------------------------------------------------------------------------------
    def run(self, source: Source) -> RunStats:
        started = time.monotonic()
        self._driver = self.target.driver()
        stats = self._stats = RunStats(Counts(), {}, 0.0)
        patience = self._patience(stats)
        try:
            start = patience.call(self._start, TRANSIENT)
            writer = GraphWriter(self._driver, self.target.database, self.name, self.on_error, source.report,
                                 patience=patience, breaker=self.breaker)
            writer.position.update(start)
            stats.counts, stats.position = writer.counts, writer.position
            writer.commit_seconds = stats.commit_s
            stats.unrepresentable = source.unrepresentable
            stats.source_dead = source.dead_by_kind
            reader = threading.Thread(target=self._read, args=(source, start), name="kbgraph-reader", daemon=True)
            reader.start()
            try:
                self._write_loop(writer, source, stats, started)
            except BaseException:
                self._writer_failed.set()
                self._stopping.set()
                raise
            finally:
                self._writer_done.set()
                reader.join(timeout=10)
            stats.seconds = time.monotonic() - started
            return stats
        finally:
            try:
                source.close()
            finally:
                self._driver.close()

    def _start(self) -> dict[str, Any]:
        if self.check_schema:
            require_schema(self._driver, self.target.database, self.mapping)
        return read_checkpoint(self._driver, self.target.database, self.name)

    def _patience(self, stats: RunStats) -> Patience:
        def show(outage: Outage | None) -> None:
            stats.graph_outage = outage
            stats.outages = patience.outages
            if self.progress is not None:
                self.progress(stats)

        patience = Patience(f"the graph at {self.target.uri}", max_wait_s=self.outage_max_s,
                            stopping=self._stopping, cap_s=self.outage_cap_s, on_change=show)
        return patience

    def _write_loop(self, writer: GraphWriter, source: Source, stats: RunStats, started: float) -> None:
        buf: list[Item] = []
        boundary = 0  # buf[:boundary] are whole source transactions
        first_at = 0.0

        def flush(n: int) -> None:
            nonlocal buf, boundary
            if n <= 0:
                return
            part, buf = buf[:n], buf[n:]
            boundary = max(0, boundary - n)
            writer.write(part)
            stats.batch, stats.committed_at = part, time.time()
            stats.batches += 1
            last = part[-1].change
            if last.ts_ms is not None:
                stats.last_ts_ms = last.ts_ms
            stats.seconds = time.monotonic() - started
            source.committed(dict(writer.position))
            if self.progress is not None:
                self.progress(stats)
            del stats.commit_s[:]  # taken by the hook (or nobody wants them)

        while True:
            timeout = None
            if boundary:
                timeout = max(0.0, first_at + self.flush_s - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                flush(boundary)
                first_at = time.monotonic()
                continue
            if isinstance(item, Item):
                if not buf:
                    first_at = time.monotonic()
                buf.append(item)
                if item.change.tx_end:
                    boundary = len(buf)
                if len(buf) >= self.batch_size:
                    flush(boundary or len(buf))  # whole transactions; or split one larger than a batch
                    first_at = time.monotonic()
                elif boundary and time.monotonic() - first_at >= self.flush_s:
                    flush(boundary)
                    first_at = time.monotonic()
            elif isinstance(item, _FlushRequest):
                flush(len(buf))
                item.done.set()
            elif isinstance(item, _Failure):
                flush(len(buf))  # everything read before the failure is committed with its position
                raise item.error
            elif isinstance(item, _End):
                # a source that ended by itself: commit all; one that was stopped: whole transactions only
                flush(boundary if self._stopping.is_set() else len(buf))
                return


class _WriterGone(Exception):
    pass

