"""``kbgraph model``: the graph model the mappings imply, as Mermaid, SVG, a Neo4j Browser style or saved queries."""

from __future__ import annotations

from pathlib import Path

import typer

from kbgraph import graph_model
from kbgraph.cli.app import ConfigOpt, MappingsOpt, app, console, settings
from kbgraph.errors import KbgraphError
from kbgraph.mapping.loader import LoadedFile, load_mapping_files


def _svg(files: list[LoadedFile]) -> str:
    from kbgraph.model_svg import svg

    return svg(graph_model.build(files), "graph model of the mappings")


def _browser(files: list[LoadedFile]) -> str:
    from kbgraph.browser_guide import browser_text

    return browser_text(files)


FORMATS = {
    "mermaid": lambda files: graph_model.mermaid(graph_model.build(files)),
    "svg": _svg,
    "grass": lambda files: graph_model.grass(graph_model.build(files)),
    "browser": _browser,
}


@app.command()
def model(
    paths: list[Path] | None = typer.Argument(None, help="mapping files or folders (as -m; default: mappings/)",
                                                 show_default=False),
    mappings: list[Path] | None = MappingsOpt,
    fmt: str = typer.Option("mermaid", "--format", "-f", help="mermaid (a flowchart), svg (a picture), grass (a Neo4j Browser style) or browser (saved queries)"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write to this file instead of printing"),
    config: Path | None = ConfigOpt,
) -> None:
    """Print the graph model the mappings imply: Mermaid, an SVG picture, a Neo4j Browser style or saved queries.

    Labels, relationship types, property nodes, and the table and rule that feed each. Paste the
    Mermaid text into a Markdown file; open the SVG anywhere; load the GraSS file in Neo4j Browser
    (drag it onto the window) to colour and caption every mapped label; paste the saved queries
    (-f browser) into Browser and star them (docs/browser.md)."""
    if fmt not in FORMATS:
        raise KbgraphError(f"--format is one of {', '.join(FORMATS)}, not {fmt!r}")
    files = load_mapping_files([*(paths or []), *(mappings or [])] or settings(config).mappings)
    text = FORMATS[fmt](files)
    if output is None:
        console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)
