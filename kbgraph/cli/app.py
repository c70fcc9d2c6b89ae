"""The typer application and what every command shares: settings, the graph target, output."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kbgraph.errors import KbgraphError
from kbgraph.settings import Settings, load_settings
from kbgraph.sink.target import GraphTarget

app = typer.Typer(
    name="kbgraph",
    help="Keep a Neo4j knowledge graph in step with a relational knowledge base.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(help="Constraints and indexes the mappings imply.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")

console = Console(stderr=False)
err = Console(stderr=True)

MappingsOpt = typer.Option(None, "--mappings", "-m", help="mapping file or folder (repeatable; default: mappings/)")
ConfigOpt = typer.Option(None, "--config", help="TOML config file (default: ./kbgraph.toml if present)")
PipelineOpt = typer.Option(None, "--pipeline", help="checkpoint name (default: 'default')")


def settings(config: Path | None = None, **flags: object) -> Settings:
    try:
        return load_settings(config, **flags)
    except Exception as e:  # pydantic ValidationError: a bad environment variable or config value
        raise KbgraphError(f"bad setting: {e}") from None


def target_of(s: Settings) -> GraphTarget:
    if not s.neo4j_uri:
        raise KbgraphError("no graph to write to: set NEO4J_URI (and NEO4J_USERNAME / NEO4J_PASSWORD), "
                           "or try `kbgraph demo`, which starts an embedded graph server")
    return GraphTarget(s.neo4j_uri, s.neo4j_username, s.neo4j_password.get_secret_value(), s.neo4j_database,
                       retry_s=s.graph_retry_s)
