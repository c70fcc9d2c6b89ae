"""``kbgraph verify`` and the comparable graph dump the tests use.

- ``dump``: a comparable picture of the mapped graph (``dump_graph``, ``GraphDump``, ``reset_graph``);
- ``source_rows``: the source's current rows in key chunks (MySQL/MariaDB ``SqlRows``, jsonl ``FileRows``);
- ``row_checks``: the source side (missing and differing elements), ``extras``: the graph side (extra ones);
- ``differences``: what is reported (``Difference``, ``Report``), pure;
- ``verifier``: the run over every rule, re-checks while a sync runs, ``--repair``.

Only the dump is imported here, so ``import kbgraph.verify`` stays light (no MySQL client, no writer).
"""

from kbgraph.verify.dump import GraphDump, canonical, dump_graph, plain, reset_graph

__all__ = ["GraphDump", "canonical", "dump_graph", "plain", "reset_graph"]
