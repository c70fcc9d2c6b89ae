"""The consumer-group rebalance listener of ``KafkaSource``.

kafka-python 3 calls it on its IO thread while the reader thread waits inside ``poll()``. A
revoke flushes everything read to the graph first, which can take seconds; a plain (synchronous)
listener would stall the IO loop and its heartbeats meanwhile, and a long enough flush would cost
the consumer its group membership. So, where the client supports it, the listener is asynchronous:
the work runs on a helper thread while the listener yields to the IO loop (heartbeats go on).

kafka-python logs and wraps a listener's exception; the source keeps the original
(``listener_failed``) to re-raise it from ``changes()`` as one clear error.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

POLL_S = 0.05


class Rebalanced(Protocol):
    """What the listener calls on the source (``KafkaSource``), on the client's IO thread or a helper."""

    def partitions_assigned(self, partitions: list[Any]) -> None: ...

    def partitions_revoked(self, partitions: list[Any]) -> None: ...

    def partitions_lost(self, partitions: list[Any]) -> None: ...

    def listener_failed(self, error: BaseException) -> None: ...


def io_loop_sleep(consumer: Any) -> Callable[[float], Awaitable[Any]] | None:
    """An awaitable sleep on the consumer's own IO loop, or None where the client has none.

    kafka-python (checked: 3.0) offers ``AsyncConsumerRebalanceListener`` publicly, but awaits it
    on its own event kernel (``kafka.net.selector.NetworkSelector``), not asyncio: ``asyncio.sleep``
    cannot be awaited there, and the client has no public handle on the kernel. The one awaitable
    that yields to it is the kernel's ``sleep``, reached through the consumer's private coordinator
    — this function is the only place that does. When that path is not there (another client
    version), the caller falls back to the synchronous listener: slower rebalances, same result."""
    net = getattr(getattr(consumer, "_coordinator", None), "_net", None)
    sleep = getattr(net, "sleep", None)
    return sleep if callable(sleep) else None


def make_listener(source: Rebalanced, consumer: Any) -> Any:
    try:
        from kafka import AsyncConsumerRebalanceListener
    except ImportError:  # an older client: the synchronous listener
        AsyncConsumerRebalanceListener = None
    sleep = io_loop_sleep(consumer)
    if AsyncConsumerRebalanceListener is not None and sleep is not None:
        return _async_listener(AsyncConsumerRebalanceListener)(source, sleep)
    return _sync_listener()(source)


def _record(source: Rebalanced, fn: Callable[[list[Any]], None], partitions: Any) -> None:
    try:
        fn(list(partitions))
    except BaseException as e:
        source.listener_failed(e)
        raise


def _sync_listener() -> type:
    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python ships no types
        def __init__(self, source: Rebalanced) -> None:
            self.source = source

        def on_partitions_revoked(self, revoked: Any) -> None:
            _record(self.source, self.source.partitions_revoked, revoked)

        def on_partitions_assigned(self, assigned: Any) -> None:
            _record(self.source, self.source.partitions_assigned, assigned)

        def on_partitions_lost(self, lost: Any) -> None:
            _record(self.source, self.source.partitions_lost, lost)

    return Listener


def _async_listener(base: type) -> type:
    class Listener(base):  # type: ignore[misc]  # kafka-python ships no types: its classes are Any
        def __init__(self, source: Rebalanced, sleep: Callable[[float], Awaitable[Any]]) -> None:
            self.source = source
            self.sleep = sleep

        async def _off_loop(self, fn: Callable[[list[Any]], None], partitions: Any) -> None:
            error: list[BaseException] = []

            def work() -> None:
                try:
                    _record(self.source, fn, partitions)
                except BaseException as e:  # noqa: BLE001 - re-raised below, on the loop
                    error.append(e)

            t = threading.Thread(target=work, name="kbgraph-rebalance", daemon=True)
            t.start()
            while t.is_alive():
                await self.sleep(POLL_S)
            if error:
                raise error[0]

        async def on_partitions_revoked(self, revoked: Any) -> None:
            await self._off_loop(self.source.partitions_revoked, revoked)

        async def on_partitions_assigned(self, assigned: Any) -> None:
            await self._off_loop(self.source.partitions_assigned, assigned)

        async def on_partitions_lost(self, lost: Any) -> None:
            await self._off_loop(self.source.partitions_lost, lost)

    return Listener
