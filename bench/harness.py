"""Benchmark harness (issue 6): build, query mix side by side, load test, report.

    python -m bench.harness --scale 100000                 # one scale, every system
    python -m bench.harness --scale 100000 --systems inproc,http
    python -m bench.harness --scale 100000 --reuse         # keep an existing store: completes the latest
                                                           # run of the scale, or a new file if it re-runs systems
    python -m bench.harness --report                       # rewrite bench/results/tables.md from raw JSON

A scale is the number of *synthetic* triples (``bench/generate.py``); every store also
holds all of France's official geography (about 1.11M asserted triples) and what the build
infers from both (see bench/RESULTS.md, "What a scale means").

Systems: ``inproc`` (pyoxigraph read-only, the floor and the reference rows), ``http``
(``territory-kg serve`` on 127.0.0.1, 2 gunicorn workers), ``rdflib`` (rdflib's engine, the
one rdflib-endpoint runs, over the build's N-Quads dump, each query in a forked process killed
past the timeout; rdflib-endpoint itself only under wrk), ``virtuoso`` (the same dump,
bulk-loaded). Cold = a query's first
run in the long-lived harness process (in process; its run in a new process is reported as
"fresh") or its first request to a freshly started server (after four ``ASK {}`` requests
that start its lazy parts); warm
= median of ``--warm`` further runs (over our HTTP service each with a distinct trailing
comment, so the response cache does not answer); ``cached`` = the same text once more.
Rows are compared with the in-process rows (:mod:`bench.mix`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench import mix as qmix
from bench import peers
from bench.report import report

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RAW = ROOT / "bench" / "results" / "raw"
PY = sys.executable
TIMEOUT = 60.0
FRESH_TIMEOUT = 30.0
PAGE = "/page/commune/59350"
API = "/api/queries/counts-per-class?format=json"
AGGREGATE = "q10_class_counts"


def label(scale: int) -> str:
    return f"{scale // 1_000_000}M" if scale % 1_000_000 == 0 else f"{scale // 1000}k"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _queries() -> dict[str, qmix.Query]:
    return {q.name: q for q in qmix.mix()}


# ------------------------------------------------------------------ build
def _build_config(scale: int) -> dict[str, Any]:
    from service.config import make_config
    d = DATA / f"store-{label(scale)}"
    return make_config({"STORE_PATH": str(d / "store"), "DUMPS_DIR": str(d / "dumps"), "BACKBONE_REGIONS": "all",
                        "EXTRA_NQUADS": [str(DATA / f"bench-{scale}-s1.nq.gz")]})


def _peak_rss_mb() -> float:
    """This process's own peak resident set (``VmHWM``) and its children's, in MB.

    Not ``getrusage``/``wait4`` of this process: Linux carries a process's ``ru_maxrss`` over
    ``exec`` from the process it was forked from, so a build started by a harness that holds
    gigabytes (rdflib's graph, forked per query) would report the harness's memory as its own.
    ``VmHWM`` belongs to the address space ``exec`` created. The children's ``ru_maxrss`` (HermiT's
    JVM) carries this process's memory at their start, which is not more than its own peak.
    """
    import resource
    status = Path("/proc/self/status").read_text()
    own_kb = int(status.split("VmHWM:", 1)[1].split()[0])
    return max(own_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _child_build(scale: int) -> None:
    from service.build.pipeline import build
    summary = build(_build_config(scale), progress=_log)
    print(json.dumps({"seconds": summary.seconds, "triples": sum(summary.triples_per_graph.values()),
                      "triples_per_graph": summary.triples_per_graph, "inferred": summary.inferred,
                      "warnings": summary.warnings, "peak_rss_mb": _peak_rss_mb()}))


def run_build(scale: int) -> dict[str, Any]:
    from bench import generate
    n, secs = generate.write(DATA / f"bench-{scale}-s1.nq.gz", scale, 1)
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "bench.harness", "_build", str(scale)], cwd=ROOT, stdout=subprocess.PIPE)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"build failed (status {status})")
    info = json.loads(out.decode().strip().splitlines()[-1])  # its own peak_rss_mb (see _peak_rss_mb)
    info.update(wall=time.perf_counter() - started, cpu_s=usage.ru_utime + usage.ru_stime,
                generate={"quads": n, "seconds": secs, "triples_per_s": n / secs})
    return info


# ------------------------------------------------------------------ in process
def _child_query(store: str, name: str) -> None:
    import pyoxigraph as ox
    s = ox.Store.read_only(store)
    text = _queries()[name].text
    t = time.perf_counter()
    rows = qmix.rows_from_ox(s.query(text, use_default_graph_as_union=True))
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows}))


def run_inproc(store: str, warm: int) -> dict[str, Any]:
    """Cold: the query's first run in this long-lived process (store open, like a server's
    query worker); warm: median of later runs; fresh: its run in a new process (opening the
    store included in the process, not in the time)."""
    import pyoxigraph as ox
    out: dict[str, Any] = {}
    s = ox.Store.read_only(store)
    s.query("ASK {}")
    for name, q in _queries().items():
        times = []
        for _ in range(warm + 1):
            t = time.perf_counter()
            rows = qmix.rows_from_ox(s.query(q.text, use_default_graph_as_union=True))
            times.append(time.perf_counter() - t)
        out[name] = {"cold": times[0], "warm": statistics.median(times[1:]) if warm else None, "rows": rows}
        try:
            p = subprocess.run([PY, "-m", "bench.harness", "_query", store, name], cwd=ROOT, capture_output=True,
                               timeout=FRESH_TIMEOUT, check=True)
            out[name]["fresh"] = json.loads(p.stdout)["seconds"]
        except subprocess.TimeoutExpired:
            out[name]["fresh_error"] = f"over {FRESH_TIMEOUT:.0f} s"
        _log(f"  inproc {name}: cold {times[0] * 1000:.1f} ms, warm {(out[name]['warm'] or 0) * 1000:.1f} ms, "
             f"fresh {out[name].get('fresh', 0) * 1000:.1f} ms, {len(rows)} rows")
    return out


# ------------------------------------------------------------------ over HTTP
def _post(url: str, q: qmix.Query, text: str | None = None, timeout: float = TIMEOUT) -> tuple[float, list[Any], str]:
    req = urllib.request.Request(url, data=urllib.parse.urlencode({"query": text or q.text}).encode(),
                                 headers={"Accept": q.accept, "Content-Type": "application/x-www-form-urlencoded"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body, media, cache = r.read(), r.headers.get("Content-Type", ""), r.headers.get("X-Cache", "")
    elapsed = time.perf_counter() - t
    rows = qmix.rows_from_json(json.loads(body)) if q.kind == "select" else qmix.rows_from_rdf(body, media)
    return elapsed, rows, cache


def run_http(url: str, warm: int, *, own: bool = False, alive: str | None = None) -> dict[str, Any]:
    """The mix over HTTP; ``own``: our service (uncached warm runs, one cached run);
    ``alive``: a URL to wait on after a timeout (a peer that cannot cancel a query)."""
    out: dict[str, Any] = {}
    blocked = False
    for _ in range(4):  # start the server's lazy parts (workers, store handles) before the first timing
        try:
            _post(url, qmix.Query("warm-up", "ASK {}"))
        except Exception:  # noqa: BLE001, S110 - a peer may not answer this; the mix says what works
            pass
    for name, q in _queries().items():
        if blocked:
            out[name] = {"error": "skipped: server still busy with an earlier timed-out query"}
            continue
        try:
            cold, rows, _ = _post(url, q)
            times = [_post(url, q, q.text + f"\n# warm run {i}" if own else None)[0] for i in range(warm)]
            out[name] = {"cold": cold, "warm": statistics.median(times) if times else None, "rows": rows}
            if own:  # a hit: each gunicorn worker process has its own cache, so ask until one answers
                for _ in range(6):
                    cached, _, how = _post(url, q)
                    if how == "hit":
                        break
                out[name].update(cached=cached, cache=how)
            _log(f"  {url} {name}: cold {cold * 1000:.1f} ms, warm {(out[name]['warm'] or 0) * 1000:.1f} ms, "
                 f"{len(rows)} rows")
        except Exception as exc:  # noqa: BLE001 - timeouts and HTTP errors are results too
            detail = exc.read().decode(errors="replace")[:200] if isinstance(exc, urllib.error.HTTPError) else ""
            out[name] = {"error": f"{type(exc).__name__}: {exc} {detail}".strip()[:300]}
            _log(f"  {url} {name}: {out[name]['error']}")
            if alive and "timed out" in str(exc):
                try:
                    peers.wait_http(alive, 600)
                except RuntimeError:
                    blocked = True
    return out


def _serve(store: str, log: Path, cache: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {"KG_STORE_PATH": store, "KG_QUERY_TIMEOUT": str(int(TIMEOUT)), "KG_QUERY_MAX_ROWS": "10000000",
           "KG_QUERY_MAX_TRIPLES": "10000000", "KG_QUERY_MAX_RESULT_BYTES": "500000000", "KG_LOG_LEVEL": "WARNING"}
    if not cache:  # every answer computed afresh: no response cache, no page caches
        env["KG_RESPONSE_CACHE_BYTES"] = "0"
        env["KG_PAGES_CACHE_BYTES"] = "0"
    proc = peers.start_process([str(Path(PY).with_name("territory-kg")), "serve", "--host", "127.0.0.1", "--port",
                                str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    peers.wait_http(base + "/health", 180, proc)
    _log(f"  server warm after {peers.wait_quiet(proc):.1f} s more")  # the workers' start-up work, not the queries'
    return proc, base


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _aggregate_url(base: str) -> str:
    return base + "/sparql?query=" + urllib.parse.quote(_queries()[AGGREGATE].text)


def run_service(store: str, warm: int, wrk_seconds: int, result: dict[str, Any]) -> None:
    proc, base = _serve(store, DATA / "serve.log")
    try:
        result["systems"]["http"] = run_http(base + "/sparql", warm, own=True)
        if wrk_seconds:
            json_results = "application/sparql-results+json"
            result["load"]["http (cache on)"] = {
                f"page {PAGE}": peers.wrk(base + PAGE, wrk_seconds, accept="text/html"),
                f"api {API}": peers.wrk(base + API, wrk_seconds),
                f"sparql {AGGREGATE}": peers.wrk(_aggregate_url(base), wrk_seconds, accept=json_results),
            }
    finally:
        peers.stop_process(proc)
    if wrk_seconds:
        proc, base = _serve(store, DATA / "serve-nocache.log", cache=False)
        try:
            result["load"]["http (caches off)"] = {
                f"page {PAGE}": peers.wrk(base + PAGE, wrk_seconds, accept="text/html"),
                f"sparql {AGGREGATE}": peers.wrk(_aggregate_url(base), wrk_seconds,
                                                 accept="application/sparql-results+json")}
        finally:
            peers.stop_process(proc)


def run_rdflib(dumps: Path, scale: int, warm: int, wrk_seconds: int, result: dict[str, Any]) -> None:
    """rdflib: its engine on the dump, each query in a forked child killed past the timeout
    (rdflib-endpoint cannot cancel a query and stays busy), then rdflib-endpoint itself under
    wrk on the aggregate query when one answer takes under 5 s."""
    plain = peers.gunzip(dumps / "territory-kg.nq.gz", DATA / f"store-{label(scale)}" / "all.nq")
    found = peers.run_rdflib_engine(plain, _queries(), TIMEOUT, warm=0)  # cold only: minutes per query
    result["peers"]["rdflib_load_s"] = found.pop("_load_s")
    result["systems"]["rdflib"] = found
    if not wrk_seconds or not (found.get(AGGREGATE, {}).get("cold") or TIMEOUT) < 5:
        result["load"]["rdflib-endpoint"] = {f"sparql {AGGREGATE}": {
            "skipped": f"one answer takes {found.get(AGGREGATE, {}).get('cold') or TIMEOUT:.1f} s in rdflib"}}
        return
    port = _free_port()
    proc = peers.start_process([str(Path(PY).with_name("rdflib-endpoint")), "serve", "--host", "127.0.0.1", "--port",
                                str(port), str(plain)], log=DATA / "rdflib.log")
    try:
        endpoint = f"http://127.0.0.1:{port}/"  # the CLI serves SPARQL at "/"
        peers.wait_http(endpoint + "?query=" + urllib.parse.quote("ASK {}"), 3600, proc)
        result["load"]["rdflib-endpoint"] = {f"sparql {AGGREGATE}": peers.wrk(
            endpoint + "?query=" + urllib.parse.quote(_queries()[AGGREGATE].text), wrk_seconds,
            accept="application/sparql-results+json")}
    finally:
        peers.stop_process(proc)


def run_virtuoso(dumps: Path, scale: int, warm: int, wrk_seconds: int, result: dict[str, Any]) -> None:
    inst, load_s = peers.start_virtuoso(DATA / f"virtuoso-{label(scale)}", dumps / "territory-kg.nq.gz")
    try:
        result["peers"]["virtuoso_load_s"] = load_s
        result["systems"]["virtuoso"] = run_http(inst.sparql_url, warm)
        if wrk_seconds:
            result["load"]["virtuoso"] = {f"sparql {AGGREGATE}": peers.wrk(
                inst.sparql_url + "?query=" + urllib.parse.quote(_queries()[AGGREGATE].text), wrk_seconds,
                accept="application/sparql-results+json")}
    finally:
        inst.stop()
        shutil.rmtree(DATA / f"virtuoso-{label(scale)}", ignore_errors=True)  # ~1 GB per million quads


# ------------------------------------------------------------------ one run
def _versions() -> dict[str, str]:
    from importlib.metadata import version

    import pyoxigraph
    import rdflib
    v = {"python": platform.python_version(), "pyoxigraph": pyoxigraph.__version__, "rdflib": rdflib.__version__}
    try:
        v["rdflib-endpoint"] = version("rdflib-endpoint")
    except Exception:  # noqa: BLE001
        v["rdflib-endpoint"] = "not installed"
    try:
        out = subprocess.run(["virtuoso-t", "-?"], capture_output=True, text=True, timeout=30)
        v["virtuoso"] = next((ln.strip() for ln in (out.stdout + out.stderr).splitlines() if "Version" in ln), "?")
    except Exception:  # noqa: BLE001
        v["virtuoso"] = "not installed"
    try:
        v["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    except Exception:  # noqa: BLE001
        v["wrk"] = "missing"
    return v


def _machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "memory_gb": round(int(mem) / 1024 / 1024, 1), "cpu": cpu,
            "kernel": platform.release(), "load_at_start": os.getloadavg()}


def merged_with(previous: Path, result: dict[str, Any], systems: list[str]) -> dict[str, Any]:
    """The start of a ``--reuse`` run on the store of the run saved in ``previous``: its build
    figures and the systems not run again stay. Adding systems it lacks completes that run (same
    start, same file); running again systems it holds starts a new file (the time now, and
    ``merged_from``), so a re-run never overwrites the figures of a complete run."""
    old = json.loads(previous.read_text())
    merged = {**old, "command": result["command"] + " (merged)", "versions": result["versions"]}
    if any(name in old.get("systems", {}) for name in systems):
        merged.update(started=result["started"], merged_from=previous.name, machine=result["machine"])
    merged["systems"] = {k: v for k, v in old.get("systems", {}).items() if k not in systems}
    merged["load"] = {k: v for k, v in old.get("load", {}).items() if not any(k.startswith(n) for n in systems)}
    merged["peers"] = {k: v for k, v in old.get("peers", {}).items() if not any(k.startswith(n) for n in systems)}
    return merged


def run(scale: int, systems: list[str], warm: int, wrk_seconds: int, reuse: bool,
        rdflib_max: int = 1_000_000) -> Path:
    result: dict[str, Any] = {"scale": scale, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "command": " ".join(["python -m bench.harness", *sys.argv[1:]]),
                              "versions": _versions(), "machine": _machine(), "systems": {}, "load": {}, "peers": {}}
    cfg = _build_config(scale)
    store, dumps = str(cfg["STORE_PATH"]), Path(cfg["DUMPS_DIR"])
    previous = sorted(RAW.glob(f"{label(scale)}-*.json"))
    if reuse and Path(store).exists() and previous:
        result = merged_with(previous[-1], result, systems)
    elif reuse and Path(store).exists():
        info = json.loads((Path(store).parent / "build-info.json").read_text())
        result["build"] = {"reused": True, "triples": sum(info["triples"].values()),
                           "triples_per_graph": info["triples"]}
    else:
        _log(f"[{label(scale)}] build")
        result["build"] = run_build(scale)
    steps = [("inproc", lambda: result["systems"].__setitem__("inproc", run_inproc(store, warm))),
             ("http", lambda: run_service(store, warm, wrk_seconds, result)),
             ("virtuoso", lambda: run_virtuoso(dumps, scale, warm, wrk_seconds, result)),
             ("rdflib", lambda: run_rdflib(dumps, scale, warm, wrk_seconds, result))]
    for name, step in steps:
        if name == "rdflib" and name in systems and scale > rdflib_max:
            result["systems"]["rdflib"] = {"error": f"not run above {label(rdflib_max)} (--rdflib-max-scale): "
                                                    "rdflib holds every quad in Python memory"}
            continue
        if name in systems:
            _log(f"[{label(scale)}] {name}")
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - one peer failing must not lose the others' figures
                result["systems"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                _log(f"  {name} failed: {exc}")
    result["machine"]["load_at_end"] = os.getloadavg()
    RAW.mkdir(parents=True, exist_ok=True)
    path = RAW / f"{label(scale)}-{result['started'].replace(':', '')}.json"
    if "(merged)" in result["command"] and path.exists():  # another run may have completed it meanwhile
        latest = json.loads(path.read_text())
        for name in systems:
            if name in result["systems"]:
                latest["systems"][name] = result["systems"][name]
            for key, value in result["load"].items():
                if key.startswith(name):
                    latest.setdefault("load", {})[key] = value
            for key, value in result["peers"].items():
                if key.startswith(name):
                    latest.setdefault("peers", {})[key] = value
        latest["command"], result = result["command"], latest
    path.write_text(json.dumps(result, indent=1, sort_keys=True))
    report()
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_build":
        _child_build(int(argv[1]))
        return 0
    if argv and argv[0] == "_query":
        _child_query(argv[1], argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, action="append", help="synthetic triples (repeat for several)")
    ap.add_argument("--systems", default="inproc,http,virtuoso,rdflib")
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--reuse", action="store_true", help="use an existing store of that scale (no build)")
    ap.add_argument("--rdflib-max-scale", type=int, default=1_000_000, help="largest scale rdflib-endpoint runs at")
    ap.add_argument("--report", action="store_true")
    a = ap.parse_args(argv)
    if a.report:
        print(report())
        return 0
    for scale in a.scale or [100_000]:
        print(run(scale, a.systems.split(","), a.warm, a.wrk_seconds, a.reuse, a.rdflib_max_scale), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
