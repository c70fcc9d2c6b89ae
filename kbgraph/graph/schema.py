"""The constraints and indexes the mappings imply: print, apply, and check before a sync.

MERGE on a label without a uniqueness constraint scans every node of that label, so a sync
without them slows down quadratically: ``sync`` refuses to start until ``schema apply`` was run.
"""

from __future__ import annotations

import neo4j

from kbgraph.errors import SchemaMissingError
from kbgraph.graph.constraints import Constrained, Constraint
from kbgraph.graph.cypher import esc


def statement(c: Constraint) -> str:
    if c.kind == "node-unique":
        props = ", ".join(f"n.{esc(p)}" for p in c.props)
        return f"CREATE CONSTRAINT {esc(c.name)} IF NOT EXISTS FOR (n:{esc(c.label)}) REQUIRE ({props}) IS UNIQUE"
    props = ", ".join(f"r.{esc(p)}" for p in c.props)
    return f"CREATE INDEX {esc(c.name)} IF NOT EXISTS FOR ()-[r:{esc(c.label)}]-() ON ({props})"


def statements(mapping: Constrained) -> list[str]:
    return [statement(c) for c in mapping.constraints()]


def apply_schema(driver: neo4j.Driver, database: str, mapping: Constrained) -> list[str]:
    """Create what is missing (idempotent). Returns the statements run."""
    missing = missing_schema(driver, database, mapping)
    done = []
    for c in missing:
        text = statement(c)
        driver.execute_query(text, database_=database)
        done.append(text)
    return done


def _present(driver: neo4j.Driver, database: str) -> set[tuple[str, str, tuple[str, ...]]]:
    found: set[tuple[str, str, tuple[str, ...]]] = set()
    records, _, _ = driver.execute_query("SHOW CONSTRAINTS", database_=database, routing_=neo4j.RoutingControl.READ)
    for r in records:
        kind = str(r.get("type", "")).upper()
        if r.get("entityType") == "NODE" and ("UNIQUE" in kind or kind == "NODE_KEY"):
            for label in r.get("labelsOrTypes") or []:
                found.add(("node-unique", label, tuple(r.get("properties") or ())))
    records, _, _ = driver.execute_query("SHOW INDEXES", database_=database, routing_=neo4j.RoutingControl.READ)
    for r in records:
        if r.get("entityType") == "RELATIONSHIP" and str(r.get("state", "ONLINE")).upper() == "ONLINE":
            for rtype in r.get("labelsOrTypes") or []:
                found.add(("rel-index", rtype, tuple(r.get("properties") or ())))
    return found


def missing_schema(driver: neo4j.Driver, database: str, mapping: Constrained) -> list[Constraint]:
    present = _present(driver, database)
    return [c for c in mapping.constraints() if (c.kind, c.label, c.props) not in present]


def require_schema(driver: neo4j.Driver, database: str, mapping: Constrained) -> None:
    missing = missing_schema(driver, database, mapping)
    if missing:
        names = ", ".join(f":{c.label}({', '.join(c.props)})" for c in missing[:6])
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        raise SchemaMissingError(
            f"the graph lacks {len(missing)} constraint(s)/index(es) the mappings need: {names}{more}. "
            "Run `kbgraph schema apply` first (without them every MERGE scans its whole label)."
        )
