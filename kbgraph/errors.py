"""Errors a user can cause. The CLI prints these as one clear line, never as a traceback.

Every error is *terminal* (waiting does not help: stop, or dead-letter the change) unless it is
marked ``Transient`` (a server that does not answer now may answer later: the pipeline waits and
tries again, ``kbgraph.outage.Patience``). The driver's own transient errors are listed once, in
``kbgraph.sink.writer.TRANSIENT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The bounded set of dead-letter reason *kinds* (the metric's label; the reason text itself is free),
# in the order a change with several errors is counted by.
CHANGE_KINDS = ("graph", "conversion", "allow_list", "null_key", "key_value", "attribute", "schema", "other")


class KbgraphError(Exception):
    """Base of every error that is the user's to fix (bad file, bad setting, unreachable server)."""


class Transient(Exception):  # a marker, mixed into an error class
    """Marks an error a wait can cure (an unreachable server): the run waits and tries again."""


class MappingError(KbgraphError):
    """A mapping file is invalid. The message names file, line and key."""


class ChangeError(KbgraphError):
    """One change cannot be translated (bad value, label outside the allow-list, ...).

    The pipeline sends the change to the dead-letter store with this message as its reason, and
    counts it by ``kind`` (one of ``CHANGE_KINDS``, set where the error is raised).
    ``ops`` are the graph operations that still apply: a row whose after image is rejected is
    treated as not in the graph (its node at most a stub, a key change still moves it), so that a
    later correction of the row converges.
    """

    ops: list[Any] = []  # noqa: RUF012  (GraphOps; empty unless set by the translator)
    kind: str = "other"

    def __init__(self, *args: Any, kind: str | None = None) -> None:
        super().__init__(*args)
        if kind is not None:
            assert kind in CHANGE_KINDS, kind
            self.kind = kind

    @classmethod
    def joined(cls, prefix: str, errors: Sequence[ChangeError]) -> ChangeError:
        """One error for a change whose rules failed with ``errors``, counted by the first kind of
        ``CHANGE_KINDS`` among them."""
        kinds = {e.kind for e in errors}
        kind = next((k for k in CHANGE_KINDS if k in kinds), "other")
        return cls(f"{prefix}: {'; '.join(str(e) for e in errors)}", kind=kind)


class SourceError(KbgraphError):
    """A source cannot be read (bad position, purged log, refused connection, bad line)."""


class SchemaMissingError(KbgraphError):
    """The graph lacks the constraints the mappings need."""


class StopAtCheckpoint(KbgraphError):
    """The run stopped cleanly; the graph checkpoint is at the last change fully applied."""
