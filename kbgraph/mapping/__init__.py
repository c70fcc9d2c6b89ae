"""Mapping files → compiled rules. ``compile_mappings(paths)`` is the one entry point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kbgraph.mapping.rules import CompiledMapping


def compile_mappings(paths: Sequence[str | Path]) -> CompiledMapping:
    """Load, validate and compile mapping files (files or directories of *.yaml)."""
    from kbgraph.mapping.loader import load_mapping_files

    return CompiledMapping(load_mapping_files(paths))


__all__ = ["CompiledMapping", "compile_mappings"]
