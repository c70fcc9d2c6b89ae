"""``kbgraph model``: the graph model the mappings imply, as Mermaid text or a Neo4j Browser style."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kbgraph import graph_model
from kbgraph.cli.app import ConfigOpt, MappingsOpt, app, console, settings
from kbgraph.errors import KbgraphError


def _svg(g: "graph_model.GraphModel") -> str:
    from kbgraph.model_svg import svg

    return svg(g, "graph model of the mappings")


FORMATS = {
    "mermaid": lambda g: graph_model.mermaid(g),
    "svg": _svg,
    "grass": lambda g: graph_model.grass(g),
}


@app.command()
def model(
    paths: Optional[list[Path]] = typer.Argument(None, help="mapping files or folders (as -m; default: mappings/)",
                                                 show_default=False),
    mappings: Optional[list[Path]] = MappingsOpt,
    fmt: str = typer.Option("mermaid", "--format", "-f", help="mermaid (a flowchart), svg (a picture), grass (a Neo4j Browser style) or browser (saved queries)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write to this file instead of printing"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Print the graph model the mappings imply, as Mermaid (or a Neo4j Browser style).

    Labels, relationship types, property nodes, and the table and rule that feed each. Paste the
    Mermaid text into a Markdown file, or load the GraSS file in Neo4j Browser (drag it onto the
    window) to colour and caption every mapped label."""
    if fmt not in FORMATS:
        raise KbgraphError(f"--format is one of {', '.join(FORMATS)}, not {fmt!r}")
    g = graph_model.load([*(paths or []), *(mappings or [])] or settings(config).mappings)
    text = FORMATS[fmt](g)
    if output is None:
        console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)
