"""Benchmark harness (issue 6): build, query mix side by side, load test, report.

    python -m bench.harness --scale 100000            # one scale, every system
    python -m bench.harness --scale 100000 --systems inproc,http
    python -m bench.harness --report                  # rewrite bench/RESULTS.md from raw JSON

Systems: ``inproc`` (pyoxigraph read-only, the floor), ``http`` (``territory-kg serve``
on 127.0.0.1), ``rdflib`` (rdflib-endpoint on 127.0.0.1 over a dump of the same store),
``virtuoso`` (tests/virtuoso.py, same dump). Cold = the query's first run in a fresh
process (in process) or its first request to a freshly started server (HTTP); warm =
median of ``--warm`` further runs. Row sets are compared across systems (multisets of
normalised values, order ignored).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / "data"
RAW = BENCH / "results" / "raw"
QUERIES = BENCH / "queries"
PY = sys.executable
TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _label(scale: int) -> str:
    return f"{scale // 1_000_000}M" if scale % 1_000_000 == 0 else f"{scale // 1000}k"


def queries() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(QUERIES.glob("*.rq"))}


# ------------------------------------------------------------------ rows, normalised
def _norm(value: str) -> str:
    try:
        f = float(value)
    except ValueError:
        return value
    return repr(round(f, 6)) if f == f else value


def rows_from_json(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    names = doc["head"]["vars"]
    out = []
    for b in doc["results"]["bindings"]:
        out.append(tuple(_norm(b[n]["value"]) if n in b else "" for n in names))
    return sorted(out)


def rows_from_ox(result: Any) -> list[tuple[str, ...]]:
    names = [v.value for v in result.variables]
    out = []
    for sol in result:
        out.append(tuple(_norm(sol[n].value) if sol[n] is not None else "" for n in names))
    return sorted(out)


# ------------------------------------------------------------------ build
def _build_config(scale: int) -> dict[str, Any]:
    from service.config import make_config
    d = DATA / f"store-{_label(scale)}"
    return make_config({"STORE_PATH": str(d / "store"), "DUMPS_DIR": str(d / "dumps"), "BACKBONE_REGIONS": "all",
                        "EXTRA_NQUADS": [str(DATA / f"bench-{scale}-s1.nq.gz")]})


def _child_build(scale: int) -> None:
    from service.build.pipeline import build
    cfg = _build_config(scale)
    summary = build(cfg, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps({"seconds": summary.seconds, "triples": sum(summary.triples_per_graph.values()),
                      "triples_per_graph": summary.triples_per_graph, "warnings": summary.warnings}))


def run_build(scale: int) -> dict[str, Any]:
    from bench import generate
    nq = DATA / f"bench-{scale}-s1.nq.gz"
    gen: dict[str, Any] = {}
    n, secs = generate.write(nq, scale, 1)
    gen = {"quads": n, "seconds": secs, "triples_per_s": n / secs}
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "bench.harness", "_build", str(scale)], cwd=ROOT, stdout=subprocess.PIPE)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"build failed (status {status})")
    info = json.loads(out.decode().strip().splitlines()[-1])
    info.update(wall=time.perf_counter() - started, peak_rss_mb=usage.ru_maxrss / 1024, generate=gen)
    return info


# ------------------------------------------------------------------ in process
def _child_query(store: str, name: str) -> None:
    import pyoxigraph as ox
    s = ox.Store.read_only(store)
    text = queries()[name]
    t = time.perf_counter()
    rows = rows_from_ox(s.query(text, use_default_graph_as_union=True))
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows}))


def run_inproc(store: str, warm: int) -> dict[str, Any]:
    import pyoxigraph as ox
    out: dict[str, Any] = {}
    s = ox.Store.read_only(store)
    for name, text in queries().items():
        try:
            p = subprocess.run([PY, "-m", "bench.harness", "_query", store, name], cwd=ROOT, capture_output=True,
                               timeout=TIMEOUT + 30, check=True)
            cold = json.loads(p.stdout)
        except subprocess.TimeoutExpired:
            out[name] = {"cold": None, "warm": None, "rows": None, "error": "timeout"}
            continue
        times = []
        for _ in range(warm):
            t = time.perf_counter()
            rows_from_ox(s.query(text, use_default_graph_as_union=True))
            times.append(time.perf_counter() - t)
        out[name] = {"cold": cold["seconds"], "warm": statistics.median(times), "rows": cold["rows"]}
        print(f"  inproc {name}: cold {cold['seconds'] * 1000:.1f} ms, warm {out[name]['warm'] * 1000:.1f} ms, "
              f"{len(cold['rows'])} rows", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------ over HTTP
def _post(url: str, query: str, timeout: float = TIMEOUT) -> tuple[float, list[tuple[str, ...]]]:
    req = urllib.request.Request(url, data=urllib.parse.urlencode({"query": query}).encode(),
                                 headers={"Accept": "application/sparql-results+json",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    elapsed = time.perf_counter() - t
    return elapsed, rows_from_json(json.loads(body))


def _wait(url: str, seconds: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {seconds}s")


def run_http(url: str, warm: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, text in queries().items():
        try:
            cold, rows = _post(url, text)
            times = [_post(url, text)[0] for _ in range(warm)]
            out[name] = {"cold": cold, "warm": statistics.median(times), "rows": rows}
            print(f"  {url} {name}: cold {cold * 1000:.1f} ms, warm {out[name]['warm'] * 1000:.1f} ms, "
                  f"{len(rows)} rows", file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - timeouts and HTTP errors are results too
            out[name] = {"cold": None, "warm": None, "rows": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
            print(f"  {url} {name}: {out[name]['error']}", file=sys.stderr, flush=True)
    return out


def _start(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    fh = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wrk(url: str, seconds: int, script_body: str | None = None) -> dict[str, Any]:
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "--timeout", "10s", url]
    if script_body:
        script = DATA / "wrk-post.lua"
        script.write_text(script_body)
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    res: dict[str, Any] = {"url": url}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if m:
            res[f"p{pct}_ms"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    return res


AGGREGATE = (QUERIES / "q10_class_counts.rq")


def _versions() -> dict[str, str]:
    import pyoxigraph
    import rdflib
    v = {"python": platform.python_version(), "pyoxigraph": pyoxigraph.__version__, "rdflib": rdflib.__version__}
    try:
        from importlib.metadata import version
        v["rdflib-endpoint"] = version("rdflib-endpoint")
    except Exception:  # noqa: BLE001
        v["rdflib-endpoint"] = "not installed"
    try:
        v["virtuoso"] = subprocess.run(["virtuoso-t", "-?"], capture_output=True, text=True).stderr.splitlines()[1]
    except Exception:  # noqa: BLE001
        v["virtuoso"] = "not installed"
    v["wrk"] = (shutil.which("wrk") or "missing")
    return v


def _machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "memory_gb": round(int(mem) / 1024 / 1024, 1), "cpu": cpu,
            "kernel": platform.release()}


def run(scale: int, systems: list[str], warm: int, wrk_seconds: int) -> Path:
    result: dict[str, Any] = {"scale": scale, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "command": " ".join(["python -m bench.harness", *sys.argv[1:]]),
                              "versions": _versions(), "machine": _machine(), "systems": {}, "load": {}}
    print(f"[{_label(scale)}] build", file=sys.stderr, flush=True)
    result["build"] = run_build(scale)
    store = str(_build_config(scale)["STORE_PATH"])
    if "inproc" in systems:
        print(f"[{_label(scale)}] in process", file=sys.stderr, flush=True)
        result["systems"]["inproc"] = run_inproc(store, warm)
    if "http" in systems:
        port = _free_port()
        proc = _start([str(Path(PY).with_name("territory-kg")), "serve", "--host", "127.0.0.1", "--port", str(port)],
                      {"KG_STORE_PATH": store, "KG_QUERY_TIMEOUT": str(int(TIMEOUT))}, DATA / "serve.log")
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base + "/health", 120, proc)
            result["systems"]["http"] = run_http(base + "/sparql", warm)
            if wrk_seconds:
                agg = urllib.parse.quote(AGGREGATE.read_text())
                result["load"]["http"] = {
                    "page /health": wrk(base + "/health", wrk_seconds),
                    "api /api/queries/counts-per-class": wrk(base + "/api/queries/counts-per-class", wrk_seconds),
                    "sparql aggregate (q10)": wrk(base + "/sparql?query=" + agg, wrk_seconds),
                }
        finally:
            _stop(proc)
    dump = None
    if "rdflib" in systems or "virtuoso" in systems:
        import pyoxigraph as ox
        dump = DATA / f"store-{_label(scale)}" / "all.nq"
        ox.Store.read_only(store).dump(str(dump), format=ox.RdfFormat.N_QUADS)
    if "rdflib" in systems and dump:
        port = _free_port()
        t = time.perf_counter()
        proc = _start([str(Path(PY).with_name("rdflib-endpoint")), "serve", "--host", "127.0.0.1", "--port",
                       str(port), str(dump)], log=DATA / "rdflib.log")
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base + "/sparql?query=ASK%7B%7D", 900, proc)
            result["build"]["rdflib_load_s"] = time.perf_counter() - t
            result["systems"]["rdflib"] = run_http(base + "/sparql", min(warm, 2))
            if wrk_seconds:
                agg = urllib.parse.quote(AGGREGATE.read_text())
                result["load"]["rdflib"] = {"sparql aggregate (q10)": wrk(base + "/sparql?query=" + agg, wrk_seconds)}
        finally:
            _stop(proc)
    if "virtuoso" in systems:
        result["systems"]["virtuoso"] = {"error": "TODO(issue 6): Virtuoso loading not wired yet"}
    RAW.mkdir(parents=True, exist_ok=True)
    path = RAW / f"{_label(scale)}-{result['started'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=1, sort_keys=True))
    report()
    return path


# ------------------------------------------------------------------ report
def _gmean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return statistics.geometric_mean(xs) if xs else None


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:,.1f}"


def report() -> str:
    latest: dict[int, dict[str, Any]] = {}
    for p in sorted(RAW.glob("*.json")):
        r = json.loads(p.read_text())
        latest[r["scale"]] = r
    out = ["<!-- generated by `python -m bench.harness`: edit bench/harness.py, not this table -->", ""]
    for scale, r in sorted(latest.items()):
        b = r["build"]
        out += [f"## {_label(scale)} synthetic triples ({b['triples']:,} triples in the store)", "",
                f"Command: `{r['command']}` — run {r['started']}; machine: {r['machine']['nproc']} CPUs, "
                f"{r['machine']['memory_gb']} GB, {r['machine']['cpu']}; versions: "
                + ", ".join(f"{k} {v}" for k, v in r["versions"].items()), "",
                f"Generator: {b['generate']['quads']:,} quads in {b['generate']['seconds']:.1f} s "
                f"({b['generate']['triples_per_s']:,.0f} triples/s). "
                f"Build (project pipeline, all of France + bench graph): {b['wall']:.1f} s wall, peak RSS "
                f"{b['peak_rss_mb']:,.0f} MB; steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in b["seconds"].items())
                + (f"; rdflib-endpoint load {b['rdflib_load_s']:.1f} s" if "rdflib_load_s" in b else ""), ""]
        systems = [s for s in ("inproc", "http", "rdflib", "virtuoso") if isinstance(r["systems"].get(s), dict)
                   and "error" not in r["systems"][s]]
        ref = r["systems"].get("inproc", {})
        head = "| query | rows (inproc) | " + " | ".join(f"{s} cold ms | {s} warm ms" for s in systems) + \
               " | http/inproc cold | rdflib/inproc cold | rows agree |"
        out += [head, "|" + "---|" * (head.count("|") - 1)]
        ratios: dict[str, list[float]] = {s: [] for s in systems}
        colds: dict[str, list[float]] = {s: [] for s in systems}
        for q in sorted(ref):
            cells, rowsets = [], {}
            for s in systems:
                e = r["systems"][s].get(q, {})
                cells += [_ms(e.get("cold")) if e.get("cold") is not None else e.get("error", "—")[:30], _ms(e.get("warm"))]
                if e.get("rows") is not None:
                    rowsets[s] = json.dumps(e["rows"])
                if e.get("cold") and ref[q].get("cold"):
                    ratios[s].append(e["cold"] / ref[q]["cold"])
                    colds[s].append(e["cold"])

            def ratio(s: str) -> str:
                e = r["systems"].get(s, {}).get(q, {})
                return f"{e['cold'] / ref[q]['cold']:.2f}x" if e.get("cold") and ref[q].get("cold") else "—"
            agree = "yes" if len(set(rowsets.values())) <= 1 else "NO: " + ", ".join(
                f"{s}={len(json.loads(v))}" for s, v in rowsets.items())
            out.append(f"| {q} | {len(ref[q].get('rows') or [])} | " + " | ".join(cells) +
                       f" | {ratio('http')} | {ratio('rdflib')} | {agree} |")
        out += ["", "Geometric mean of cold times (queries every system answered is not enforced; see table): "
                + ", ".join(f"{s} {_ms(_gmean(colds[s]))} ms" for s in systems), ""]
        for sysname, loads in r.get("load", {}).items():
            out += [f"Load ({sysname}, wrk 2 threads, 8 connections):", "", "| target | req/s | p50 ms | p99 ms | non-2xx |",
                    "|---|---|---|---|---|"]
            for target, w in loads.items():
                out.append(f"| {target} | {w.get('rps')} | {w.get('p50_ms')} | {w.get('p99_ms')} | {w.get('non2xx')} |")
            out.append("")
        if "virtuoso" in r["systems"] and "error" in r["systems"]["virtuoso"]:
            out += [f"Virtuoso: {r['systems']['virtuoso']['error']}", ""]
    text = "\n".join(out)
    target = BENCH / "results" / "tables.md"
    target.write_text(text + "\n")
    return text


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
    ap.add_argument("--systems", default="inproc,http,rdflib,virtuoso")
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--report", action="store_true")
    a = ap.parse_args(argv)
    if a.report:
        print(report())
        return 0
    for scale in a.scale or [100_000]:
        print(run(scale, a.systems.split(","), a.warm, a.wrk_seconds), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
