"""The graph writer: one batch of changes → one transaction with its checkpoint and dead letters.

Transient failures (deadlock, leader switch, dropped connection) are retried by the driver's
``execute_write`` with backoff. A batch that fails for good is split in halves, each committed on
its own, down to the one change that fails; that change goes to the dead-letter store
(``:KbDeadLetter`` nodes, written in the same transaction that moves the checkpoint past it), or,
with ``on_error="stop"``, the run stops with the checkpoint just before it. Once that transaction
has committed, each of its dead letters is handed to ``report`` (the source's ``report``: the Kafka
dead-letter topic); a commit that fails reports nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import neo4j
import orjson
from neo4j.exceptions import ConnectionPoolError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired, TransientError

from kbgraph.change import Change
from kbgraph.checkpoint import encode_position, read_checkpoint
from kbgraph.errors import ChangeError, KbgraphError, StopAtCheckpoint, Transient
from kbgraph.graph import cypher
from kbgraph.graph.batch import plan_groups
from kbgraph.graph.ops import GraphOp
from kbgraph.outage import Patience
from kbgraph.sink.breaker import Breaker

log = logging.getLogger(__name__)


class Item(NamedTuple):
    change: Change
    ops: list[GraphOp]
    error: ChangeError | None = None


@dataclass
class Counts:
    changes: int = 0
    statements: int = 0
    dead_letters: int = 0
    transactions: int = 0
    graph: dict[str, int] = field(default_factory=dict)  # nodes_created, relationships_deleted, ...
    dead_by_kind: dict[str, int] = field(default_factory=dict)  # ChangeError.kind -> dead letters

    def add_summary(self, counters: Any) -> None:
        for name in ("nodes_created", "nodes_deleted", "relationships_created", "relationships_deleted",
                     "properties_set", "labels_added", "labels_removed"):
            v = getattr(counters, name, 0)
            if v:
                self.graph[name] = self.graph.get(name, 0) + v


class GraphUnavailable(Transient, KbgraphError):
    """The graph cannot be reached even after the driver's retries: stop, checkpoint intact."""


# what the driver raises once its own retries (ServiceUnavailable, SessionExpired, TransientError) are spent
DRIVER_UNREACHABLE = (ServiceUnavailable, SessionExpired, ConnectionPoolError, TransientError, OSError)
# the one definition of "wait and try again" (everything else is terminal): kbgraph's own transient
# errors and the driver's; the pipeline's start-up and the writer's commits wait these out
TRANSIENT: tuple[type[BaseException], ...] = (Transient, *DRIVER_UNREACHABLE)


def dead_letter_row(change: Change, reason: str) -> dict[str, Any]:
    """The properties of the ``:KbDeadLetter`` node that keeps ``change`` and why it was not applied."""
    return {
        "reason": reason[:4000],
        "table": change.table,
        "schema": change.schema,
        "op": change.op,
        "position": orjson.dumps(change.position, default=str).decode(),
        "change": _json({"before": change.before, "after": change.after, "tx": change.tx})[:100_000],
    }


def _json(obj: Any) -> str:
    try:
        return orjson.dumps(obj, default=str).decode()
    except TypeError:  # an integer beyond 64 bits (orjson refuses it): the standard library keeps it exact
        return json.dumps(obj, default=str, ensure_ascii=False)


