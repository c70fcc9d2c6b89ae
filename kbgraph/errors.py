"""Errors a user can cause. The CLI prints these as one clear line, never as a traceback."""

from __future__ import annotations


class KbgraphError(Exception):
    """Base of every error that is the user's to fix (bad file, bad setting, unreachable server)."""


class MappingError(KbgraphError):
    """A mapping file is invalid. The message names file, line and key."""


class ChangeError(KbgraphError):
    """One change cannot be translated (bad value, label outside the allow-list, ...).

    The pipeline sends the change to the dead-letter store with this message as its reason.
    ``ops`` are the graph operations that still apply: a row whose after image is rejected is
    treated as not in the graph (its node at most a stub, a key change still moves it), so that a
    later correction of the row converges.
    """

    ops: list = []  # noqa: RUF012  (GraphOps; empty unless set by the translator)


class SourceError(KbgraphError):
    """A source cannot be read (bad position, purged log, refused connection, bad line)."""


class SchemaMissingError(KbgraphError):
    """The graph lacks the constraints the mappings need."""


class StopAtCheckpoint(KbgraphError):
    """The run stopped cleanly; the graph checkpoint is at the last change fully applied."""
