"""What a running sync shows: changes applied, rate, lag and position, refreshed as it goes."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from kbgraph.pipeline import RunStats


def _short(position: dict[str, Any], width: int = 70) -> str:
    text = ", ".join(f"{k}={v}" for k, v in position.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def line(stats: RunStats) -> str:
    c = stats.counts
    lag = f", lag {stats.lag_ms / 1000:.1f} s" if stats.lag_ms is not None else ""
    dead = f", [red]{c.dead_letters:,} dead letters[/]" if c.dead_letters else ""
    waiting = f"[yellow]{stats.outage.describe()}[/] — " if stats.outage is not None else ""
    gaps = stats.unrepresentable.total if stats.unrepresentable is not None else 0
    nulls = f", [yellow]{gaps:,} unrepresentable values as NULL[/]" if gaps else ""
    return (f"{waiting}{c.changes:,} changes in {c.transactions:,} transactions, {stats.rate:,.0f}/s{lag}{dead}{nulls}"
            f" — at {_short(stats.position)}")


class ProgressReporter:
    """A status line on a terminal; a log line every ``every`` seconds elsewhere (CI, files)."""

    def __init__(self, console: Console, every: float = 5.0) -> None:
        self.console = console
        self.every = every
        self._last = 0.0
        self._status = console.status("starting…") if console.is_terminal else None
        if self._status:
            self._status.start()

    def __call__(self, stats: RunStats) -> None:
        if self._status:
            self._status.update(line(stats))
            return
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.console.print(line(stats), highlight=False, soft_wrap=True)  # one line per report in a log

    def close(self) -> None:
        if self._status:
            self._status.stop()
