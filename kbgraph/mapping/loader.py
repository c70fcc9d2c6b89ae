"""Load mapping files: YAML with line numbers → ``MappingFile`` models → cross-checks.

Every problem of every file is collected and raised together as one ``MappingError`` whose
message has one line per problem, each ``file:line: key.path: message`` — the YAML key path a
user can find in the file (pydantic's union member names and aliases are translated away).
"""

from __future__ import annotations

import inspect
import typing
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from kbgraph.errors import MappingError
from kbgraph.mapping.ddl import parse_ddl
from kbgraph.mapping.model import MappingFile
from kbgraph.mapping.validate import check_files, closest, format_path

__all__ = ["LoadedFile", "format_path", "load_mapping_files"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    model: MappingFile
    tables: dict[str, list[str]] | None  # columns per table from source.ddl, None if no ddl given
    doc: Any = field(default=None, repr=False, compare=False)  # the ruamel round-trip document

    def line_of(self, loc: Loc) -> int | None:
        """1-based YAML line of a key path, e.g. ``("relations", 0, "from", "key")``; for a path
        that is not (fully) in the file, the line of its deepest present part."""
        return _line_of(self.doc, loc)

    def where(self, loc: Loc) -> str:
        """``file:line: key.path`` for messages."""
        line = self.line_of(loc)
        head = f"{self.path}:{line}" if line is not None else str(self.path)
        return f"{head}: {format_path(loc)}" if loc else head


def _line_of(doc: Any, loc: Loc) -> int | None:
    if doc is None:
        return None
    line = 1
    node = doc
    for seg in loc:
        try:
            if isinstance(node, CommentedMap) and seg in node:
                line = node.lc.key(seg)[0] + 1 if seg in node.lc.data else line  # merged (<<:) keys: the map's line
                node = node[seg]
            elif isinstance(node, CommentedSeq) and isinstance(seg, int) and 0 <= seg < len(node):
                line = node.lc.item(seg)[0] + 1
                node = node[seg]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line


# ---------------------------------------------------------------- YAML → plain data


def _plain(node: Any) -> Any:
    """ruamel's round-trip types → plain Python (pydantic then sees what the user wrote)."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _read_yaml(path: Path, problems: list[str]) -> tuple[bool, Any]:
    """(read, document); read is False when a problem was reported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return False, None
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text (byte {exc.start})")
        return False, None
    try:
        return True, YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}" if mark is not None else "1"
        what = exc.problem or exc.context or "invalid YAML"
        col = f" (column {mark.column + 1})" if mark is not None else ""
        problems.append(f"{path}:{line}: YAML syntax error: {what}{col}")
    except YAMLError as exc:
        problems.append(f"{path}:1: YAML error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    return False, None


# ---------------------------------------------------------------- pydantic errors → file:line: key: message


def _describe(v: Any) -> str:
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"{str(v).lower()}"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the text {v!r}"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return type(v).__name__


_TYPE_WORDS = {
    "string_type": "text", "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "int_type": "a whole number", "bool_type": "true or false",
    "float_type": "a number", "int_parsing": "a whole number", "bool_parsing": "true or false",
}


def _members(t: Any) -> list[Any]:
    origin = typing.get_origin(t)
    if origin is typing.Union or type(t).__name__ == "UnionType":
        return [m for a in typing.get_args(t) for m in _members(a)]
    if origin is typing.Annotated:
        return _members(typing.get_args(t)[0])
    return [t]


def _model_at(path: Loc) -> type[BaseModel] | None:
    """The model class that describes the mapping at ``path`` (YAML keys, aliases)."""
    current: Any = MappingFile
    for seg in path:
        nxt = None
        for m in _members(current):
            if inspect.isclass(m) and issubclass(m, BaseModel) and isinstance(seg, str):
                for name, f in m.model_fields.items():
                    if (f.alias or name) == seg:
                        nxt = f.annotation
            elif typing.get_origin(m) is list and isinstance(seg, int):
                nxt = typing.get_args(m)[0]
            elif typing.get_origin(m) is dict and not isinstance(seg, int):
                nxt = typing.get_args(m)[1]
            if nxt is not None:
                break
        if nxt is None:
            return None
        current = nxt
    for m in _members(current):
        if inspect.isclass(m) and issubclass(m, BaseModel):
            return m
    return None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


@dataclass
class _Err:
    path: Loc  # YAML key path (tags removed)
    tags: list[tuple[Loc, str]]  # (path where a union member was tried, member name)
    type: str
    msg: str
    ctx: dict[str, Any]
    node: Any  # the YAML value at path (None if absent)
    key_error: bool = False

    @property
    def shallow(self) -> bool:
        """A union member that rejected the value's kind outright (not a deeper problem)."""
        return bool(self.tags) and self.tags[-1][0] == self.path and self.type in _TYPE_WORDS


def _walk(doc: Any, error: Any) -> _Err:
    loc: tuple[Any, ...] = error["loc"]
    path: list[str | int] = []
    tags: list[tuple[Loc, str]] = []
    node, present = doc, True
    key_error = False
    for i, seg in enumerate(loc):
        last = i == len(loc) - 1
        if seg == "[key]":
            key_error = True
            continue
        if isinstance(node, dict) and seg in node:
            path.append(seg)
            node = node[seg]
        elif isinstance(node, list) and isinstance(seg, int):
            path.append(seg)
            node = node[seg] if 0 <= seg < len(node) else None
        elif isinstance(seg, str) and not (last and error["type"] == "missing") and present:
            tags.append((tuple(path), seg))  # a union member's name, not a YAML key
        else:
            path.append(seg)
            node, present = None, False
    return _Err(tuple(path), tags, error["type"], error["msg"], error.get("ctx") or {}, node, key_error)


def _prune_unions(errs: list[_Err]) -> list[_Err]:
    """Keep, for each union, only the members that got past the value's kind (if any did)."""
    depth = 0
    while True:
        groups: dict[tuple[Any, ...], list[_Err]] = defaultdict(list)
        for e in errs:
            if len(e.tags) > depth:
                groups[(tuple(e.tags[:depth]), e.tags[depth][0])].append(e)
        if not groups:
            return errs
        drop: set[int] = set()
        for members in groups.values():
            deep = {e.tags[depth][1] for e in members if not (len(e.tags) == depth + 1 and e.shallow)}
            if deep:
                drop |= {id(e) for e in members if e.tags[depth][1] not in deep}
        errs = [e for e in errs if id(e) not in drop]
        depth += 1


def _text(e: _Err) -> str:
    if e.key_error:
        return "keys here must be text"
    t = e.type
    if t == "missing":
        return "this key is required"
    if t in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[t]}, got {_describe(e.node)}"
    if t == "literal_error":
        return f"expected {e.ctx.get('expected', 'one of the allowed values')}, got {_describe(e.node)}"
    if t in ("value_error", "assertion_error"):
        msg = e.msg
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        return msg
    if t == "too_short":
        n = e.ctx.get("min_length", 1)
        return f"needs at least {n} item{'s' if n != 1 else ''}"
    return e.msg[0].lower() + e.msg[1:] if e.msg else t


