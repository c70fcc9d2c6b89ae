"""Servers started as child processes (the embedded graph server; the tests' broker and MariaDB): a free
port for them, and their end with the process that started them."""

from __future__ import annotations

import ctypes
import signal
import socket
import sys
import threading


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_linux_main_thread() -> bool:
    """Whether ``die_with_parent`` may be given to ``Popen`` here: the kernel sends the death signal
    when the thread that forked ends, so a child of a short-lived thread would die with that thread."""
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


def die_with_parent() -> None:  # runs in the child between fork and exec
    """Ask the kernel to SIGKILL the child when the thread that started it dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
