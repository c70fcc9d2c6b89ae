"""The consumer-group rebalance listener of ``KafkaSource``.

kafka-python 3 calls it on its IO thread while the reader thread waits inside ``poll()``. A
revoke flushes everything read to the graph first, which can take seconds; a plain (synchronous)
listener would stall the IO loop and its heartbeats meanwhile, and a long enough flush would cost
the consumer its group membership. So, where the client supports it, the listener is asynchronous:
the work runs on a helper thread while the listener yields to the IO loop (heartbeats go on).

kafka-python logs and wraps a listener's exception; the source keeps the original to re-raise it
from ``changes()`` as one clear error.
"""

from __future__ import annotations

import threading
from typing import Any

POLL_S = 0.05


def make_listener(source: Any, consumer: Any) -> Any:
    net = getattr(getattr(consumer, "_coordinator", None), "_net", None)
    try:
        from kafka import AsyncConsumerRebalanceListener
    except ImportError:  # an older client: the synchronous listener
        AsyncConsumerRebalanceListener = None
    if AsyncConsumerRebalanceListener is not None and net is not None and hasattr(net, "sleep"):
        return _async_listener(AsyncConsumerRebalanceListener)(source, net)
    return _sync_listener()(source)


def _record(source: Any, fn: Any, partitions: Any) -> None:
    try:
        fn(list(partitions))
    except BaseException as e:
        source._listener_error = e
        raise


def _sync_listener() -> type:
    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def __init__(self, source: Any) -> None:
            self.source = source

        def on_partitions_revoked(self, revoked: Any) -> None:
            _record(self.source, self.source._revoked, revoked)

        def on_partitions_assigned(self, assigned: Any) -> None:
            _record(self.source, self.source._assigned, assigned)

        def on_partitions_lost(self, lost: Any) -> None:
            _record(self.source, self.source._lost, lost)

    return Listener


def _async_listener(base: type) -> type:
    class Listener(base):  # type: ignore[misc, valid-type]
        def __init__(self, source: Any, net: Any) -> None:
            self.source = source
            self.net = net

        async def _off_loop(self, fn: Any, partitions: Any) -> None:
            error: list[BaseException] = []

            def work() -> None:
                try:
                    _record(self.source, fn, partitions)
                except BaseException as e:  # noqa: BLE001 - re-raised below, on the loop
                    error.append(e)

            t = threading.Thread(target=work, name="kbgraph-rebalance", daemon=True)
            t.start()
            while t.is_alive():
                await self.net.sleep(POLL_S)
            if error:
                raise error[0]

        async def on_partitions_revoked(self, revoked: Any) -> None:
            await self._off_loop(self.source._revoked, revoked)

        async def on_partitions_assigned(self, assigned: Any) -> None:
            await self._off_loop(self.source._assigned, assigned)

        async def on_partitions_lost(self, lost: Any) -> None:
            await self._off_loop(self.source._lost, lost)

    return Listener