class GraphWriter:
    def __init__(
        self,
        driver: neo4j.Driver,
        database: str,
        pipeline: str,
        on_error: str = "dead_letter",
        report: Callable[[Change, str], Any] | None = None,
        patience: Patience | None = None,
        breaker: Breaker | None = None,
        checkpoint: str | None = None,
    ) -> None:
        self.driver = driver
        self.database = database
        self.pipeline = pipeline
        self.on_error = on_error
        # told of each dead letter once the transaction that holds its :KbDeadLetter node committed
        # (the source's ``report``: Kafka produces it to the dead-letter topic)
        self.report = report
        self.patience = patience  # waits out an unreachable graph (else GraphUnavailable at once)
        self.breaker = breaker  # stops the run when dead letters are systematic
        self.counts = Counts()
        self.position: dict[str, Any] = {}  # merged position of everything committed by this writer
        # run with each batch ($pipeline, $position, $count); `kbgraph dlq replay` deletes the replayed
        # dead letters there instead of moving a checkpoint
        self._cp = checkpoint or cypher.checkpoint_write()
        self._dl = cypher.dead_letter_write()
        # seconds each graph transaction took, appended when a list is given (the pipeline's metrics)
        self.commit_seconds: list[float] | None = None

    # -- public --------------------------------------------------------------------------------
    def write(self, items: list[Item]) -> None:
        """Commit ``items`` (whole source transactions, in order). Raises StopAtCheckpoint or GraphUnavailable."""
        if not items:
            return
        errors = [it for it in items if it.error is not None]
        if errors and self.on_error == "stop":
            first = items.index(errors[0])
            self.write(items[:first])
            raise StopAtCheckpoint(f"{errors[0].error}; stopped with the checkpoint just before this change")
        if self.breaker is not None:
            trip = self.breaker.trips_at(items)
            if trip is not None:
                self.write(items[:trip])
                raise self.breaker.open_error(items[trip])
        try:
            self._commit_patiently(items)
        except Neo4jError as e:
            self._isolate(items, e)
            return
        if self.breaker is not None:
            self.breaker.record(items)

    # -- outages -------------------------------------------------------------------------------
    def _commit_patiently(self, items: list[Item]) -> None:
        """``_commit``, waiting out an unreachable graph when there is ``patience``.

        A commit whose answer was lost may have happened: before trying again after a failure, the
        checkpoint is read, and a batch it already covers is counted, not written twice."""
        failed = False

        def attempt() -> None:
            nonlocal failed
            try:
                if failed and self._already_committed(items):
                    return
                self._commit(items)
            except DRIVER_UNREACHABLE as e:
                failed = True
                raise GraphUnavailable(f"the graph is unreachable ({type(e).__name__}: {e}); "
                                       "the checkpoint is at the last committed batch") from None
            except DriverError as e:  # not an outage: waiting would not help
                raise KbgraphError(f"the graph driver failed ({type(e).__name__}: {e}); "
                                   "the checkpoint is at the last committed batch") from None
            except Neo4jError as e:
                if self._healthy():
                    raise  # about this batch: write() isolates the change that fails
                # a server going down or coming up can refuse work with any code: never a dead letter
                failed = True
                raise GraphUnavailable(f"the graph is not answering ({e.code}: {e.message}); "
                                       "the checkpoint is at the last committed batch") from None

        if self.patience is None:
            attempt()
        else:
            self.patience.call(attempt, TRANSIENT)

    def _healthy(self) -> bool:
        """Whether the graph answers a trivial query: a batch failing while it does not is not to blame."""
        try:
            with self.driver.session(database=self.database) as session:
                session.run("RETURN 1").consume()
            return True
        except (Neo4jError, DriverError, OSError):
            return False

    def _already_committed(self, items: list[Item]) -> bool:
        batch: dict[str, Any] = {}
        for it in items:
            batch.update(it.change.position)
        batch = orjson.loads(orjson.dumps(batch, default=str))  # as the checkpoint stores it
        stored = read_checkpoint(self.driver, self.database, self.pipeline)
        if not batch or any(stored.get(k) != v for k, v in batch.items()):
            return False
        before = orjson.loads(orjson.dumps(self.position, default=str))
        if all(before.get(k) == v for k, v in batch.items()):
            return False  # the batch does not move the checkpoint: it cannot tell
        log.warning("a commit whose answer was lost had happened (the checkpoint is at %s): not written again", batch)
        c = self.counts
        c.changes += len(items)
        for it in items:
            if it.error is not None:
                c.dead_letters += 1
                kind = it.error.kind
                c.dead_by_kind[kind] = c.dead_by_kind.get(kind, 0) + 1
        c.transactions += 1
        self.position.update(batch)
        self._report(items)  # the lost answer was a commit: its dead letters are reported now
        return True

    def _report(self, items: list[Item]) -> None:
        """Hand the committed batch's dead letters to ``report`` (after the commit, never before:
        a failed commit reports nothing, and the change comes again after a restart)."""
        if self.report is None:
            return
        for it in items:
            if it.error is not None:
                self.report(it.change, str(it.error))

    # -- internals -----------------------------------------------------------------------------
    def _isolate(self, items: list[Item], error: Neo4jError) -> None:
        if len(items) == 1:
            item = items[0]
            reason = f"graph rejected {item.change.describe()}: {error.code}: {error.message}"
            short = f"graph rejected {item.change.describe()}: {error.code}: {(error.message or '').splitlines()[0][:160]}"
            if self.on_error == "stop":
                raise StopAtCheckpoint(f"{reason}; stopped with the checkpoint just before this change")
            log.warning("dead letter: %s", short)
            self.write([Item(item.change, [], ChangeError(reason, kind="graph"))])
            return
        mid = len(items) // 2
        log.info("batch of %d failed (%s); retrying in halves", len(items), error.code)
        self.write(items[:mid])
        self.write(items[mid:])

    def _commit(self, items: list[Item]) -> None:
        position: dict[str, Any] = {}
        dead: list[dict[str, Any]] = []
        kinds: list[str] = []
        ops: list[GraphOp] = []
        for it in items:
            position.update(it.change.position)
            if it.error is not None:
                dead.append(dead_letter_row(it.change, str(it.error)))
                kinds.append(it.error.kind)
            ops.extend(it.ops)  # a rejected row still leaves the graph (ChangeError.ops)
        groups = plan_groups(ops)
        params = {"pipeline": self.pipeline, "position": encode_position(position), "count": len(items)}

        def work(tx: neo4j.ManagedTransaction) -> list[Any]:
            summaries = []
            for g in groups:
                result = tx.run(g.stmt.cypher, rows=g.rows)
                if g.stmt.then is not None:  # read, then write what was read (TRUNCATE, re-key cascades)
                    found = g.stmt.rows_then(result)
                    summaries.append(result.consume().counters)
                    if found:
                        result = tx.run(g.stmt.then.cypher, rows=found)
                summaries.append(result.consume().counters)
            if dead:
                tx.run(self._dl, rows=dead, pipeline=self.pipeline).consume()
            tx.run(self._cp, params).consume()
            return summaries

        began = time.perf_counter()
        with self.driver.session(database=self.database) as session:
            summaries = session.execute_write(work)
        if self.commit_seconds is not None:
            self.commit_seconds.append(time.perf_counter() - began)
        c = self.counts
        for kind in kinds:
            c.dead_by_kind[kind] = c.dead_by_kind.get(kind, 0) + 1
        c.changes += len(items)
        c.statements += len(groups)
        c.dead_letters += len(dead)
        c.transactions += 1
        for s in summaries:
            c.add_summary(s)
        self.position.update(position)
        self._report(items)
