"""Who holds a store's write lock, asked without opening the store.

RocksDB (under pyoxigraph) takes a POSIX write lock on ``<store>/LOCK`` for as long as a
read-write ``Store`` is open, and a second opener fails. Opening the store to find out is
not harmless: each failed open rotates the holder's info log (``LOG`` → ``LOG.old.<time>``),
so a retry loop fills the store directory. :func:`lock_holder` instead tries the same
POSIX lock itself and releases it at once, and names the holder from ``/proc/locks``
(Linux) when it can.

Never call it in a process that has the store open read-write: closing any descriptor of
``LOCK`` drops every POSIX lock the process holds on it, RocksDB's included. The callers are
the ``serve`` command before gunicorn starts and the writer child before it opens the store.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from service.errors import StoreUnavailable

__all__ = ["lock_holder", "describe_holder", "ensure_unlocked"]


def lock_holder(store_path: str | Path) -> tuple[bool, int | None]:
    """``(locked, pid)``: whether another process holds the store's write lock, and its id if known.

    >>> lock_holder("/nonexistent/store")
    (False, None)
    """
    lock = Path(store_path) / "LOCK"
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False, None  # no store yet (or not ours to write): nothing holds it
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True, _proc_locks_pid(os.fstat(fd))
    finally:
        os.close(fd)  # releases the probe's lock
    return False, None


def _proc_locks_pid(st: os.stat_result) -> int | None:
    """The pid /proc/locks gives for a POSIX lock on the file ``st`` describes."""
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[5] == device and fields[4].isdigit():
            return int(fields[4])
    return None


def describe_holder(pid: int | None) -> str:
    """`` (pid 123: python -m service.store.writer …, child of pid 120: territory-kg serve …)`` for messages,
    or ``""`` when the holder is unknown."""
    if pid is None:
        return ""
    command = _command(pid)
    text = f" (pid {pid}{': ' + command if command else ''}"
    if "service.store.writer" in command:  # a server's writer child: name the server too
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            parent = 0
        if parent > 1:
            text += f", child of pid {parent}: {_command(parent)}"
    return text + ")"


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:160]


def ensure_unlocked(store_path: str | Path, wait: float = 3.0) -> None:
    """Return once no process holds the store's write lock; give up after ``wait`` seconds.

    The short wait covers a predecessor that is still exiting (a restart right after a crash).

    :raises StoreUnavailable: the lock is still held; the message names the store and the holder.
    """
    deadline = time.monotonic() + wait
    while True:
        locked, pid = lock_holder(store_path)
        if not locked:
            return
        if time.monotonic() >= deadline:
            raise StoreUnavailable(f"The store {store_path} is locked by another process{describe_holder(pid)}: "
                                   "only one server with updates on (or one build) may open it. Stop that "
                                   "process first, or use another store.")
        time.sleep(0.1)
