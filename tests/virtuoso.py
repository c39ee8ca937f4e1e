"""A private Virtuoso for tests: install Debian's package when missing, start, stop.

This is a plain helper module (no fixtures here: see ``tests/conftest_virtuoso.py``).
Facts it relies on are in ``../shared/design/virtuoso-notes.md``.

Contract:

* :func:`ensure_installed` installs ``virtuoso-opensource`` with apt when ``virtuoso-t``
  is missing. It runs ``apt-get update`` once, then a non-interactive install. The
  package's debconf DBA-password question is pre-answered (empty, marked seen) and a
  temporary ``policy-rc.d`` stops the package's postinst from starting the system-wide
  daemon (it would bind 0.0.0.0:1111/8890 and create a database we never use). An
  existing ``policy-rc.d`` is left alone. Concurrent callers on one machine are
  serialised by a file lock.
* :func:`start` runs one private instance: a copy of the package's ``virtuoso.ini``
  with every database file under ``root``, SQL and HTTP ports bound to 127.0.0.1 on free
  ports, no silent truncation (``ResultSetMaxRows`` far above any test result, a
  generous ``MaxQueryExecutionTime``) and ``root/load`` in ``DirsAllowed``. It waits,
  bounded, until ``/sparql`` answers, then grants ``SPARQL_UPDATE`` to the anonymous
  ``SPARQL`` user (a loopback-only test instance) so updates work over plain HTTP.
* :meth:`Virtuoso.stop` asks for ``shutdown`` through ``isql-vt``, then ends the
  process by its PID if it is still there.

Every failure raises :class:`VirtuosoError` with the step and the end of the server log.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VirtuosoError", "Virtuoso", "ensure_installed", "start", "free_port", "edit_ini"]

log = logging.getLogger(__name__)

PACKAGE = "virtuoso-opensource"
SERVER = "virtuoso-t"
ISQL = "isql-vt"
TEMPLATES = (Path("/etc/virtuoso-opensource-7/virtuoso.ini"),
             Path("/usr/share/virtuoso-opensource-7/virtuoso.ini"))
INSTALL_LOCK = Path("/tmp/territory-kg-virtuoso-install.lock")
POLICY_RC = Path("/usr/sbin/policy-rc.d")
DEBCONF = ("virtuoso-opensource-7 virtuoso-opensource-7/dba-password password \n"
           "virtuoso-opensource-7 virtuoso-opensource-7/dba-password-again password \n")

#: Settings every private instance gets on top of the package's template.
#: Rows: ``ResultSetMaxRows`` defaults to 10,000 and truncates with HTTP 200; time:
#: ``MaxQueryExecutionTime`` turns slow answers into partial ("anytime") ones.
TEST_SETTINGS: dict[str, dict[str, str]] = {
    "SPARQL": {"ResultSetMaxRows": "10000000", "MaxQueryExecutionTime": "600",
               "MaxQueryCostEstimationTime": "3600"},
}


class VirtuosoError(RuntimeError):
    """Virtuoso could not be installed, started or stopped; the message says which."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _template() -> Path | None:
    return next((p for p in TEMPLATES if p.is_file()), None)


def _run(cmd: list[str], *, timeout: float, env: Mapping[str, str] | None = None,
         stdin: str | None = None) -> str:
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, check=False)
    except subprocess.TimeoutExpired:
        raise VirtuosoError(f"{cmd[0]} did not finish within {timeout:.0f}s: {' '.join(cmd)}") from None
    if done.returncode != 0:
        raise VirtuosoError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _no_daemon_start() -> Iterator[None]:
    """Deny service starts from maintainer scripts while installing (Debian's policy-rc.d)."""
    if POLICY_RC.exists():
        yield
        return
    POLICY_RC.write_text("#!/bin/sh\n# territory-kg tests: no daemon starts during install\nexit 101\n")
    POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC.unlink(missing_ok=True)


