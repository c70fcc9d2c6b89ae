"""Whether the Kafka source can reach any broker, for the outage rules (``kbgraph.outage``).

kafka-python reconnects by itself and tells its caller nothing: ``poll`` just returns no records.
While no broker connection is up for over a second, the source logs and shows what it waits for
(once, then once a minute, then when a broker is back) and gives up past ``KBGRAPH_OUTAGE_MAX_S``.
"""

from __future__ import annotations

import time
from typing import Any

from kbgraph.errors import KbgraphError, SourceError
from kbgraph.outage import OutageWatch
from kbgraph.sources import SourceContext

GRACE_S = 1.0  # a reconnect shorter than this is not an outage


class BrokerWatch:
    def __init__(self, bootstrap: str, max_wait_s: float | None, ctx: SourceContext) -> None:
        self.watch = OutageWatch(f"Kafka at {bootstrap}", max_wait_s=max_wait_s, on_change=ctx.source_outage)
        self._down_since: float | None = None

    def check(self, consumer: Any) -> None:
        """After each poll: is any broker connection up?"""
        if connected(consumer):
            self._down_since = None
            self.watch.back()
            return
        self.down()

    def down(self) -> None:
        """No broker answers (a poll found no connection, or a request failed to connect)."""
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        elif now - self._down_since > GRACE_S:
            try:
                self.watch.lost("no connection to any broker", resume="the graph checkpoint")
            except KbgraphError as e:
                raise SourceError(str(e)) from None


def is_connection_error(error: BaseException) -> bool:
    """A request that failed because no broker answered (an outage, not a fault of the run)."""
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError

    return isinstance(error, (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError))


def connected(consumer: Any) -> bool:
    """True while the consumer holds a connection to a broker (or when it cannot tell)."""
    client: Any = getattr(consumer, "_client", None)  # kafka-python has no public "is any broker up"
    try:
        return any(client.connected(getattr(b, "node_id", getattr(b, "nodeId", None))) for b in client.cluster.brokers())
    except Exception:  # noqa: BLE001 - a client without these: cannot tell, assume up
        return True
