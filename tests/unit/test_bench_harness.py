"""bench/harness.py: a build's peak memory is its own, not the harness's that started it;
bench/peers.py: a server is measured once its start-up work is done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = ("import sys; from bench.harness import _peak_rss_mb; x = bytearray(int(sys.argv[1]) << 20); "
         "x[::4096] = b'\\1' * len(x[::4096]); print(_peak_rss_mb())")


def _child_peak(allocate_mb: int) -> tuple[float, float]:
    """(what the child reports, what wait4 says) for a child allocating ``allocate_mb``."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(allocate_mb)], cwd=ROOT, stdout=subprocess.PIPE)
    with proc.stdout:  # type: ignore[union-attr]
        out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)  # as the harness does: wait4 gives the child's rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return float(out), usage.ru_maxrss / 1024


def test_a_child_reports_its_own_peak_not_the_memory_of_the_process_that_started_it() -> None:
    held = bytearray(400 << 20)
    held[::4096] = b"\1" * len(held[::4096])  # resident in this (the "harness") process
    reported, rusage = _child_peak(50)
    assert rusage > 400  # Linux carries the parent's peak over fork + exec into ru_maxrss ...
    assert 50 < reported < 250  # ... VmHWM is the child's own: its 50 MB and the interpreter
    del held


def test_what_the_child_allocates_is_counted() -> None:
    reported, _ = _child_peak(300)
    assert reported > 300


BUSY = ("import sys, time; from pathlib import Path; end = time.process_time() + float(sys.argv[2])\n"
        "while time.process_time() < end: pass\n"
        "Path(sys.argv[1]).write_text('done'); time.sleep(60)")


def test_a_server_is_waited_for_until_its_start_up_work_is_done(tmp_path: Path) -> None:
    from bench import peers

    marker = tmp_path / "warm"
    proc = peers.start_process([sys.executable, "-c", BUSY, str(marker), "1.5"])  # 1.5 s of CPU, then idle
    try:
        waited = peers.wait_quiet(proc, seconds=60, quiet=0.5)
        assert marker.exists(), f"returned after {waited:.1f} s while the process was still busy"
        assert peers.cpu_seconds(proc.pid) >= 1.5
    finally:
        peers.stop_process(proc)


def _saved(tmp_path: Path) -> Path:
    import json
    run = {"scale": 100000, "started": "2026-11-22T08:15:28Z", "command": "python -m bench.harness --scale 100000",
           "versions": {"pyoxigraph": "old"}, "machine": {"nproc": 2}, "build": {"seconds": 66.6},
           "systems": {"inproc": {"q": {"cold": 1.0}}, "http": {"q": {"cold": 2.0}}},
           "load": {"http (cache on)": {"page": 1}}, "peers": {}}
    path = tmp_path / "100k-2026-11-22T081528Z.json"
    path.write_text(json.dumps(run))
    return path


def _new() -> dict[str, object]:
    return {"started": "2026-11-22T10:12:00Z", "command": "python -m bench.harness --scale 100000 --reuse",
            "versions": {"pyoxigraph": "new"}, "machine": {"nproc": 2, "load_at_start": [0.1]}}


def test_a_reuse_run_that_adds_systems_completes_the_saved_run(tmp_path: Path) -> None:
    from bench.harness import merged_with

    merged = merged_with(_saved(tmp_path), _new(), ["virtuoso"])
    assert merged["started"] == "2026-11-22T08:15:28Z" and "merged_from" not in merged  # the same file
    assert set(merged["systems"]) == {"inproc", "http"} and merged["build"] == {"seconds": 66.6}
    assert merged["command"].endswith("(merged)") and merged["versions"] == {"pyoxigraph": "new"}


def test_a_reuse_run_that_runs_systems_again_starts_a_new_file(tmp_path: Path) -> None:
    from bench.harness import merged_with

    saved = _saved(tmp_path)
    before = saved.read_text()
    merged = merged_with(saved, _new(), ["inproc", "http"])
    assert merged["started"] == "2026-11-22T10:12:00Z" and merged["merged_from"] == saved.name
    assert merged["systems"] == {} and merged["load"] == {} and merged["build"] == {"seconds": 66.6}
    assert saved.read_text() == before
