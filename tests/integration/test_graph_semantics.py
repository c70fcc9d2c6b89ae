"""What kbgraph relies on from the graph server, beyond plain Cypher: checked on a real Neo4j.

The ArcadeDB stand-in breaks this one (found by the convergence soak, seeds 1827 and 2208 of
``bench/soak_convergence.py``): once a transaction changes the composite key of one node, a lookup
by the composite key of *another* node that shares a key value finds nothing until the commit. A
stub-then-upsert of that other node in the same batch then creates a second node with its key —
which a real Neo4j, whose uniqueness constraint and index see the transaction's own writes, never
does. The oracle's cases that hit it diverge on the stand-in only.
"""

from __future__ import annotations

import pytest

from kbgraph.graph.schema import apply_schema
from kbgraph.mapping import compile_mappings

pytestmark = pytest.mark.integration

MAPPING = """
entities:
  - table: thing
    label: Thing
    key: [id, part]
    properties: {name: name}
"""


@pytest.mark.needs_neo4j("finding a node by a composite key after another node's key changed in the same transaction")
def test_a_key_change_in_a_transaction_leaves_other_nodes_findable(graph_server, graph, tmp_path):
    path = tmp_path / "thing.yaml"
    path.write_text(MAPPING)
    apply_schema(graph, graph_server.database, compile_mappings([path]))
    graph.execute_query("CREATE (:Thing {id: 1, part: 'a'}), (:Thing {id: 6, part: 'a'})", database_=graph_server.database)
    find = "OPTIONAL MATCH (n:Thing {id: $id, part: $part}) RETURN n.id AS id"

    def work(tx):
        tx.run("MATCH (n:Thing {id: 1, part: 'a'}) SET n.id = 6, n.part = 'b'").consume()
        return tx.run(find, id=6, part="a").single()["id"], tx.run(find, id=6, part="b").single()["id"]

    with graph.session(database=graph_server.database) as session:
        assert session.execute_write(work) == (6, 6)
