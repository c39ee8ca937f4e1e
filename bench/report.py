"""``bench/results/tables.md`` from the raw JSON of the latest run at each scale."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "bench" / "results" / "raw"
SYSTEMS = ("inproc", "http", "virtuoso", "rdflib")

__all__ = ["report", "summary"]


def _label(scale: int) -> str:
    return f"{scale // 1_000_000}M" if scale % 1_000_000 == 0 else f"{scale // 1000}k"


def _gmean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return statistics.geometric_mean(xs) if xs else None


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:,.1f}"


def _present(r: dict[str, Any]) -> list[str]:
    return [s for s in SYSTEMS if isinstance(r["systems"].get(s), dict) and "error" not in r["systems"][s]]


def summary(r: dict[str, Any]) -> dict[str, Any]:
    """Figures the targets need: geometric means over the queries every present system
    answered, HTTP/in-process ratios, the queries whose rows differ from in process, how much
    faster HTTP is than rdflib (target 3) and the means over Virtuoso's identical rows (target 6)."""
    systems = _present(r)
    ref = r["systems"].get("inproc", {})
    answered = [q for q in ref if all(r["systems"][s].get(q, {}).get("cold") for s in systems)]
    out: dict[str, Any] = {"systems": systems, "common_queries": len(answered), "queries": len(ref),
                           "gmean_cold": {s: _gmean([r["systems"][s][q]["cold"] for q in answered]) for s in systems},
                           "gmean_warm": {s: _gmean([r["systems"][s][q].get("warm") or 0 for q in answered])
                                          for s in systems}}
    if "http" in systems:
        slow = [q for q in ref if (ref[q].get("cold") or 0) > 0.010 and r["systems"]["http"].get(q, {}).get("cold")]
        ratios = {q: r["systems"]["http"][q]["cold"] / ref[q]["cold"] for q in slow}
        out["http_over_inproc_cold_above_10ms"] = ratios
    mismatches: dict[str, dict[str, int | None]] = {}
    for q, e in ref.items():
        want = json.dumps(e.get("rows"))
        for s in systems:
            got = r["systems"][s].get(q, {})
            if s != "inproc" and got.get("rows") is not None and json.dumps(got["rows"]) != want:
                mismatches.setdefault(q, {"inproc": len(e.get("rows") or [])})[s] = len(got["rows"])
    out["mismatches"] = mismatches
    if "http" in systems and "rdflib" in systems:
        out["rdflib_over_http"] = _speedup(r, "rdflib", "http")
    if "virtuoso" in systems:
        same = [q for q in ref if ref[q].get("cold") and r["systems"]["virtuoso"].get(q, {}).get("cold")
                and "virtuoso" not in mismatches.get(q, {})]
        out["identical_rows_virtuoso"] = {"queries": len(same), "gmean_cold": {
            s: _gmean([r["systems"][s][q]["cold"] for q in same if r["systems"][s].get(q, {}).get("cold")])
            for s in systems if s != "rdflib"}}
    out["errors"] = {s: {q: e["error"] for q, e in r["systems"][s].items() if isinstance(e, dict) and "error" in e}
                     for s in systems}
    return out


def _timed_out(entry: dict[str, Any]) -> bool:
    text = str(entry.get("error", ""))
    return "timeout" in text or "timed out" in text or text.startswith("over ")


def _speedup(r: dict[str, Any], slow: str, fast: str) -> dict[str, Any]:
    """How much faster ``fast`` is than ``slow`` cold (geometric mean of the per-query ratios):
    over the queries both answer, and as a lower bound that also counts each of ``slow``'s
    timeouts at the timeout (on queries ``fast`` answers)."""
    a, b = r["systems"][slow], r["systems"][fast]
    both = [q for q in b if b[q].get("cold") and a.get(q, {}).get("cold")]
    late = [q for q in b if b[q].get("cold") and _timed_out(a.get(q, {}))]
    limit = float(r.get("timeout", 60.0))
    ratio = _gmean([a[q]["cold"] / b[q]["cold"] for q in both])
    bound = _gmean([a[q]["cold"] / b[q]["cold"] for q in both] + [limit / b[q]["cold"] for q in late])
    return {"both": len(both), "ratio": ratio, "timeouts": len(late), "ratio_with_timeouts": bound,
            "failed": sorted(q for q in b if b[q].get("cold") and q not in both and q not in late)}


