"""A local graph for your own data: the embedded graph server, in the background, on fixed ports.

``kbgraph graph start`` runs ``python -m kbgraph.local_graph DATA …`` as a detached *keeper*
process; the keeper starts the embedded server (``kbgraph.embedded.EmbeddedGraph``, which dies
with it) and records ``DATA/graph.json`` (pid, ports, state; never the password). ``stop`` sends
the keeper SIGTERM, which stops the server cleanly. The password is generated once and kept in
``DATA/root-password`` (mode 0600), so the same folder starts again with the same login.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbgraph.errors import KbgraphError

STATE_FILE = "graph.json"
PASSWORD_FILE = "root-password"
KEEPER_LOG = "keeper.log"
DEFAULT_BOLT = 7687
DEFAULT_HTTP = 2480
_MODULE = "kbgraph.local_graph"


@dataclass(frozen=True)
class LocalGraph:
    """What ``graph.json`` says about a started server."""

    data: Path
    pid: int
    bolt_port: int
    http_port: int
    user: str
    database: str

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def password_file(self) -> Path:
        return self.data / PASSWORD_FILE

    def password(self) -> str:
        return self.password_file.read_text(encoding="utf-8").strip()


def _state_path(data: Path) -> Path:
    return data / STATE_FILE


def _write_state(data: Path, state: dict[str, Any]) -> None:
    tmp = _state_path(data).with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    tmp.replace(_state_path(data))


def _read_state(data: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(_state_path(data).read_text(encoding="utf-8"))
        return state
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise KbgraphError(f"{_state_path(data)} is unreadable ({e}); remove it if no graph server runs") from None


def _alive(pid: int) -> bool:
    """True while the process runs (a finished child of ours is reaped, not counted)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: the usual case
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # Linux: the pid was not reused by something else
        try:
            return _MODULE.encode() in cmdline.read_bytes()
        except OSError:
            return True
    return True


def running(data: Path) -> LocalGraph | None:
    """The server started in ``data``, if it runs."""
    data = data.absolute()
    state = _read_state(data)
    if not state or state.get("state") != "running" or not _alive(int(state["pid"])):
        return None
    return LocalGraph(data, int(state["pid"]), int(state["bolt_port"]), int(state["http_port"]),
                      str(state["user"]), str(state["database"]))


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(data: Path, bolt_port: int = DEFAULT_BOLT, http_port: int = DEFAULT_HTTP, timeout: float = 120) -> LocalGraph:
    """Start the keeper in the background and wait until the server answers (or failed)."""
    from kbgraph.embedded import embedded_available

    data = data.absolute()
    if not embedded_available():
        raise KbgraphError("the local graph server needs: pip install 'kbgraph[embedded]'")
    found = running(data)
    if found is not None:
        return found
    for port, flag in ((bolt_port, "--bolt-port"), (http_port, "--http-port")):
        if not _port_free(port):
            raise KbgraphError(f"port {port} on 127.0.0.1 is in use (another server?); choose another with {flag}")
    try:
        data.mkdir(parents=True, exist_ok=True)
        _state_path(data).unlink(missing_ok=True)
        with open(data / KEEPER_LOG, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", _MODULE, str(data), str(bolt_port), str(http_port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # not stopped by the terminal's Ctrl-C or hang-up
            )
    except OSError as e:
        raise KbgraphError(f"cannot start the graph server in {data}: {e.strerror or e}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _read_state(data)
        if state and state.get("state") == "failed":
            proc.wait(10)
            raise KbgraphError(str(state.get("error", "the graph server did not start")))
        if state and state.get("state") == "running":
            found = running(data)
            if found is not None:
                return found
        if proc.poll() is not None:
            raise KbgraphError(f"the graph server's keeper exited with code {proc.returncode}; see {data / KEEPER_LOG}")
        time.sleep(0.2)
    stop(data)
    raise KbgraphError(f"the graph server did not answer within {timeout:.0f}s; see {data / 'server.log'}")


def stop(data: Path, timeout: float = 30) -> bool:
    """Stop the server started in ``data``; False when none ran."""
    data = data.absolute()
    state = _read_state(data)
    if not state or "pid" not in state:
        return False
    pid = int(state["pid"])
    if not _alive(pid):
        _state_path(data).unlink(missing_ok=True)
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except PermissionError:
        raise KbgraphError(f"the graph server in {data} (pid {pid}) belongs to another user; stop it as that user") from None
    deadline, killed = time.monotonic() + timeout, False
    while _alive(pid):
        if not killed and time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)  # the keeper leads its own group: the server goes too
            killed, deadline = True, time.monotonic() + 10  # "stopped" only once it is gone
        elif killed and time.monotonic() > deadline:
            raise KbgraphError(f"the graph server in {data} (pid {pid}) did not end after SIGKILL")
        time.sleep(0.2)
    _state_path(data).unlink(missing_ok=True)
    return True


def _keep(data: Path, bolt_port: int, http_port: int) -> int:
    """The keeper: run the server until SIGTERM / SIGINT."""
    from kbgraph.embedded import EmbeddedGraph

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server = EmbeddedGraph(data, bolt_port=bolt_port, http_port=http_port)
    try:
        server.start()
    except KbgraphError as e:
        first = str(e).splitlines()[0]
        _write_state(data, {"state": "failed", "error": f"{first} (see {data / 'server.log'})"})
        return 1
    _write_state(data, {"state": "running", "pid": os.getpid(), "bolt_port": server.bolt_port,
                        "http_port": server.http_port, "user": server.user, "database": server.database})
    try:
        while not stopping.wait(1):
            if not server.running:
                _write_state(data, {"state": "failed", "error": f"the graph server exited; see {server.log_path}"})
                return 1
    finally:
        server.stop()
    _state_path(data).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(_keep(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
