"""The hardening harness: a real server, canaries, and the checks every hostile case shares.

* :class:`Server` runs ``territory-kg serve`` (gunicorn, threaded workers, killable query
  workers) on 127.0.0.1 with ``KG_*`` settings, and talks to it over raw HTTP
  (:meth:`Server.request`, :meth:`Server.raw`) so odd paths and forged headers reach it as sent.
* :class:`Canary` is a TCP listener on 127.0.0.1 that counts connections: nothing a client
  sends may make the service connect to it.
* :class:`CanaryFile` holds a unique triple in ``/tmp``; its access time is set before its
  modification time, so any read moves it (``relatime``), and its token must never come back.
* :class:`StoreFingerprint` is every file of the store directory (name, size, mtime): a
  write of any kind changes it.
* :func:`assert_harmless` is the shared verdict of hardening.md 4.1: no 500, no stack trace
  or internal path in a body or header, no canary connection or read, the store unchanged,
  ``/health`` within 1 s, and no "unhandled error" in the server's log.

Write-side rows plug in the same way (``writes.py``, ``test_writes.py``, ``test_crash.py``,
``test_disk_full.py``): a :class:`Server` with ``KG_UPDATES=on`` and a token, the requests, then
:func:`assert_harmless` (``store_may_change=True`` when writes are expected) plus their own
checks of what the store holds.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config import PROJECT_ROOT
from tests.canary import Canary

KG = Path(sys.executable).with_name("territory-kg")
LEAKS = ("Traceback", 'File "', "site-packages", str(PROJECT_ROOT), sys.prefix, "/tmp/pytest-")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    """One HTTP answer (``status`` 0: the connection failed, ``error`` says how)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    error: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    def json(self) -> Any:
        return json.loads(self.body)


# ---------------------------------------------------------------- processes


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (0 once gone)."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def busy(pids: Iterable[int], seconds: float = 1.0, threshold: float = 0.3) -> dict[int, float]:
    """The processes of ``pids`` that used more than ``threshold`` CPU seconds over ``seconds``."""
    pids = list(pids)
    before = {pid: cpu_seconds(pid) for pid in pids}
    time.sleep(seconds)
    spent = {pid: cpu_seconds(pid) - cpu for pid, cpu in before.items() if Path(f"/proc/{pid}").exists()}
    return {pid: cpu for pid, cpu in spent.items() if cpu > threshold}


# ---------------------------------------------------------------- the server


