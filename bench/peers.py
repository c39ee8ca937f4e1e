"""The peers the benchmark starts on 127.0.0.1, and the load generator.

* Virtuoso (Debian's ``virtuoso-opensource``) through ``tests/virtuoso.py``: a private
  instance with buffers sized for a few million quads and no row cap
  (``ResultSetMaxRows`` 10M: Virtuoso truncates silently otherwise), loaded with the
  build's own N-Quads dump by the bulk loader (``ld_dir`` + ``rdf_loader_run`` +
  ``checkpoint``). Its default graph is the union of all graphs, as ours.
* rdflib-endpoint over an uncompressed copy of the same dump (rdflib's in-memory
  ``Dataset(default_union=True)``).
* ``wrk`` (Debian's), 2 threads, 8 connections.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["start_virtuoso", "start_process", "stop_process", "wait_http", "wrk"]


def _virtuoso_module() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import virtuoso  # tests/virtuoso.py: install, start, stop
    finally:
        sys.path.pop(0)
    return virtuoso


def start_virtuoso(root: Path, dump: Path, *, buffers: int = 340_000) -> tuple[Any, float]:
    """A private Virtuoso under ``root`` holding ``dump`` (N-Quads, gzipped).

    :param buffers: ``NumberOfBuffers`` (8 KiB pages; 340,000 ≈ 2.7 GB, the size Virtuoso's
        own ini suggests for 4 GB of free memory).
    :returns: the running instance and the seconds the bulk load took.
    """
    vt = _virtuoso_module()
    vt.ensure_installed()
    shutil.rmtree(root, ignore_errors=True)
    settings = {"Parameters": {"NumberOfBuffers": str(buffers), "MaxDirtyBuffers": str(buffers * 3 // 4)}}
    inst = vt.start(root, settings=settings, wait=300)
    load = root / "load"
    shutil.copyfile(dump, load / "all.nq.gz")
    started = time.perf_counter()
    inst.isql(f"ld_dir('{load}', 'all.nq.gz', 'urn:bench:default');", timeout=60)
    inst.isql("rdf_loader_run();", timeout=7200)
    inst.isql("checkpoint;", timeout=3600)
    errors = inst.isql("SELECT ll_file, ll_error FROM DB.DBA.LOAD_LIST WHERE ll_error IS NOT NULL;", timeout=60)
    if "all.nq.gz" in errors:
        inst.stop()
        raise RuntimeError(f"Virtuoso could not load the dump:\n{errors[-2000:]}")
    return inst, time.perf_counter() - started


def gunzip(src: Path, dest: Path) -> Path:
    """An uncompressed copy (rdflib-endpoint reads plain files)."""
    if not dest.exists() or dest.stat().st_mtime < src.stat().st_mtime:
        with gzip.open(src, "rb") as fin, dest.open("wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    return dest


def start_process(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    fh = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """End the process group we started (our own child only)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)


def cpu_seconds(session: int) -> float:
    """CPU time (user + system) used so far by the live processes of a session (from /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == session:
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_quiet(proc: subprocess.Popen[bytes], seconds: float = 60, quiet: float = 1.0, share: float = 0.05) -> float:
    """Wait until the processes ``proc`` started (its session: :func:`start_process` gives each
    child one) have used under ``share`` of a CPU for ``quiet`` seconds: a server answering
    ``/health`` may still be warming up (each gunicorn worker fills its vocabulary table on a
    thread), and a query measured then competes with it. Returns the seconds waited."""
    started = time.monotonic()
    last, since = cpu_seconds(proc.pid), started
    while time.monotonic() - started < seconds:
        time.sleep(0.25)
        now, used = time.monotonic(), cpu_seconds(proc.pid)
        if used - last > share * (now - since):
            last, since = used, now
        elif now - since >= quiet:
            return now - started
    return time.monotonic() - started


def wait_http(url: str, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer in {seconds}s")


def wrk(url: str, seconds: int, *, accept: str | None = None) -> dict[str, Any]:
    """Throughput and latency of GET ``url``: 2 threads, 8 connections, 10 s socket timeout.

    Two requests, then one second of the same load, first (not counted): the steady state of
    repeated requests is measured, not eight connections stampeding one cold page in each
    server process (its cold cost is in the query tables)."""
    for _ in range(2):
        try:
            req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
            with urllib.request.urlopen(req, timeout=120) as resp:
                resp.read()
        except (urllib.error.URLError, OSError):
            pass
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if accept:
        cmd += ["-H", f"Accept: {accept}"]
    subprocess.run([*cmd[:3], "-d1s", *cmd[4:], url], capture_output=True, timeout=180)
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    res: dict[str, Any] = {"url": url[:120]}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\b", out)
        if m:
            res[f"p{pct}_ms"] = round(float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)], 3)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1).strip() if m else ""
    return res


def _rdflib_rows(result: Any) -> list[tuple[str, ...]]:
    from rdflib import BNode

    from bench.mix import _norm

    def term(t: Any) -> str:
        return "_:" if isinstance(t, BNode) else "" if t is None else _norm(str(t))

    if result.type == "ASK":
        return [(str(bool(result.askAnswer)).lower(),)]
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        return sorted((term(s), term(p), term(o)) for s, p, o in result.graph)
    return sorted(tuple(term(row[v]) for v in result.vars) for row in result)


def run_rdflib_engine(dump: Path, queries: dict[str, Any], timeout: float, warm: int = 1) -> dict[str, Any]:
    """rdflib's own engine on the dump (``Dataset(default_union=True)``, as rdflib-endpoint
    serves it): parsed once, then every query in a forked child that is killed past ``timeout``
    (a Python thread cannot be stopped, and rdflib-endpoint stays busy after a client gives up)."""
    import json
    import select

    from rdflib import Dataset

    started = time.perf_counter()
    ds = Dataset(default_union=True)
    ds.parse(str(dump), format="nquads")
    out: dict[str, Any] = {"_load_s": time.perf_counter() - started}
    for name, q in queries.items():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run, report, exit without cleanup
            os.close(read)
            try:
                times = []
                for _ in range(1 + warm):
                    t = time.perf_counter()
                    rows = _rdflib_rows(ds.query(q.text))
                    times.append(time.perf_counter() - t)
                    if times[0] > timeout / 2:
                        break
                msg = {"cold": times[0], "warm": min(times[1:]) if len(times) > 1 else None, "rows": rows}
            except Exception as exc:  # noqa: BLE001
                msg = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            with os.fdopen(write, "w") as fh:
                fh.write(json.dumps(msg))
            os._exit(0)
        os.close(write)
        ready, _, _ = select.select([read], [], [], timeout + 5)
        if ready:
            with os.fdopen(read) as fh:
                data = fh.read()
            os.waitpid(pid, 0)
            out[name] = json.loads(data) if data else {"error": "no answer"}
            if out[name].get("cold", 0) > timeout:
                out[name] = {"error": f"over {timeout:.0f} s ({out[name]['cold']:.0f} s)"}
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            out[name] = {"error": f"timeout: no answer in {timeout:.0f} s"}
        print(f"  rdflib-engine {name}: {out[name].get('cold', out[name].get('error'))}", file=sys.stderr, flush=True)
    return out
