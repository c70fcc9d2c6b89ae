"""Subscribed topics that do not exist yet: said once, looked for again every few seconds.

A ``sync`` started before its producer (Debezium creates a table's topic with its first change,
``publish`` with its first run) names topics the brokers do not have yet. The source subscribes to
the topics that exist and adds the others when they appear (a changed subscription rejoins the
group). It never creates them (``allow_auto_create_topics`` is off: a topic made with the brokers'
defaults would not be the producer's), and it does not subscribe to a missing topic either: the
client would then ask for its metadata every ``retry_backoff_ms`` and log an error each time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

CHECK_S = 5.0  # how often missing topics are looked for


class TopicWatch:
    """``check()`` from the poll loop; ``fetch`` lists the topics that exist (a metadata request)."""

    def __init__(self, wanted: Iterable[str], fetch: Callable[[], set[str]], *, every_s: float = CHECK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.missing = set(wanted)
        self._fetch = fetch
        self._every = every_s
        self._clock = clock
        self._next = 0.0
        self._told = False

    def check(self) -> set[str]:
        """Look again when due; returns the topics found since the last look."""
        if not self.missing or self._clock() < self._next:
            return set()
        self._next = self._clock() + self._every
        try:
            found = self.missing & set(self._fetch())
        except Exception as e:  # noqa: BLE001 - a failed look is retried; the consumer reports a broker that is gone
            log.debug("kafka: listing topics failed (looking again in %g s): %s", self._every, e)
            return set()
        self.missing -= found
        if found and self._told:
            log.info("kafka: topic(s) %s exist now; the group takes them up", ", ".join(sorted(found)))
        if self.missing and not self._told:
            log.warning("kafka: topic(s) %s do not exist yet (or this client may not see them); waiting for them (looking again every %g s)",
                        ", ".join(sorted(self.missing)), self._every)
            self._told = True
        return found