def _pydantic_problems(lf_path: Path, doc: Any, exc: ValidationError) -> list[tuple[int, str]]:
    errs = _prune_unions([_walk(doc, er) for er in exc.errors(include_url=False)])
    merged: dict[tuple[Loc, bool], list[_Err]] = defaultdict(list)
    out: list[tuple[int, str]] = []
    for e in errs:
        if e.shallow:  # every member rejected the kind: one line "expected text or a list"
            merged[(e.path, True)].append(e)
            continue
        path = e.path
        if e.type == "missing":
            text = f"missing required key {path[-1]!r}"
            path = path[:-1]
        elif e.type == "extra_forbidden":
            model = _model_at(path[:-1])
            valid = _keys_of(model) if model else []
            hit = closest(str(path[-1]), valid)
            text = f"unknown key {path[-1]!r}"
            if hit:
                text += f" (did you mean {hit!r}?)"
            elif valid:
                text += f"; allowed here: {', '.join(valid)}"
        else:
            text = _text(e)
        out.append((_line_of(doc, path) or 1, _line(lf_path, doc, path, text)))
    for (path, _), group in merged.items():
        kinds: list[str] = []
        for e in group:
            word = _TYPE_WORDS[e.type]
            if e.type == "list_type" and e.tags[-1][1] == "list[str]":
                word = "a list of texts"
            if word not in kinds:
                kinds.append(word)
        text = f"expected {' or '.join(kinds)}, got {_describe(group[0].node)}"
        out.append((_line_of(doc, path) or 1, _line(lf_path, doc, path, text)))
    return sorted(out, key=lambda p: p[0])


