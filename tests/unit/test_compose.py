"""docker-compose.yml: valid Compose, converges by itself, and runs only commands kbgraph accepts.

Docker cannot run here, so the file is checked as far as it can be without it: against the
Compose specification (the ``compose-spec`` package: a strict, spec-complete parser), for a
dependency graph that every profile can start in order, and every kbgraph command the
containers run is parsed by kbgraph's own command line, as the container will.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from ruamel.yaml import YAML

from kbgraph.cli import app
from kbgraph.mapping import compile_mappings
from kbgraph.sources.kafka.formats import parse_topics
from kbgraph.sources.registry import SOURCES

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("binlog", "debezium", "publish")
KBGRAPH_IMAGE = "kbgraph:local"


def _env_file() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}")


def _interpolate(node: Any, env: dict[str, str]) -> Any:
    """What `docker compose` does to ${VAR}, ${VAR:-default}, ${VAR:?error} and $$."""
    if isinstance(node, dict):
        return {k: _interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, kind, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if kind == "?":
            raise AssertionError(f"${{{name}}} is not set: {arg}")
        return arg or ""

    return _VAR.sub(one, node)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))  # merges <<: anchors


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    return _interpolate(raw, _env_file())


def test_the_file_is_valid_compose(compose: dict[str, Any]) -> None:
    from compose_spec import PyCompose  # the test extra: pip install -e '.[test]'

    parsed = PyCompose.from_json(json.dumps(compose))
    assert set(parsed.service_names()) == set(compose["services"])
    # the validator is strict: a misspelt key does not pass
    broken = json.loads(json.dumps(compose))
    broken["services"]["neo4j"]["helthcheck"] = broken["services"]["neo4j"].pop("healthcheck")
    with pytest.raises(ValueError, match="helthcheck"):
        PyCompose.from_json(json.dumps(broken))


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _strings(v)]
    if isinstance(node, list):
        return [x for v in node for x in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_every_variable_comes_from_the_env_file(raw: dict[str, Any]) -> None:
    used = {name for text in _strings(raw) for name in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text)}
    env = _env_file()
    assert used <= set(env), f"not in .env: {used - set(env)}"
    assert env["COMPOSE_PROFILES"] in PROFILES
    assert len(env["NEO4J_PASSWORD"]) >= 8  # Neo4j refuses shorter ones
    assert re.fullmatch(r"[A-Za-z0-9_-]+", env["KBGRAPH_MYSQL_PASSWORD"])  # it goes into a mysql:// URL


def _active(services: dict[str, Any], profile: str) -> dict[str, Any]:
    return {n: s for n, s in services.items() if not s.get("profiles") or profile in s["profiles"]}


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_starts_in_order_by_itself(compose: dict[str, Any], profile: str) -> None:
    services = compose["services"]
    active = _active(services, profile)
    assert {"mysql", "neo4j", "kbgraph-schema"} <= set(active)
    streams = [n for n, s in active.items() if s.get("image") == KBGRAPH_IMAGE and s["command"][0] in ("sync",)]
    assert len(streams) == 1, f"{profile}: exactly one sync writes the graph, not {streams}"
    for name, s in active.items():
        for dep, how in (s.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if dep not in active:
                assert how.get("required") is False, f"{profile}: {name} needs {dep}, which the profile does not start"
                continue
            target = services[dep]
            if how["condition"] == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dep} to be healthy; it has no healthcheck"
            if how["condition"] == "service_completed_successfully":
                assert target.get("restart", "no") == "no", f"{dep} is a one-shot: it must not restart"
    # no cycle: a topological order exists
    order, left = [], dict(active)
    while left:
        ready = [n for n, s in left.items() if all(d not in left for d in (s.get("depends_on") or {}))]
        assert ready, f"{profile}: dependency cycle among {sorted(left)}"
        order += ready
        for n in ready:
            del left[n]
    # the long-running kbgraph containers report health (their metrics endpoint)
    for name in streams:
        assert active[name]["restart"] == "unless-stopped" and "healthcheck" in active[name]
        assert "--metrics-port" in active[name]["command"]


def _parse(args: list[str]) -> list[str]:
    """Parse ``kbgraph ARGS`` as the container does, up to the command's own options; the names."""
    command = typer.main.get_command(app)
    ctx = command.make_context("kbgraph", list(args))
    names = []
    while hasattr(command, "resolve_command"):
        protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
        name, command, rest = command.resolve_command(ctx, [*protected, *ctx.args])
        names.append(name)
        ctx = command.make_context(name, rest, parent=ctx)
    assert not ctx.args, f"kbgraph {' '.join(args)}: left over {ctx.args}"
    return names