def ensure_installed(*, timeout: float = 900.0) -> float:
    """Install the Debian package unless ``virtuoso-t`` and its ini template are present.

    :param timeout: bound for each apt step, in seconds.
    :returns: seconds spent installing (0.0 when it was already there).
    :raises VirtuosoError: not root, no apt, or apt failed.
    """
    if shutil.which(SERVER) and shutil.which(ISQL) and _template():
        return 0.0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise VirtuosoError(f"{SERVER} is missing and cannot be installed here (needs root and apt-get): "
                            f"run 'apt-get install {PACKAGE}'")
    started = time.perf_counter()
    with _lock(INSTALL_LOCK):
        if shutil.which(SERVER) and shutil.which(ISQL) and _template():
            return 0.0
        env = {"DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true"}
        apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-q"]
        log.info("installing %s with apt", PACKAGE)
        _run(["debconf-set-selections"], timeout=60, env=env, stdin=DEBCONF)
        try:
            _run([*apt, "update"], timeout=timeout, env=env)
        except VirtuosoError as exc:  # one unreachable list need not stop the install
            log.warning("apt-get update failed, installing from the lists at hand: %s", exc)
        with _no_daemon_start():
            _run([*apt, "install", "-y", "--no-install-recommends", PACKAGE], timeout=timeout, env=env)
    if not (shutil.which(SERVER) and shutil.which(ISQL) and _template()):
        raise VirtuosoError(f"{PACKAGE} installed but {SERVER}, {ISQL} or the ini template is missing")
    spent = time.perf_counter() - started
    log.info("installed %s in %.1fs", PACKAGE, spent)
    return spent


def edit_ini(text: str, settings: Mapping[str, Mapping[str, str]]) -> str:
    """Set ``key = value`` in ``[section]``s of an ini text, keeping everything else.

    Every existing occurrence of a key in its section is replaced (the package's file
    repeats some keys); missing keys and sections are appended.

    >>> edit_ini("[A]\\nx = 1 ; note\\n[B]\\nx = 2\\n", {"A": {"x": "9", "y": "3"}, "C": {"z": "4"}})
    '[A]\\nx = 9\\ny = 3\\n[B]\\nx = 2\\n\\n[C]\\nz = 4\\n'
    """
    out: list[str] = []
    pending = {s: dict(kv) for s, kv in settings.items()}
    section = ""  # before the first [section]

    def flush() -> None:
        if section in pending:
            out.extend(f"{k} = {v}" for k, v in pending.pop(section).items())

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            flush()
            section = stripped[1:-1]
            out.append(line)
            continue
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith(";") else ""
        if section in settings and key in settings[section]:
            out.append(f"{key} = {settings[section][key]}")
            pending.get(section, {}).pop(key, None)
            continue
        out.append(line)
    flush()
    for name, kv in pending.items():
        out += ["", f"[{name}]", *(f"{k} = {v}" for k, v in kv.items())]
    return "\n".join(out) + "\n"


