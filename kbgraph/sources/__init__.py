"""Sources: adapters that turn what a real client reads into ``Change`` objects, in order.

Every source implements ``Source`` (most by deriving from ``BaseSource``, whose defaults do
nothing, and stating only what they do). The pipeline runs ``changes()`` in a reader thread and
writes to the graph in another; the ``SourceContext`` is how a source talks back to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kbgraph.change import Change

if TYPE_CHECKING:
    from kbgraph.outage import Outage
    from kbgraph.unrepresentable import Unrepresentable


class SourceContext(Protocol):
    stopping: threading.Event  # set when the run is asked to stop; a source should return soon

    def flush(self) -> None:
        """Block until every change yielded so far is committed to the graph (with its position).

        The Kafka source calls it when partitions are revoked, before giving them up.
        """

    def checkpoint(self) -> dict[str, Any]:
        """The merged position committed in the graph right now (reads the graph)."""

    def source_outage(self, outage: Outage | None) -> None:
        """The source waits for its server (``outage``) or no longer (None): the progress line shows it."""


@runtime_checkable
class Source(Protocol):
    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        """Yield changes in source order, resuming *after* ``start`` (the merged checkpoint,
        ``{}`` when there is none). Return when the source is exhausted (a file) or when
        ``ctx.stopping`` is set; raise ``kbgraph.errors.SourceError`` for a user-facing problem."""

    def committed(self, position: dict[str, Any]) -> None:
        """Called by the writer after each graph commit, with the merged checkpoint.
        (The Kafka source commits offsets to Kafka here; others may do nothing.)"""

    def report(self, change: Change, reason: str) -> None:
        """An errant change: called once per dead letter, after the graph transaction that holds its
        ``:KbDeadLetter`` node committed (the graph keeps the durable record; this is a report, like
        Kafka Connect's ErrantRecordReporter: the Kafka source produces it to its dead-letter topic)."""

    def close(self) -> None:
        """Release connections. Called once, from the thread that runs the pipeline."""

    # what the pipeline reads for its statistics (the progress line, the metrics)
    @property
    def unrepresentable(self) -> Unrepresentable | None:
        """Values the graph cannot represent, written as NULL, per column (None: the source has none)."""

    @property
    def dead_by_kind(self) -> Mapping[str, int]:
        """Dead letters the source sends itself, without the writer, by kind (Kafka: ``decode``)."""


class BaseSource:
    """Defaults for a ``Source``: nothing to report, commit or close; no statistics of its own."""

    unrepresentable: Unrepresentable | None = None
    dead_by_kind: Mapping[str, int] = MappingProxyType({})

    def committed(self, position: dict[str, Any]) -> None:
        pass

    def report(self, change: Change, reason: str) -> None:
        pass

    def close(self) -> None:
        pass


class StandaloneContext:
    """A ``SourceContext`` for running a source on its own, without a pipeline: ``plan``,
    ``verify``, benchmarks and tests. Nothing to flush; the checkpoint is the one given; an outage
    is only logged (by the source)."""

    def __init__(self, checkpoint: dict[str, Any] | None = None) -> None:
        self.stopping = threading.Event()
        self._checkpoint = dict(checkpoint or {})

    def flush(self) -> None:
        pass

    def checkpoint(self) -> dict[str, Any]:
        return dict(self._checkpoint)

    def source_outage(self, outage: Outage | None) -> None:
        pass