def test_every_kbgraph_command_is_one_the_cli_accepts(compose: dict[str, Any]) -> None:
    kb = {n: s for n, s in compose["services"].items() if s.get("image") == KBGRAPH_IMAGE}
    assert {"kbgraph-schema", "kbgraph-snapshot", "kbgraph-sync", "kbgraph-debezium", "kbgraph-publish"} <= set(kb)
    seen = set()
    for name, s in kb.items():
        args = s["command"]
        assert all(isinstance(a, str) for a in args), f"{name}: quote every argument"
        seen.add(" ".join(_parse(args)))
        if "--source" in args:
            assert args[args.index("--source") + 1] in SOURCES
        topics = [args[i + 1] for i, a in enumerate(args) if a == "--topic" and args[0] == "sync"]
        parse_topics(topics, "auto")  # a bad topic:format raises
        env = s["environment"]
        assert env["NEO4J_URI"] == "bolt://neo4j:7687" and env["KBGRAPH_MYSQL_URL"].startswith("mysql://kbgraph:")
    assert seen == {"schema apply", "snapshot", "sync", "publish"}
    # a misspelt option would not get past the parser either
    with pytest.raises(Exception, match="no-such-option"):
        _parse(["sync", "--no-such-option"])


def test_binlog_readers_have_distinct_server_ids(compose: dict[str, Any]) -> None:
    ids = []
    for s in compose["services"].values():
        args = s.get("command") or []
        if s.get("image") == KBGRAPH_IMAGE and ("binlog" in args or args[:1] == ["publish"]):
            ids.append(args[args.index("--server-id") + 1])
    ids.append(json.loads((ROOT / "deploy" / "debezium-kb.json").read_text())["database.server.id"])
    assert len(ids) == 3 and len(set(ids)) == 3, ids


def test_debezium_reads_the_mapped_tables_into_the_topics_kbgraph_reads(compose: dict[str, Any]) -> None:
    config = json.loads((ROOT / "deploy" / "debezium-kb.json").read_text(encoding="utf-8"))
    m = compile_mappings([ROOT / "mappings"])
    schema = "kb"
    assert {s for s, _ in m.tables()} == {schema}
    tables = {t for _, t in m.tables()}
    assert set(config["table.include.list"].split(",")) == {f"{schema}.{t}" for t in tables}
    args = compose["services"]["kbgraph-debezium"]["command"]
    topics = {args[i + 1].split(":")[0] for i, a in enumerate(args) if a == "--topic"}
    assert topics == {f"{config['topic.prefix']}.{schema}.{t}" for t in tables}
    assert config["database.password"].startswith("${env:")  # no secret in the file
    env = compose["services"]["connect"]["environment"]
    assert env["CONNECT_CONFIG_PROVIDERS"] == "env" and "KBGRAPH_MYSQL_PASSWORD" in env


def test_mounted_files_exist(raw: dict[str, Any]) -> None:
    for name, s in raw["services"].items():
        for v in s.get("volumes") or []:
            source = v.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is missing"


def test_mysql_is_configured_as_kbgraph_checks_it(compose: dict[str, Any]) -> None:
    from kbgraph.sources.binlog.server import REQUIRED_VARIABLES

    flags = dict(a.lstrip("-").replace("-", "_").split("=", 1) for a in compose["services"]["mysql"]["command"])
    for name, want in REQUIRED_VARIABLES.items():
        if name == "log_bin":
            assert flags.get("log_bin"), "the binlog must be on"
        else:
            assert flags.get(name, "").upper() == want, f"mysql needs --{name.replace('_', '-')}={want}"
    assert flags["gtid_mode"] == "ON" and flags["enforce_gtid_consistency"] == "ON"
    assert len({flags["server_id"], "4271", "4272", "5401"}) == 4  # the server's own id is not a reader's