@dataclass
class Virtuoso:
    """One running private instance."""

    root: Path
    http_port: int
    sql_port: int
    process: subprocess.Popen[bytes]
    started_in: float = 0.0

    @property
    def sparql_url(self) -> str:
        """The SPARQL query (and, with the grant, update) endpoint."""
        return f"http://127.0.0.1:{self.http_port}/sparql"

    @property
    def log_path(self) -> Path:
        return self.root / "db" / "virtuoso.log"

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log (for error messages)."""
        text = ""
        for path in (self.log_path, self.root / "stdout.log"):
            if path.exists():
                text += f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def isql(self, sql: str, *, timeout: float = 120.0) -> str:
        """Run SQL statements as ``dba`` through ``isql-vt``.

        :raises VirtuosoError: if isql fails or reports an SQL error.
        """
        out = _run([ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={sql}"], timeout=timeout)
        if "*** Error" in out:
            raise VirtuosoError(f"isql: {sql!r} failed:\n{out[-2000:]}")
        return out

    def stop(self, *, timeout: float = 30.0) -> None:
        """Shut down cleanly through isql, then by PID if the process is still alive."""
        if self.process.poll() is None:
            with contextlib.suppress(VirtuosoError):
                _run([ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", "exec=shutdown;"], timeout=timeout)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("virtuoso pid %d ignored shutdown; killing it", self.process.pid)
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        log.info("virtuoso on port %d stopped", self.http_port)


def _answers(url: str) -> bool:
    query = urllib.parse.urlencode({"query": "ASK {}"})
    request = urllib.request.Request(f"{url}?{query}", headers={"Accept": "application/sparql-results+json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return b"boolean" in resp.read()
    except (OSError, urllib.error.URLError):
        return False


def start(root: Path, *, settings: Mapping[str, Mapping[str, str]] | None = None,
          wait: float = 120.0) -> Virtuoso:
    """Start a private instance whose files all live under ``root`` (created if needed).

    :param settings: ini settings on top of :data:`TEST_SETTINGS` (section → key → value).
    :param wait: how long to wait for ``/sparql`` to answer, in seconds.
    :raises VirtuosoError: Virtuoso is missing, exits early or does not answer in time.
    """
    template = _template()
    binary = shutil.which(SERVER)
    if template is None or binary is None:
        raise VirtuosoError(f"{SERVER} is not installed: call ensure_installed() first")
    started = time.perf_counter()
    db, load = root / "db", root / "load"
    db.mkdir(parents=True, exist_ok=True)
    load.mkdir(exist_ok=True)
    http_port, sql_port = free_port(), free_port()
    merged: dict[str, dict[str, str]] = {
        "Database": {"DatabaseFile": f"{db}/virtuoso.db", "ErrorLogFile": f"{db}/virtuoso.log",
                     "LockFile": f"{db}/virtuoso.lck", "TransactionFile": f"{db}/virtuoso.trx",
                     "xa_persistent_file": f"{db}/virtuoso.pxa"},
        "TempDatabase": {"DatabaseFile": f"{db}/virtuoso-temp.db", "TransactionFile": f"{db}/virtuoso-temp.trx"},
        "Parameters": {"ServerPort": f"127.0.0.1:{sql_port}",
                       "DirsAllowed": f"., /usr/share/virtuoso-opensource-7/vad, {load}"},
        "HTTPServer": {"ServerPort": f"127.0.0.1:{http_port}"},
        "URIQA": {"DefaultHost": f"127.0.0.1:{http_port}"},
    }
    for source in (TEST_SETTINGS, settings or {}):
        for section, kv in source.items():
            merged.setdefault(section, {}).update(kv)
    ini = root / "virtuoso.ini"
    ini.write_text(edit_ini(template.read_text(errors="replace"), merged))
    with (root / "stdout.log").open("wb") as out:
        process = subprocess.Popen([binary, "+foreground", "+configfile", str(ini)], cwd=root,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    instance = Virtuoso(root, http_port, sql_port, process)
    deadline = time.monotonic() + wait
    while not _answers(instance.sparql_url):
        if process.poll() is not None:
            raise VirtuosoError(f"virtuoso-t exited with {process.returncode} while starting:\n{instance.log_tail()}")
        if time.monotonic() > deadline:
            instance.stop()
            raise VirtuosoError(f"virtuoso did not answer on {instance.sparql_url} within {wait:.0f}s:\n"
                                f"{instance.log_tail()}")
        time.sleep(0.25)
    try:
        instance.isql('grant SPARQL_UPDATE to "SPARQL";')
    except VirtuosoError:
        instance.stop()
        raise
    instance.started_in = time.perf_counter() - started
    log.info("virtuoso pid %d on %s answered in %.1fs", process.pid, instance.sparql_url, instance.started_in)
    return instance
