"""A MariaDB server of the test's own, which the test may stop and start again (same port, same data).

The shared server at :3306 must never be stopped (others use it): an outage test starts this one
(``mariadb-install-db`` + ``mariadbd`` with a temporary data directory, a free port, its socket in
the temporary directory, a full row binlog). With ``KBGRAPH_TEST_MYSQL_URL`` set to an external
server the outage tests skip: they cannot stop someone else's server.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pymysql

from kbgraph.processes import die_with_parent, free_port, on_linux_main_thread
from tests.support.mysql import ENV_URL, mysql_connect


def skip_reason() -> str | None:
    """Why an own server cannot be used here, or None."""
    if os.environ.get(ENV_URL):
        return f"{ENV_URL} names an external server; an outage test cannot stop someone else's server"
    if not (shutil.which("mariadb-install-db") and (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists())):
        return "mariadb-install-db / mariadbd are not installed"
    return None


class OwnMariaDB:
    def __init__(self, work_dir: Path, server_id: int = 77) -> None:
        self.dir = Path(work_dir)
        self.port = free_port()
        self.server_id = server_id
        self.datadir = self.dir / "data"
        self.log_path = self.dir / "mariadbd.err"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def install(self) -> OwnMariaDB:
        self.dir.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                              "--auth-root-authentication-method=normal", "--skip-test-db"],
                             capture_output=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {out.stderr.decode(errors='replace')[-2000:]}")
        return self

    def start(self, timeout: float = 120) -> OwnMariaDB:
        """Start (again, on the same port and data); return once it answers a query."""
        binary = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        cmd = [binary, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}", "--bind-address=127.0.0.1",
               f"--socket={self.dir / 'mariadbd.sock'}", f"--pid-file={self.dir / 'mariadbd.pid'}", "--user=root",
               f"--log-bin={self.datadir / 'binlog'}", "--binlog-format=ROW", "--binlog-row-metadata=FULL",
               f"--server-id={self.server_id}", "--innodb-buffer-pool-size=32M", "--skip-name-resolve",
               f"--log-error={self.log_path}"]
        main = on_linux_main_thread()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True, preexec_fn=die_with_parent if main else None)  # noqa: PLW1509
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self._proc.returncode}: {self._tail()}")
            try:
                mysql_connect(self.url).close()
                return self
            except pymysql.err.MySQLError as e:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mariadbd did not answer on port {self.port} within {timeout:.0f} s: {self._tail()}") from e
                time.sleep(0.1)

    def stop(self, timeout: float = 60) -> None:
        """A clean shutdown (SIGTERM), as a restart by an operator or systemd does."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def _tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
