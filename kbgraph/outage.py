"""Waiting out an outage: capped exponential backoff (tenacity), logged once per interval.

A daemon that runs for months meets restarts of the servers it talks to. ``Patience.call`` runs an
operation and, while it fails with one of the given "unreachable" errors, waits and tries again:
0.5 s, 1 s, 2 s, … up to ``cap_s`` between attempts, for at most ``max_wait_s`` in all (None:
forever). It logs when the outage starts, then at most once per ``log_every_s`` (not once per
attempt) what it waits for and since when, and once when the server is back. ``current`` says
what is being waited for (the progress line and the metrics show it). Setting ``stopping`` ends
the wait at once with ``StoppedWaiting``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_any,
    stop_never,
    stop_when_event_set,
    wait_exponential,
)

from kbgraph.errors import KbgraphError, Transient

if TYPE_CHECKING:
    from kbgraph.sources import SourceContext

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoppedWaiting(KbgraphError):
    """The run was asked to stop while it waited for an unreachable server; nothing was committed
    since the last checkpoint, and the next run resumes there."""


@dataclass
class Outage:
    """What a run is waiting for: ``what`` ("the graph at bolt://…"), since when, the last error."""

    what: str
    since: float  # wall-clock time (time.time()) of the first failure
    started: float  # monotonic time of the first failure
    attempts: int = 0
    error: str = ""

    def waited(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started

    def describe(self, now: float | None = None) -> str:
        at = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"waiting for {self.what} since {at} ({self.waited(now):.0f} s, {self.attempts} attempt(s))"


class OncePer(logging.Filter):
    """Lets a log record through at most once per ``seconds`` per message start (the driver logs
    each of its own retries; while kbgraph waits out an outage, one line a minute says enough)."""

    def __init__(self, prefix: str, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.prefix, self.seconds, self.clock = prefix, seconds, clock
        self._last = -float("inf")
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = self.clock()
        if now - self._last < self.seconds:
            self.dropped += 1
            return False
        self._last = now
        return True


class OncePerLogger(logging.Filter):
    """For a handler: lets through at most one record per ``seconds`` per logger whose name starts
    with ``prefix`` (kafka-python logs every failed connection attempt, several a second while a
    broker is down; kbgraph's own line says what it waits for)."""

    def __init__(self, prefix: str, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.prefix, self.seconds, self.clock = prefix, seconds, clock
        self._last: dict[str, float] = {}
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        now = self.clock()
        if now - self._last.get(record.name, -float("inf")) < self.seconds:
            self.dropped += 1
            return False
        self._last[record.name] = now
        return True


class Patience:
    def __init__(
        self,
        what: str,
        *,
        max_wait_s: float | None = None,
        stopping: threading.Event | None = None,
        first_s: float = 0.5,
        cap_s: float = 30.0,
        log_every_s: float = 60.0,
        on_change: Callable[[Outage | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.max_wait_s = max_wait_s
        self.stopping = stopping or threading.Event()
        self.first_s, self.cap_s, self.log_every_s = first_s, cap_s, log_every_s
        self.on_change = on_change
        self.clock = clock
        self.current: Outage | None = None
        self.outages = 0  # how many outages this run has waited out (or is waiting out)
        self.waited_s = 0.0  # total time spent waiting in finished outages
        self._logged_at = 0.0

    def call(self, fn: Callable[[], T], unreachable: tuple[type[BaseException], ...] = (Transient,)) -> T:
        """``fn()``, retried while it raises one of ``unreachable`` (by default: an error marked
        ``kbgraph.errors.Transient``; the graph's: ``kbgraph.sink.writer.TRANSIENT``); see the module doc."""
        limit = stop_never if self.max_wait_s is None else stop_after_delay(self.max_wait_s)
        stop = stop_any(stop_when_event_set(self.stopping), limit)
        retrying = Retrying(
            retry=retry_if_exception_type(unreachable),
            wait=wait_exponential(multiplier=self.first_s, min=self.first_s, max=self.cap_s),
            stop=stop,
            sleep=self._sleep,
            before_sleep=self._failed,
            reraise=True,
        )

        def attempt() -> T:
            if self.current is not None and self.stopping.is_set():
                raise self._stopped()
            return fn()

        try:
            result = retrying(attempt)
        except unreachable as e:
            outage = self._outage(e)
            if self.stopping.is_set():
                raise self._stopped() from None
            self._end()
            raise KbgraphError(f"{outage.what} has been unreachable for {outage.waited(self.clock()):.0f} s, longer than "
                               f"the outage limit of {self.max_wait_s:g} s (KBGRAPH_OUTAGE_MAX_S); last error: "
                               f"{outage.error}; the checkpoint is at the last committed batch") from None
        if self.current is not None:
            log.warning("%s is back after %.0f s (%d attempt(s)); carrying on from the checkpoint",
                        self.what, self.current.waited(self.clock()), self.current.attempts)
            self._end()
        return result

    # -- internals -----------------------------------------------------------------------------
    def _stopped(self) -> StoppedWaiting:
        assert self.current is not None
        text = self.current.describe(self.clock())
        self._end()
        return StoppedWaiting(f"asked to stop while {text}; the checkpoint is at the last committed batch, "
                              "where the next run resumes")

    def _sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def _outage(self, error: BaseException) -> Outage:
        now = self.clock()
        if self.current is None:
            self.current = Outage(self.what, time.time(), now)
            self.outages += 1
        self.current.attempts += 1
        if isinstance(error, KbgraphError) and error.__context__ is not None:
            error = error.__context__  # the driver's own error, not our wrapper's sentence around it
        self.current.error = " ".join(f"{type(error).__name__}: {error}".split())[:300]
        return self.current

    def _failed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        first = self.current is None
        outage = self._outage(error or RuntimeError("unknown"))
        now = self.clock()
        if first:
            self._logged_at = now
            limit = "without limit" if self.max_wait_s is None else f"for up to {self.max_wait_s:g} s"
            log.warning("%s is unreachable (%s); waiting for it %s, retrying with backoff up to %g s",
                        self.what, outage.error, limit, self.cap_s)
        elif now - self._logged_at >= self.log_every_s:
            self._logged_at = now
            log.warning("still %s: %s", outage.describe(now), outage.error)
        if self.on_change is not None:
            self.on_change(outage)

    def _end(self) -> None:
        if self.current is not None:
            self.waited_s += self.current.waited(self.clock())
        self.current = None
        if self.on_change is not None:
            self.on_change(None)


class OutageWatch:
    """For a source whose client retries by itself (the binlog reader's reconnect loop, kafka-python):
    the source reports ``lost(error)`` on each failed attempt and ``back()`` once it reads again.
    Logs like ``Patience`` (when the outage starts, at most once per ``log_every_s``, when it ends),
    shows the wait through ``on_change`` (the progress line), and raises ``KbgraphError`` once the
    outage has lasted longer than ``max_wait_s`` (``KBGRAPH_OUTAGE_MAX_S``; None: wait forever)."""

    def __init__(self, what: str, *, max_wait_s: float | None = None, log_every_s: float = 60.0,
                 on_change: Callable[[Outage | None], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.max_wait_s, self.log_every_s = what, max_wait_s, log_every_s
        self.on_change, self.clock = on_change, clock
        self.current: Outage | None = None
        self.outages = 0
        self._logged_at = 0.0

    def lost(self, error: BaseException | str, resume: str = "") -> Outage:
        now = self.clock()
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        text = " ".join(text.split())[:300]
        first = self.current is None
        if self.current is None:
            self.current = Outage(self.what, time.time(), now)
            self.outages += 1
        outage = self.current
        outage.attempts += 1
        outage.error = text
        if first:
            self._logged_at = now
            limit = "without limit" if self.max_wait_s is None else f"for up to {self.max_wait_s:g} s"
            log.warning("%s is unreachable (%s); waiting for it %s%s", self.what, text, limit,
                        f", then carrying on from {resume}" if resume else "")
        elif now - self._logged_at >= self.log_every_s:
            self._logged_at = now
            log.warning("still %s: %s", outage.describe(now), text)
        if self.on_change is not None:
            self.on_change(outage)
        if self.max_wait_s is not None and outage.waited(now) > self.max_wait_s:
            self.current = None
            raise KbgraphError(f"{self.what} has been unreachable for {outage.waited(now):.0f} s, longer than the outage "
                               f"limit of {self.max_wait_s:g} s (KBGRAPH_OUTAGE_MAX_S); last error: {text}; "
                               "the checkpoint is at the last committed batch")
        return outage

    def back(self) -> None:
        if self.current is None:
            return
        log.warning("%s is back after %.0f s (%d attempt(s)); carrying on from the checkpoint",
                    self.what, self.current.waited(self.clock()), self.current.attempts)
        self.current = None
        if self.on_change is not None:
            self.on_change(None)


def source_outage_hook(ctx: SourceContext) -> Callable[[Outage | None], None]:
    """The hook that shows a source's wait in the progress line (``SourceContext.source_outage``)."""
    return ctx.source_outage
