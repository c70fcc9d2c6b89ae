"""kbgraph: keep a Neo4j knowledge graph in step with a relational knowledge base."""

__version__ = "0.1.0"
