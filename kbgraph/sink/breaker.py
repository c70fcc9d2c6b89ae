"""The circuit breaker: a systematic error is not a stream of bad records.

When a mapping names a column no row has, every change fails the same way; sending them all to
the dead letters at thousands per second and calling the run a success helps nobody. The
breaker watches the committed outcomes in source order and trips *before* committing the dead
letter that would make

- more than ``consecutive`` dead letters in a row, or
- more than ``ratio`` of the last ``window`` changes dead letters (judged once ``window`` changes
  were seen),

so the run stops with the checkpoint just before that change and the most common reason of the
run of dead letters. 0 turns either test off. ``--on-error stop`` stops at the first one anyway.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import TYPE_CHECKING

from kbgraph.change import Change
from kbgraph.errors import StopAtCheckpoint

if TYPE_CHECKING:
    from kbgraph.sink.writer import Item

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_POSITION = re.compile(r" at \{[^{}]*\}(?=: )")
_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\")")


def reason_group(reason: str, change: Change | None = None) -> str:
    """A reason without what differs from change to change (its position, numbers outside quotes:
    a quoted where-expression or name stays as written), for grouping."""
    if change is not None:
        reason = reason.replace(f" at {change.position}", "")
    reason = _POSITION.sub("", reason)  # one that came back from JSON a little different (tuples → lists)
    parts = _QUOTED.split(reason)  # odd indexes are quoted
    return "".join(p if i % 2 else _NUMBER.sub("N", p) for i, p in enumerate(parts))


class CircuitOpen(StopAtCheckpoint):
    """Too many dead letters: the run stopped with the checkpoint before the change that tripped it."""


class Breaker:
    def __init__(self, consecutive: int = 1000, ratio: float = 0.0, window: int = 10_000) -> None:
        self.consecutive = consecutive
        self.ratio = ratio
        self.window = window if ratio > 0 else 0
        self.run = 0  # dead letters in a row, up to the last committed change
        self.reasons: Counter[str] = Counter()  # reasons of the current run of dead letters
        self.all_reasons: Counter[str] = Counter()  # reasons of every dead letter of this run
        self._recent: deque[bool] = deque(maxlen=self.window or 1)  # True = dead letter
        self._recent_dead = 0
        self._why = ""
        self._by_ratio = False

    def trips_at(self, items: list[Item]) -> int | None:
        """Index of the first item whose dead letter would trip the breaker, or None (no state change)."""
        if not self.consecutive and not self.window:
            return None
        run, dead = self.run, self._recent_dead
        recent = list(self._recent) if self.window else []
        start = 0  # recent[start:] is the window
        for i, it in enumerate(items):
            bad = it.error is not None
            run = run + 1 if bad else 0
            if self.window:
                recent.append(bad)
                dead += bad
                if len(recent) - start > self.window:
                    dead -= recent[start]
                    start += 1
            if not bad:
                continue
            if self.consecutive and run > self.consecutive:
                self._why = f"more than {self.consecutive:,} consecutive changes went to the dead letters"
                self._by_ratio = False
                return i
            if self.window and len(recent) - start >= self.window and dead > self.ratio * self.window:
                self._why = (f"{dead:,} of the last {self.window:,} changes went to the dead letters "
                             f"(more than {self.ratio:.0%})")
                self._by_ratio = True
                return i
        return None

    def record(self, items: list[Item]) -> None:
        """Account for committed items, in source order."""
        for it in items:
            bad = it.error is not None
            if bad:
                if self.run == 0:
                    self.reasons.clear()
                self.run += 1
                group = reason_group(str(it.error), it.change)
                self.reasons[group] += 1
                self.all_reasons[group] += 1
            else:
                self.run = 0
            if self.window:
                if len(self._recent) == self._recent.maxlen:
                    self._recent_dead -= self._recent[0]
                self._recent.append(bad)
                self._recent_dead += bad

    def open_error(self, item: Item) -> CircuitOpen:
        reasons = (self.all_reasons if self._by_ratio else self.reasons).copy()
        if item.error is not None:
            reasons[reason_group(str(item.error), item.change)] += 1
        (top, n), = reasons.most_common(1) or [("?", 0)]
        total = sum(reasons.values())
        return CircuitOpen(f"circuit breaker: {self._why}, a systematic error rather than bad records; "
                           f"most common reason ({n:,} of {total:,}): {top}; stopped with the checkpoint "
                           f"just before {item.change.describe()} (fix the mapping or the data, then "
                           "`kbgraph dlq replay` and sync again)")