def _line(path: Path, doc: Any, loc: Loc, text: str) -> str:
    line = _line_of(doc, loc) or 1
    return f"{path}:{line}: {format_path(loc)}: {text}" if loc else f"{path}:{line}: {text}"


# ---------------------------------------------------------------- files


def _expand(paths: Sequence[str | Path], problems: list[str]) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    if not paths:
        problems.append("no mapping files given")
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
            if not found:
                problems.append(f"{p}: no *.yaml or *.yml mapping files in this directory")
        elif p.exists():
            found = [p]
        else:
            problems.append(f"{p}: no such mapping file or directory")
            found = []
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                files.append(q)
    return files


def _load_ddl(path: Path, model: MappingFile, doc: Any, problems: list[str]) -> dict[str, list[str]] | None:
    if model.source.ddl is None:
        return None
    ddl = path.parent / model.source.ddl
    where = _line(path, doc, ("source", "ddl"), "").removesuffix(": ")
    try:
        tables = parse_ddl(ddl.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        problems.append(f"{where}: cannot read {str(ddl)!r}: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError as exc:
        problems.append(f"{where}: {str(ddl)!r} is not UTF-8 text (byte {exc.start})")
        return None
    except ValueError as exc:
        problems.append(f"{where}: {ddl}: {exc}")
        return None
    if not tables:
        problems.append(f"{where}: {ddl} has no CREATE TABLE statements")
        return None
    return tables


def _load_one(path: Path, problems: list[str]) -> LoadedFile | None:
    read, doc = _read_yaml(path, problems)
    if not read:
        return None
    if doc is None:
        problems.append(f"{path}:1: the file is empty; a mapping file holds entities, relations or properties")
        return None
    if not isinstance(doc, dict):
        problems.append(
            f"{path}:1: expected a mapping at the top level (source, options, entities, relations, properties), "
            f"got {_describe(_plain(doc))}"
        )
        return None
    try:
        model = MappingFile.model_validate(_plain(doc))
    except ValidationError as exc:
        problems.extend(msg for _, msg in _pydantic_problems(path, doc, exc))
        return None
    if not (model.entities or model.relations or model.properties):
        problems.append(f"{path}:1: the file maps nothing: add entities, relations or properties")
    tables = _load_ddl(path, model, doc, problems)
    return LoadedFile(path=path, model=model, tables=tables, doc=doc)


def load_mapping_files(paths: Sequence[str | Path]) -> list[LoadedFile]:
    """Load and check mapping files (each path a file or a directory of *.yaml / *.yml).

    Raises ``MappingError`` listing every problem of every file, one ``file:line: key: message``
    per line.
    """
    problems: list[str] = []
    loaded = [lf for p in _expand(paths, problems) if (lf := _load_one(p, problems)) is not None]
    problems.extend(check_files(loaded))
    if problems:
        raise MappingError("\n".join(problems))
    return loaded
