"""``kbgraph demo``: the example knowledge base, end to end, with nothing installed but kbgraph.

With no ``NEO4J_URI`` it starts the embedded graph server (ArcadeDB with its Bolt plugin, from the
``arcadedb-embedded`` wheel) in a data folder, syncs the example change file into it, shows what
the graph holds, and stops the server. With ``NEO4J_URI`` set it does the same against that Neo4j.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from rich.table import Table

from kbgraph.cli.app import app, console, settings
from kbgraph.cli.core import run_pipeline
from kbgraph.errors import KbgraphError
from kbgraph.graph import schema as graph_schema
from kbgraph.mapping import compile_mappings
from kbgraph.sink.target import from_settings as target_of

_EXAMPLE = "kb-changes.jsonl"


def example_folder() -> Path | None:
    """The worked example (kb.yaml, kb.sql, kb-changes.jsonl): in an installed wheel it is
    ``kbgraph/examples/`` (copied from ``mappings/`` at build time); in a checkout, ``mappings/``."""
    package = Path(__file__).resolve().parents[1]
    for c in (package / "examples", package.parent / "mappings"):
        if (c / _EXAMPLE).is_file():
            return c
    return None


def _find_mappings(given: Path | None) -> Path:
    if given is not None:
        if (given / _EXAMPLE).is_file():
            return given
        raise KbgraphError(f"{given} holds no {_EXAMPLE}: --mappings names a folder with the example's "
                           "mapping files and its change file")
    found = Path("mappings") if (Path("mappings") / _EXAMPLE).is_file() else example_folder()
    if found is None:
        raise KbgraphError(f"cannot find the example ({_EXAMPLE}): this kbgraph was installed without it; "
                           "reinstall it (pip install kbgraph) or pass --mappings")
    return found


_QUERIES = [
    ("who works where", "MATCH (p:Person)-[:WORKS_AT]->(o:Organization) "
     "RETURN p.name AS person, o.name AS organization ORDER BY person LIMIT 8"),
    ("what lies where", "MATCH (a:Entity)-[:LOCATED_IN]->(b:Entity) RETURN a.name AS entity, b.name AS place "
     "ORDER BY entity LIMIT 8"),
]


@app.command()
def demo(
    data: Path = typer.Option(Path(".kbgraph/demo"), "--data", help="folder of the embedded graph server"),
    mappings: Path | None = typer.Option(None, "--mappings", "-m", help="folder with kb.yaml and kb-changes.jsonl"),
    keep: bool = typer.Option(False, "--keep", help="leave the embedded server running until Enter / Ctrl-C"),
) -> None:
    """Sync the example knowledge base into a graph and show the result."""
    folder = _find_mappings(mappings)
    s = settings(None, changes=folder / _EXAMPLE, mappings=[folder], pipeline="demo")
    m = compile_mappings([folder])
    server = None
    if not s.neo4j_uri:
        from kbgraph.embedded import EmbeddedGraph

        shutil.rmtree(data, ignore_errors=True)  # a fresh graph each run
        data.mkdir(parents=True, exist_ok=True)
        console.print(f"starting the embedded graph server in {data} …")
        server = EmbeddedGraph(data).start()
        s = s.model_copy(update={"neo4j_uri": server.uri, "neo4j_username": server.user,
                                 "neo4j_database": server.database})
        s.neo4j_password = type(s.neo4j_password)(server.password)
    try:
        target = target_of(s)
        with target.driver() as driver:
            created = graph_schema.apply_schema(driver, target.database, m)
        console.print(f"schema: {len(created)} constraint(s)/index(es) created")
        console.print(f"syncing {s.changes} through {folder}/ …")
        run_pipeline(s, m, "jsonl")
        with target.driver() as driver:
            for title, q in _QUERIES:
                records, _, _ = driver.execute_query(q, database_=target.database)
                if records:
                    t = Table(*records[0].keys(), title=title)
                    for r in records:
                        t.add_row(*(str(v) for v in r.values()))
                    console.print(t)
        console.print(f"graph: {target.describe()}")
        if server is not None:
            console.print("look at it: run `kbgraph demo --keep` and open ArcadeDB Studio at "
                          f"http://127.0.0.1:{server.http_port}/ (user root, password in {data / 'root-password'}), "
                          "or connect any Bolt client to the URI above; for Neo4j Browser, set NEO4J_URI to a Neo4j 5 "
                          "server and run `kbgraph demo` again. For your own data: `kbgraph graph start` runs a "
                          "graph server in the background on fixed ports.", highlight=False)
            if keep:
                try:
                    input("server running; press Enter to stop it … ")
                except (EOFError, KeyboardInterrupt):
                    pass
    finally:
        if server is not None:
            server.stop()
            console.print("embedded graph server stopped")
