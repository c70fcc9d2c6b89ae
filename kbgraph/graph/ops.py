"""Graph operations: what one change does to the graph, before it is batched.

A ``GraphOp`` is one row for one ``Statement`` (a fixed Cypher text of the ``UNWIND $rows`` shape).
Its ``keys`` name every graph element the row may touch, so the batcher can tell which operations
may be reordered (none that share a key) and which may be coalesced (same statement, same
``ckey``). Everything here is plain data: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

# How two rows of one statement with the same coalesce key combine inside one batch:
#   "merge": the later row's "p" map is laid over the earlier one's (SET n += p is then the same)
#   "same":  the statement is idempotent for that key: the later row is dropped
#   "none":  never coalesced; a row that touches a key already in this group opens a new group
Coalesce = Literal["merge", "same", "none"]


@dataclass(frozen=True, eq=False)
class Statement:
    name: str  # for plans, logs and errors: "entity/entity upsert :Person"
    cypher: str
    coalesce: Coalesce
    # a read-then-write statement: ``cypher`` returns records; ``transform`` turns each into a row
    # of ``then`` (or None to drop it), which runs in the same transaction right after
    then: Statement | None = None
    transform: Callable[[Any], dict[str, Any] | None] | None = None

    def rows_then(self, records: Any) -> list[dict[str, Any]]:
        """The rows of ``then`` for the records ``cypher`` returned."""
        convert = self.transform or drop_props
        return [row for row in map(convert, records) if row is not None]

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Statement({self.name!r})"


# -- touches: the graph elements an operation may touch ------------------------------------------
# Plain tuples underneath (hashing and equality are a tuple's: cheap on the hot path), tagged by
# their first field so that the batcher reads ``touch[0]`` and ``touch[1:]`` without a type test.

NodeHow = Literal["n", "u", "m"]
RowKind = Literal["e", "p"]


class NodeTouch(NamedTuple):
    """A node by label and key, with how it is touched: ``"u"`` an entity upsert (create-or-fill),
    ``"m"`` a MERGE of an endpoint or owner (creates a stub if missing), ``"n"`` anything else.
    The batcher lets an upsert and a MERGE of one node pass each other (``kbgraph.graph.batch``)."""

    how: NodeHow
    label: str
    key: tuple[Any, ...]


class RowTouch(NamedTuple):
    """An element by its row id (``_kb_id``): ``"e"`` a relationship, ``"p"`` a property node or attribute."""

    kind: RowKind
    id: str


class BarrierTouch(NamedTuple):
    """Everything of a label (TRUNCATE): conflicts with every other operation."""

    kind: Literal["*"] = "*"


Touch = NodeTouch | RowTouch | BarrierTouch


class GraphOp(NamedTuple):
    stmt: Statement
    row: dict[str, Any]
    keys: tuple[Touch, ...]  # graph elements touched; ``BARRIER`` for a TRUNCATE
    ckey: Hashable  # coalesce key (unused for coalesce="none")


def drop_props(record: Any) -> dict[str, Any]:
    """A record {k, drop} → the row {"k": k, "p": {name: None for name in drop}} (TRUNCATE's read step)."""
    return {"k": record["k"], "p": dict.fromkeys(record["drop"])}


BARRIER: tuple[Touch, ...] = (BarrierTouch(),)  # the keys of an operation that touches everything of a label


def coalesce_rows(stmt: Statement, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The one row equivalent to applying ``old`` then ``new`` (same statement, same key)."""
    if stmt.coalesce == "same":
        return old
    merged = dict(new)
    merged["p"] = {**old["p"], **new["p"]}
    return merged
