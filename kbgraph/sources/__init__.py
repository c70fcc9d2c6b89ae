"""Sources: adapters that turn what a real client reads into ``Change`` objects, in order.

Every source implements ``Source``. The pipeline runs ``changes()`` in a reader thread and
writes to the graph in another; the ``SourceContext`` is how a source talks back to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from kbgraph.change import Change


class SourceContext(Protocol):
    stopping: threading.Event  # set when the run is asked to stop; a source should return soon

    def flush(self) -> None:
        """Block until every change yielded so far is committed to the graph (with its position).

        The Kafka source calls it when partitions are revoked, before giving them up.
        """

    def checkpoint(self) -> dict[str, Any]:
        """The merged position committed in the graph right now (reads the graph)."""


@runtime_checkable
class Source(Protocol):
    def changes(self, start: dict[str, Any], ctx: SourceContext) -> Iterator[Change]:
        """Yield changes in source order, resuming *after* ``start`` (the merged checkpoint,
        ``{}`` when there is none). Return when the source is exhausted (a file) or when
        ``ctx.stopping`` is set; raise ``kbgraph.errors.SourceError`` for a user-facing problem."""

    def committed(self, position: dict[str, Any]) -> None:
        """Called by the writer after each graph commit, with the merged checkpoint.
        (The Kafka source commits offsets to Kafka here; others may do nothing.)"""

    def close(self) -> None:
        """Release connections. Called once, from the thread that runs the pipeline."""


class StandaloneContext:
    """A ``SourceContext`` for running a source on its own, without a pipeline: ``plan``,
    ``verify``, benchmarks and tests. Nothing to flush; the checkpoint is the one given."""

    def __init__(self, checkpoint: dict[str, Any] | None = None) -> None:
        self.stopping = threading.Event()
        self._checkpoint = dict(checkpoint or {})

    def flush(self) -> None:
        pass

    def checkpoint(self) -> dict[str, Any]:
        return dict(self._checkpoint)
