"""Turn an ordered run of graph operations into as few ``UNWIND`` statements as order allows.

Operations are placed into groups, one statement each, executed in group order. An operation may
join an existing group of its statement only if no *later* group touches any of its keys; so
operations on one key keep their source order, and only operations that cannot affect each other
are reordered. Inside a group, rows with the same coalesce key are merged into one row.

**The invariant** (what makes a batch give the graph that batch size 1 gives): for operations
``i < j`` in source order that *conflict*, ``group(i) < group(j)``, or both are in one group
coalesced into one row whose effect is ``i`` then ``j``. Two operations conflict when they share
an element key, except an upsert and a MERGE of one node (below); a TRUNCATE (``BARRIER``)
conflicts with everything. Operations that do not conflict touch disjoint elements, or commute:

- an entity upsert (``"u"``) and an endpoint/owner MERGE (``"m"``) of one node: either order
  leaves the filled node with the relationship or attribute;
- a delete by row id whose endpoints are unknown (the before image did not map) keys only the
  row's element: its stub clean-up deletes only *empty* stubs, which any later statement that
  needs them MERGEs again, so it commutes with everything else on those nodes;
- re-key steps (moving a stub's relationships, the re-key, the id cascades) key both the old and
  the new node key, so everything on either key, including every relationship on them, stays in
  order with them; chained re-keys (43 → 21, then 42 → 43) never share a statement.

``tests/unit/test_batch.py`` checks the invariant on the operations of thousands of random
workloads (``placed`` exposes each operation's group), and the oracle checks the graphs.

Node keys (``NodeTouch``) carry how they touch the node: ``"u"`` an entity upsert (create-or-fill),
``"m"`` a MERGE of an endpoint or owner (creates a stub if missing), ``"n"`` anything else; the
batcher reads the tag as ``touch[0]`` and the node as ``touch[1:]`` (label, key). An upsert and a
MERGE of the same node commute — either order leaves the filled node with the relationship — so
they may pass each other; everything else on one node keeps its order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from kbgraph.graph.ops import BARRIER, GraphOp, Statement, coalesce_rows


class Group:
    __slots__ = ("index", "rows", "stmt")

    def __init__(self, stmt: Statement) -> None:
        self.stmt = stmt
        self.rows: list[dict[str, Any]] = []
        self.index: dict[Hashable, int] = {}  # coalesce key -> position in rows


def plan_groups(ops: Iterable[GraphOp], placed: list[int] | None = None) -> list[Group]:
    """The groups, in execution order; ``placed`` (if given) receives each operation's group index."""
    groups: list[Group] = []
    last_touch: dict[Hashable, int] = {}  # element key -> index of the last group touching it
    not_upsert: dict[Hashable, int] = {}  # node -> last group touching it other than by an upsert
    not_merge: dict[Hashable, int] = {}  # node -> last group touching it other than by a MERGE
    last_of: dict[int, int] = {}  # id(statement) -> index of its last group
    barrier = -1  # nothing moves before a TRUNCATE's group, and it moves before nothing
    for op in ops:
        stmt = op.stmt
        j = len(groups) - 1 if op.keys == BARRIER else barrier
        for k in op.keys:
            kind = k[0]
            if kind == "u":
                g = not_merge.get(k[1:], -1)
            elif kind == "m":
                g = not_upsert.get(k[1:], -1)
            elif kind == "n":
                g = max(not_merge.get(k[1:], -1), not_upsert.get(k[1:], -1))
            else:
                g = last_touch.get(k, -1)
            if g > j:
                j = g
        target = last_of.get(id(stmt))
        if target is None or target < j or (target == j and stmt.coalesce == "none"):
            target = len(groups)
            groups.append(Group(stmt))
            last_of[id(stmt)] = target
        group = groups[target]
        if stmt.coalesce != "none" and target == j:
            at = group.index.get(op.ckey)
            if at is not None:
                group.rows[at] = coalesce_rows(stmt, group.rows[at], op.row)
                if placed is not None:
                    placed.append(target)
                continue
        if stmt.coalesce != "none":
            group.index[op.ckey] = len(group.rows)
        group.rows.append(op.row)
        if placed is not None:
            placed.append(target)
        if op.keys == BARRIER:
            barrier = target
        for k in op.keys:
            kind = k[0]
            if kind == "u":
                not_merge[k[1:]] = target
            elif kind == "m":
                not_upsert[k[1:]] = target
            elif kind == "n":
                not_merge[k[1:]] = not_upsert[k[1:]] = target
            else:
                last_touch[k] = target
    return groups
