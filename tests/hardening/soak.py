"""``make soak``: a long mixed load against a locally served instance; reports memory drift and errors.

Not part of the test suite (it runs for ``--duration`` seconds, 30 minutes by default). It
serves the configured store itself (``territory-kg serve`` with the caller's ``KG_*``
settings, as ``make run`` would) unless ``--url`` and ``--pid`` name a running server, then:

* ``--clients`` keep-alive clients browse pages, the API and cheap SPARQL in a loop, and one
  client sends a runaway query every ``--runaway-every`` seconds (it must end in a 503);
* every ``--sample`` seconds it records the resident memory (RSS) of the server and all its
  processes (gunicorn master and workers, query workers), their open files and the requests;
* at the end it prints a report: requests and latency per kind, errors (connection failures and
  5xx other than the runaways' 503), RSS at the first sample after warm-up, at the end and at
  its peak, drift in percent, and worker restarts. It exits 1 on errors or a drift over
  ``--max-drift`` percent.

Example (the first numbers in the README come from this)::

    .venv/bin/python -m tests.hardening.soak --duration 90
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests.hardening.harness import Server, descendants, rss_bytes
from tests.hardening.traffic import Client, p99, targets, warm

RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }"


class _Remote:
    """A running server named by ``--url``/``--pid`` (only what the soak needs)."""

    def __init__(self, url: str, pid: int) -> None:
        self.port = urlsplit(url).port or 80
        self.proc_pid = pid

    def sparql(self, query: str, **headers: str) -> object:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", f"/sparql?query={quote(query)}", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()

        class _Reply:
            def json(self) -> object:
                import json
                return json.loads(body)
        return _Reply()


def _tree(root: int) -> list[int]:
    return [root, *descendants(root)]


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds of load (default 1800)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runaway-every", type=float, default=30, help="seconds between runaway queries (0: none)")
    parser.add_argument("--sample", type=float, default=10, help="seconds between memory samples")
    parser.add_argument("--warmup", type=float, default=20, help="seconds before the first memory sample counts")
    parser.add_argument("--max-drift", type=float, default=10.0, help="percent of RSS growth that fails the soak")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the server it starts")
    parser.add_argument("--url", help="a running server (with --pid) instead of starting one")
    parser.add_argument("--pid", type=int, help="the running server's master pid")
    args = parser.parse_args(argv)

    settings = {k[3:]: v for k, v in os.environ.items() if k.startswith("KG_")}
    settings.setdefault("QUERY_TIMEOUT", "5")
    settings.setdefault("LOG_LEVEL", "WARNING")
    settings.setdefault("FAIRUSE_TRUSTED_PROXIES", "127.0.0.1")  # every client its own address
    settings.setdefault("FAIRUSE_EXEMPT", "")
    server: Server | None = None
    if args.url:
        if not args.pid:
            parser.error("--url needs --pid (the server's master process, for its memory)")
        target: object = _Remote(args.url, args.pid)
        port, root = urlsplit(args.url).port or 80, args.pid
    else:
        log = Path(tempfile.mkdtemp(prefix="kg-soak-")) / "server.log"
        server = Server(settings, log, workers=args.workers)
        target, port, root = server, server.port, server.proc.pid
        print(f"serving on {server.url} (log {log})", flush=True)
    from service.config import make_config

    base = str(make_config({k: v for k, v in settings.items() if k == "BASE_URI"})["BASE_URI"])
    paths = targets(target, base)  # type: ignore[arg-type]
    warm(target, paths)  # type: ignore[arg-type]

    statuses: Counter[tuple[str, int]] = Counter()
    seconds: dict[str, list[float]] = {}
    errors: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def browse(n: int) -> None:
        client, i = Client(port, f"10.3.0.{n + 1}"), n * 11
        while not stop.is_set():
            kind, path = paths[i % len(paths)]
            i += 1
            started = time.monotonic()
            try:
                status = client.get(path)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(f"{path}: {exc}")
                continue
            with lock:
                statuses[(kind, status)] += 1
                seconds.setdefault(kind, []).append(time.monotonic() - started)
                if status >= 500:
                    errors.append(f"{path}: {status}")
        client.close()

    def run_away() -> None:
        client = Client(port, "10.4.0.1", timeout=120)
        while not stop.wait(args.runaway_every):
            try:
                status = client.get("/sparql?query=" + quote(RUNAWAY))
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"runaway: {exc}")
                continue
            with lock:
                statuses[("runaway", status)] += 1
                if status != 503:
                    errors.append(f"runaway answered {status}")
        client.close()

    threads = [threading.Thread(target=browse, args=(n,)) for n in range(args.clients)]
    if args.runaway_every > 0:
        threads.append(threading.Thread(target=run_away))
    for thread in threads:
        thread.start()
    started = time.monotonic()
    samples: list[tuple[float, int, int, int]] = []  # (elapsed, rss, fds, processes)
    first_pids = last_pids = set(_tree(root))
    try:
        while (elapsed := time.monotonic() - started) < args.duration:
            time.sleep(min(args.sample, args.duration - elapsed))
            pids = _tree(root)
            rss, fds = sum(rss_bytes(p) for p in pids), sum(_fds(p) for p in pids)
            samples.append((time.monotonic() - started, rss, fds, len(pids)))
            last_pids = set(pids)
            with lock:
                done = sum(statuses.values())
            print(f"{samples[-1][0]:7.0f}s  rss {rss / 2**20:8.1f} MiB  fds {fds:4d}  processes {len(pids):2d}  "
                  f"requests {done:7d}  errors {len(errors)}", flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=130)
        if server is not None:
            server.stop()
    counted = [s for s in samples if s[0] >= args.warmup] or samples
    start_rss, end_rss = counted[0][1], counted[-1][1]
    drift = 100.0 * (end_rss - start_rss) / start_rss if start_rss else 0.0
    replaced = len(first_pids - last_pids)
    print("\n== soak report ==")
    print(f"duration {args.duration:.0f}s, {args.clients} clients, runaway every {args.runaway_every:g}s")
    for kind, values in sorted(seconds.items()):
        print(f"{kind:8s} {len(values):8d} requests  median {statistics.median(values) * 1000:7.1f} ms  "
              f"p99 {p99(values) * 1000:7.1f} ms")
    print(f"statuses {dict(sorted(statuses.items()))}")
    print(f"RSS after warm-up {start_rss / 2**20:.1f} MiB, at the end {end_rss / 2**20:.1f} MiB, "
          f"peak {max(s[1] for s in samples) / 2**20:.1f} MiB: drift {drift:+.1f}%")
    print(f"open files {counted[0][2]} → {counted[-1][2]}; processes {counted[0][3]} → {counted[-1][3]}; "
          f"{replaced} replaced (each runaway's query worker is killed and replaced)")
    print(f"errors {len(errors)}" + (f": {errors[:5]}" if errors else ""))
    return 1 if errors or drift > args.max_drift else 0


if __name__ == "__main__":
    sys.exit(main())
