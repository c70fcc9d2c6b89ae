"""The constraints and indexes a graph needs, as plain data (no I/O, no driver).

The mapping says which ones it relies on (``CompiledMapping.constraints()``); ``kbgraph.graph.schema``
prints, applies and checks them. Kept apart from both so the dependency runs one way:
``kbgraph.mapping`` → ``kbgraph.graph``, never back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ConstraintKind = Literal["node-unique", "rel-index"]


@dataclass(frozen=True)
class Constraint:
    """A uniqueness constraint (node) or a range index (relationship) the mappings rely on."""

    kind: ConstraintKind
    label: str
    props: tuple[str, ...]

    @property
    def name(self) -> str:
        prefix = "kb_key" if self.kind == "node-unique" else "kb_rel"
        return "_".join([prefix, self.label, *self.props]).replace(".", "_")


class Constrained(Protocol):
    """Anything that knows the constraints it relies on (a compiled ``CompiledMapping``)."""

    def constraints(self) -> list[Constraint]: ...
