"""Turn an ordered run of graph operations into as few ``UNWIND`` statements as order allows.

Operations are placed into groups, one statement each, executed in group order. An operation may
join an existing group of its statement only if no *later* group touches any of its keys; so
operations on one key keep their source order, and only operations that cannot affect each other
are reordered. Inside a group, rows with the same coalesce key are merged into one row.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from kbgraph.graph.ops import BARRIER, GraphOp, Statement, coalesce_rows


class Group:
    __slots__ = ("stmt", "rows", "index")

    def __init__(self, stmt: Statement) -> None:
        self.stmt = stmt
        self.rows: list[dict[str, Any]] = []
        self.index: dict[Hashable, int] = {}  # coalesce key -> position in rows


def plan_groups(ops: Iterable[GraphOp]) -> list[Group]:
    groups: list[Group] = []
    last_touch: dict[Hashable, int] = {}  # element key -> index of the last group touching it
    last_of: dict[int, int] = {}  # id(statement) -> index of its last group
    barrier = -1  # nothing moves before a TRUNCATE's group, and it moves before nothing
    for op in ops:
        stmt = op.stmt
        j = len(groups) - 1 if op.keys == BARRIER else barrier
        for k in op.keys:
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
                continue
        if stmt.coalesce != "none":
            group.index[op.ckey] = len(group.rows)
        group.rows.append(op.row)
        if op.keys == BARRIER:
            barrier = target
        for k in op.keys:
            last_touch[k] = target
    return groups
