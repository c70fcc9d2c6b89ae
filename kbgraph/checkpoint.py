"""The checkpoint node: the source position a pipeline has applied, written with each batch.

Stored as ``(:KbCheckpoint {pipeline})`` with one property ``p.<key>`` per position key (its value
JSON text), so sources that split their position by partition can share one checkpoint from
several workers (each ``SET c += …`` only touches its own keys).
"""

from __future__ import annotations

from typing import Any

import neo4j
import orjson

from kbgraph.graph import cypher

PREFIX = "p."


def encode_position(position: dict[str, Any]) -> dict[str, str]:
    return {PREFIX + k: orjson.dumps(v, default=str).decode() for k, v in position.items()}


def decode_position(props: dict[str, Any]) -> dict[str, Any]:
    return {k[len(PREFIX):]: orjson.loads(v) for k, v in props.items() if k.startswith(PREFIX)}


def read_checkpoint_info(driver: neo4j.Driver, database: str, pipeline: str) -> dict[str, Any] | None:
    """All checkpoint properties (position decoded under "position"), or None if there is none."""
    records, _, _ = driver.execute_query(
        cypher.checkpoint_read(), pipeline=pipeline, database_=database, routing_=neo4j.RoutingControl.READ
    )
    if not records:
        return None
    props = dict(records[0]["props"])
    info = {k: v for k, v in props.items() if not k.startswith(PREFIX)}
    info["position"] = decode_position(props)
    return info


def read_checkpoint(driver: neo4j.Driver, database: str, pipeline: str) -> dict[str, Any]:
    info = read_checkpoint_info(driver, database, pipeline)
    return info["position"] if info else {}