class Server:
    """``territory-kg serve`` on 127.0.0.1 with ``settings`` as ``KG_*`` variables.

    :param settings: config keys without the prefix (``{"QUERY_TIMEOUT": 3}``).
    :param workers: gunicorn worker processes.
    """

    def __init__(self, settings: Mapping[str, Any], log_path: Path, *, workers: int = 2) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
        env.update({f"KG_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()})
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([str(KG), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--workers", str(workers)], env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.settings = dict(settings)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            if self.request("GET", "/health", timeout=2).status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /health in {timeout} s:\n{self.log()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, timeout: float = 30) -> Reply:
        """One request on a fresh connection; the path is sent exactly as given."""
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                            for k in (headers or {})):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, dict(resp.getheaders()), data, time.monotonic() - started)
        except (OSError, http.client.HTTPException) as exc:
            return Reply(0, seconds=time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def get(self, path: str, params: Mapping[str, str] | None = None, **kwargs: Any) -> Reply:
        from urllib.parse import urlencode

        return self.request("GET", path + (f"?{urlencode(params)}" if params else ""), **kwargs)

    def sparql(self, query: str, timeout: float = 30, **headers: str) -> Reply:
        return self.get("/sparql", {"query": query}, headers=headers or None, timeout=timeout)

    def raw(self, data: bytes, timeout: float = 10) -> bytes:
        """Send ``data`` as is (from a thread, so an early answer is read while sending) and return
        everything the server answers until it closes (``b""`` if it reset the connection first)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            def send() -> None:
                try:
                    sock.sendall(data)
                except OSError:
                    pass  # the server answered early (413…) and closed

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except ConnectionResetError:
                pass
            sender.join(timeout)
        return b"".join(chunks)

    def health_within(self, seconds: float = 1.0) -> Reply:
        reply = self.request("GET", "/health", timeout=seconds)
        assert reply.status == 200 and reply.seconds < seconds, f"/health: {reply}"
        return reply

    def pids(self) -> list[int]:
        """The gunicorn master, its workers and their query workers."""
        return [self.proc.pid, *descendants(self.proc.pid)]

    def query_workers(self) -> list[int]:
        return [pid for pid in descendants(self.proc.pid) if "service.store.executor" in cmdline(pid)]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the master (not the group) and wait; SIGKILL the group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)


# ---------------------------------------------------------------- canaries
# Canary (a counting TCP listener) lives in tests/canary.py, shared with tests/web.


class CanaryFile:
    """A Turtle file with a unique triple that nothing may read.

    Its access time is set ten seconds before its modification time, so under ``relatime``
    (and ``strictatime``) the first read of its content moves it.
    """

    def __init__(self, directory: Path = Path("/tmp")) -> None:
        self.token = f"canary-content-{uuid.uuid4().hex}"  # what must never come back
        self.path = directory / f"canary-{uuid.uuid4().hex}.ttl"
        self.path.write_text(f'<urn:{self.token}> <urn:{self.token}:p> "{self.token}" .\n')
        self.rearm()

    @property
    def iri(self) -> str:
        return f"file://{self.path}"

    def rearm(self) -> None:
        st = self.path.stat()
        os.utime(self.path, ns=(st.st_mtime_ns - 10_000_000_000, st.st_mtime_ns))
        self._atime = self.path.stat().st_atime_ns

    def read_since_armed(self) -> bool:
        return self.path.stat().st_atime_ns != self._atime

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


class StoreFingerprint:
    """Name, size and mtime of every file under a store directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files = self._scan()

    def _scan(self) -> dict[str, tuple[int, int]]:
        return {str(p.relative_to(self.path)): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in sorted(self.path.rglob("*")) if p.is_file()}

    def changes(self) -> dict[str, Any]:
        now = self._scan()
        return {name: (self.files.get(name), now.get(name)) for name in set(self.files) | set(now)
                if self.files.get(name) != now.get(name)}


# ---------------------------------------------------------------- the shared verdict


def leaks(reply: Reply, extra: Iterable[str] = ()) -> list[str]:
    """Internal details found in ``reply``'s body or headers."""
    where = reply.text + "\n" + "\n".join(f"{k}: {v}" for k, v in reply.headers.items())
    return [word for word in (*LEAKS, *extra) if word and word in where]


@dataclass
class Guards:
    """What :func:`assert_harmless` checks around one case."""

    server: Server
    canary: Canary
    canary_file: CanaryFile
    store: StoreFingerprint | None
    log_mark: int = 0

    def arm(self) -> None:
        self.canary.count = 0
        self.canary_file.rearm()
        self.log_mark = len(self.server.log())


def assert_harmless(guards: Guards, *replies: Reply, store_may_change: bool = False,
                    extra_leaks: Iterable[str] = ()) -> None:
    """The hardening.md 4.1 checks after one case (see the module docstring)."""
    for reply in replies:
        assert reply.status != 500 and (reply.status < 500 or reply.status in (502, 503, 504)), reply
        assert not leaks(reply, extra_leaks), (leaks(reply, extra_leaks), reply.text[:500])
        assert guards.canary_file.token not in reply.text
    assert guards.canary.count == 0, "the service connected to the canary listener"
    assert not guards.canary_file.read_since_armed(), "the canary file was read"
    if guards.store is not None and not store_may_change:
        assert not guards.store.changes(), guards.store.changes()
    guards.server.health_within(1.0)
    log = guards.server.log()[guards.log_mark:]
    assert "unhandled error" not in log and "Traceback" not in log, log[-2000:]