def _section(r: dict[str, Any]) -> list[str]:
    b, m = r["build"], r["machine"]
    per_graph = b.get("triples_per_graph", {})
    inferred = sum(n for g, n in per_graph.items() if g.endswith("/graph/inferred"))
    out = [f"## {_label(r['scale'])} synthetic triples: {b['triples']:,} triples in the store "
           f"({b['triples'] - inferred:,} asserted, {inferred:,} inferred)", "",
           f"Command: `{r['command']}`; started {r['started']}; machine: {m['nproc']} CPUs, {m['memory_gb']} GB, "
           f"{m['cpu']}, kernel {m['kernel']}; load average at start {m.get('load_at_start')}, at end "
           f"{m.get('load_at_end')} (other engineers' jobs share these CPUs).", "",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()), ""]
    if b.get("reused"):
        out += ["Build: not run (an existing store was reused, `--reuse`).", ""]
    else:
        out += [f"Generator: {b['generate']['quads']:,} quads in {b['generate']['seconds']:.1f} s. "
                f"Build (all of France + bench graph, inference, SHACL, dumps): **{b['wall']:.1f} s wall**, "
                f"{b.get('cpu_s', 0):.1f} s CPU, **peak RSS {b['peak_rss_mb']:,.0f} MB**; steps: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in b["seconds"].items()), ""]
    peers = r.get("peers", {})
    if peers:
        out += ["Peer loading: " + ", ".join(f"{k.replace('_load_s', '')} {v:.1f} s" for k, v in peers.items()), ""]
    systems, ref = _present(r), r["systems"].get("inproc", {})
    head = ["query", "rows"] + [f"{s} {w}" for s in systems for w in ("cold", "warm")]
    head += ["inproc fresh process"] * ("inproc" in systems)
    head += ["http cached"] * ("http" in systems) + [f"{s}/inproc cold" for s in systems if s != "inproc"]
    head += ["rows agree"]
    out += ["Times in ms (cold: first run; warm: median of later runs; http warm runs bypass the response "
            "cache, http cached is a cache hit).", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    s_ = summary(r)
    for q in ref:
        cells = [q, str(len(ref[q].get("rows") or [])) if "rows" in ref[q] else ref[q].get("error", "—")[:40]]
        for s in systems:
            e = r["systems"][s].get(q, {})
            cells += [_ms(e.get("cold")) if e.get("cold") else e.get("error", "—")[:40], _ms(e.get("warm"))]
        if "inproc" in systems:
            cells.append(_ms(ref[q].get("fresh")) if "fresh_error" not in ref[q] else ref[q]["fresh_error"])
        if "http" in systems:
            e = r["systems"]["http"].get(q, {})
            cells.append(_ms(e.get("cached")) + ("" if e.get("cache", "hit") == "hit" else " (miss)"))
        for s in systems:
            if s != "inproc":
                e = r["systems"][s].get(q, {})
                cells.append(f"{e['cold'] / ref[q]['cold']:.2f}x" if e.get("cold") and ref[q].get("cold") else "—")
        bad = s_["mismatches"].get(q)
        cells.append("yes" if not bad else "**NO**: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
        out.append("| " + " | ".join(cells) + " |")
    out += ["", f"Geometric means over the {s_['common_queries']} of {s_['queries']} queries every system answered: "
            + "; ".join(f"{s} cold {_ms(s_['gmean_cold'][s])} ms, warm {_ms(s_['gmean_warm'][s])} ms" for s in systems),
            ""]
    if s_.get("http_over_inproc_cold_above_10ms"):
        ratios = s_["http_over_inproc_cold_above_10ms"]
        out += [f"HTTP/in-process cold on the {len(ratios)} queries above 10 ms in process: max "
                f"{max(ratios.values()):.2f}x, median {statistics.median(ratios.values()):.2f}x.", ""]
    if s_.get("rdflib_over_http"):
        x = s_["rdflib_over_http"]
        out += [f"Over HTTP against rdflib's engine (cold, geometric mean of the per-query ratios): "
                f"**{x['ratio']:.1f}x** faster over the {x['both']} queries both answer"
                + (f"; at least {x['ratio_with_timeouts']:.1f}x counting rdflib's {x['timeouts']} timeouts at "
                   "the timeout" if x["timeouts"] else "")
                + (f"; rdflib fails {len(x['failed'])} more ({', '.join(x['failed'])})" if x["failed"] else "")
                + ".", ""]
    if s_.get("identical_rows_virtuoso"):
        x = s_["identical_rows_virtuoso"]
        out += [f"Cold geometric means over the {x['queries']} queries where Virtuoso returns the in-process rows: "
                + "; ".join(f"{s} {_ms(v)} ms" for s, v in x["gmean_cold"].items()) + ".", ""]
    for s, errs in s_["errors"].items():
        if errs:
            out += [f"{s} errors: " + "; ".join(f"{q}: {e[:120]}" for q, e in errs.items()), ""]
    for s in SYSTEMS:
        e = r["systems"].get(s)
        if isinstance(e, dict) and "error" in e:
            out += [f"{s}: not measured ({e['error'][:300]})", ""]
    if r.get("load"):
        out += ["Load (wrk, 2 threads, 8 connections):", "",
                "| system | target | req/s | p50 ms | p99 ms | non-2xx | socket errors |", "|---|---|---|---|---|---|---|"]
        for system, loads in r["load"].items():
            for target, w in loads.items():
                out.append(f"| {system} | {target} | {w.get('rps')} | {w.get('p50_ms')} | {w.get('p99_ms')} | "
                           f"{w.get('non2xx')} | {w.get('socket_errors') or ''} |")
        out.append("")
    return out


def report() -> str:
    latest: dict[int, dict[str, Any]] = {}
    for p in sorted(RAW.glob("*.json")):
        r = json.loads(p.read_text())
        latest[r["scale"]] = r
    out = ["<!-- generated by `python -m bench.harness`: edit bench/report.py, not this file -->", ""]
    for _, r in sorted(latest.items()):
        out += _section(r)
    text = "\n".join(out)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "tables.md").write_text(text + "\n")
    return text
