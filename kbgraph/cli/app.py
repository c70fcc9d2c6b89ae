"""The typer application and what every command shares: settings, the graph target, output."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kbgraph.errors import KbgraphError
from kbgraph.settings import Settings, load_settings

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
    # pydantic's ValidationError (a bad value), pydantic-settings' SettingsError (an environment value
    # that is not JSON where a list is wanted), tomllib's TOMLDecodeError: all ValueErrors; OSError:
    # an unreadable config file
    except (ValueError, OSError) as e:
        raise KbgraphError(f"bad setting: {e}") from None


