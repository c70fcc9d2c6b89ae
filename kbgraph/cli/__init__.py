"""``kbgraph`` command line. ``main`` turns every user-facing error into one clear line."""

from __future__ import annotations

import importlib
import logging
import sys

from kbgraph.cli.app import app, err
from kbgraph.errors import KbgraphError, StopAtCheckpoint
from kbgraph.outage import StoppedWaiting

# command modules register themselves on ``app``; optional ones may be absent in a partial install
for _module in ("core", "demo", "verify", "snapshot", "publish", "graph", "model", "dlq"):
    try:
        importlib.import_module(f"kbgraph.cli.{_module}")
    except ModuleNotFoundError as e:
        if e.name != f"kbgraph.cli.{_module}":
            raise


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import neo4j.exceptions as graph_errors

    try:
        app()  # usage errors are reported and exit by themselves
    except StoppedWaiting as e:  # SIGTERM/SIGINT during an outage: a clean stop, nothing to lose
        _fail(f"[yellow]stopped:[/] {e}", 0)
    except StopAtCheckpoint as e:
        _fail(f"[yellow]stopped:[/] {e}", 3)
    except KbgraphError as e:
        _fail(f"[red]error:[/] {e}", 2)
    except (graph_errors.DriverError, graph_errors.Neo4jError) as e:
        _fail(f"[red]error:[/] {graph_error_line(e)}", 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)


RATE_LIMIT = "Neo.ClientError.Security.AuthenticationRateLimit"


def graph_error_line(e: BaseException) -> str:
    """One line for an error of the graph driver or server (never its traceback; the driver's
    messages hold no password)."""
    import neo4j.exceptions as graph_errors

    code = getattr(e, "code", None)
    if code == RATE_LIMIT:
        return (f"the graph refused the login: wrong credentials too many times in a row ({RATE_LIMIT}); "
                "check NEO4J_USERNAME / NEO4J_PASSWORD, then wait before trying again")
    if isinstance(e, graph_errors.AuthError):
        return "the graph refused the credentials: check NEO4J_USERNAME / NEO4J_PASSWORD"
    text = " ".join(str(e).split())
    return f"the graph: {type(e).__name__}: {text}"


def _fail(message: str, code: int) -> None:
    err.print(message, highlight=False, soft_wrap=True)
    sys.exit(code)


__all__ = ["app", "graph_error_line", "main"]
