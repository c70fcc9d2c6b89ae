"""Running the ``kbgraph`` command in a subprocess, as a user would, against the test servers."""

from __future__ import annotations

import os
import sys
from typing import Any

KBGRAPH = [sys.executable, "-c", "from kbgraph.cli import main; main()"]


def cli_env(graph: Any, *, mysql_url: str | None = None, pipeline: str | None = None, **extra: str) -> dict[str, str]:
    """The environment without the caller's KBGRAPH_* / NEO4J_* settings, pointed at ``graph`` (and MySQL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBGRAPH_", "NEO4J_"))}
    env.update({"NEO4J_URI": graph.uri, "NEO4J_USERNAME": graph.user, "NEO4J_PASSWORD": graph.password,
                "NEO4J_DATABASE": graph.database})
    if mysql_url is not None:
        env["KBGRAPH_MYSQL_URL"] = mysql_url
    if pipeline is not None:
        env["KBGRAPH_PIPELINE"] = pipeline
    env.update(extra)
    return env
