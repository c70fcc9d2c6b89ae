"""``kbgraph graph start | stop | status``: a local graph server for your own data, in the background."""

from __future__ import annotations

from pathlib import Path

import typer

from kbgraph import local_graph
from kbgraph.cli.app import app, console

graph_app = typer.Typer(help="A local graph server (the embedded one) for your own data, in the background.",
                        no_args_is_help=True)
app.add_typer(graph_app, name="graph")

DataOpt = typer.Option(Path(".kbgraph/graph"), "--data", help="folder of the graph server (its data, log and password)")


def _connect_hint(g: local_graph.LocalGraph) -> None:
    console.print(f"graph server running (pid {g.pid}): [bold]{g.uri}[/], user {g.user}, database {g.database}; "
                  f"the password is in {g.password_file}", highlight=False)
    console.print("use it for snapshot / sync / status (bash):", highlight=False)
    console.print(f"  export NEO4J_URI={g.uri} NEO4J_USERNAME={g.user} NEO4J_DATABASE={g.database} "
                  f"NEO4J_PASSWORD=\"$(cat {g.password_file})\"", highlight=False, markup=False, soft_wrap=True)
    console.print(f"browse it: ArcadeDB Studio at http://127.0.0.1:{g.http_port}/ (same login); "
                  "stop it: kbgraph graph stop", highlight=False)


@graph_app.command("start")
def graph_start(
    data: Path = DataOpt,
    bolt_port: int = typer.Option(local_graph.DEFAULT_BOLT, "--bolt-port", help="Bolt port on 127.0.0.1"),
    http_port: int = typer.Option(local_graph.DEFAULT_HTTP, "--http-port", help="HTTP (Studio) port on 127.0.0.1"),
) -> None:
    """Start the graph server in the background (nothing happens when it already runs)."""
    already = local_graph.running(data)
    g = already or local_graph.start(data, bolt_port, http_port)
    if already is not None:
        console.print("already running", highlight=False)
    _connect_hint(g)


@graph_app.command("stop")
def graph_stop(data: Path = DataOpt) -> None:
    """Stop the graph server started in --data (its data stays)."""
    if local_graph.stop(data):
        console.print(f"graph server in {data} stopped; its data stays (kbgraph graph start runs it again)")
    else:
        console.print(f"no graph server runs in {data}")


@graph_app.command("status")
def graph_status(data: Path = DataOpt) -> None:
    """Whether the graph server of --data runs and answers, and how to connect. Exit 1 if it does not run."""
    g = local_graph.running(data)
    if g is None:
        console.print(f"no graph server runs in {data}; start one with: kbgraph graph start")
        raise typer.Exit(1)
    import neo4j

    with neo4j.GraphDatabase.driver(g.uri, auth=(g.user, g.password())) as driver:
        records, _, _ = driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=g.database)
    _connect_hint(g)
    console.print(f"it answers: {records[0]['n']:,} node(s)", highlight=False)
