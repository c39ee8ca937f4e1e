"""bench/harness.py: a build's peak memory is its own, not the harness's that started it."""

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
