"""``kbgraph`` command line. ``main`` turns every user-facing error into one clear line."""

from __future__ import annotations

import importlib
import logging
import sys

from kbgraph.cli.app import app, err
from kbgraph.errors import KbgraphError, StopAtCheckpoint

# command modules register themselves on ``app``; optional ones may be absent in a partial install
for _module in ("core", "demo", "verify", "snapshot", "publish"):
    try:
        importlib.import_module(f"kbgraph.cli.{_module}")
    except ModuleNotFoundError as e:
        if e.name != f"kbgraph.cli.{_module}":
            raise


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except StopAtCheckpoint as e:
        err.print(f"[yellow]stopped:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(3)
    except KbgraphError as e:
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        raise


__all__ = ["app", "main"]
