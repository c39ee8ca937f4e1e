"""Sorted, deduplicated lines kept on disk instead of in Python lists.

The build sorts every N-Quads line to write deterministic dumps. Held in lists, a 17M-triple
build peaks at 13.4 GB (bench/RESULTS.md); kept in files, sorted in bounded runs and merged,
its lines cost the memory of one run. A :class:`LineFile` is read as often as needed (bulk
load, dumps) and iterates in sorted order like the list it replaces.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> lines = sort_lines(["b", "a", "c", "a", "b"], folder / "x.txt", run_lines=2)
>>> list(lines), len(lines)
(['a', 'b', 'c'], 3)
>>> list(unique(heapq.merge(["a", "c"], ["a", "b"])))
['a', 'b', 'c']
>>> list(checked(["a", "c", "b"]))
Traceback (most recent call last):
...
service.build.spill.OutOfOrder: 'b' after 'c'
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["LineFile", "OutOfOrder", "checked", "sort_lines", "unique", "write_lines"]

#: Lines sorted in memory at a time (about 200 bytes each in the benchmark's N-Quads: 400 MB).
RUN_LINES = 2_000_000


class LineFile:
    """Sorted unique lines in a UTF-8 file, one per line (none contains a newline)."""

    def __init__(self, path: Path, count: int) -> None:
        self.path, self.count = path, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        with self.path.open(encoding="utf-8", newline="\n") as fh:
            for line in fh:
                yield line[:-1]

    def __repr__(self) -> str:
        return f"LineFile({str(self.path)!r}, {self.count})"


class OutOfOrder(ValueError):
    """A stream said to be sorted is not."""


def checked(lines: Iterable[str]) -> Iterator[str]:
    """``lines``, raising :class:`OutOfOrder` at the first one smaller than the one before."""
    last = ""
    for line in lines:
        if line < last:
            raise OutOfOrder(f"{line!r} after {last!r}")
        yield line
        last = line


def unique(sorted_lines: Iterable[str]) -> Iterator[str]:
    """Drop the repeats of a sorted stream."""
    last = None
    for line in sorted_lines:
        if line != last:
            yield line
            last = line


def write_lines(lines: Iterable[str], path: Path) -> int:
    """Write ``lines`` (newline-free) to ``path``; returns how many."""
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        buf: list[str] = []
        for line in lines:
            buf.append(line)
            if len(buf) >= 65536:
                fh.write("\n".join(buf) + "\n")
                n += len(buf)
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
            n += len(buf)
    return n


def sort_lines(lines: Iterable[str], path: Path, run_lines: int = RUN_LINES) -> LineFile:
    """Sort and deduplicate ``lines`` into ``path``, holding at most ``run_lines`` at a time:
    sorted runs are written next to ``path`` and merged into it (then removed)."""
    runs: list[LineFile] = []
    buf: list[str] = []

    def flush() -> None:
        run = path.with_name(f"{path.name}.run{len(runs)}")
        runs.append(LineFile(run, write_lines(sorted(set(buf)), run)))
        buf.clear()

    try:
        for line in lines:
            buf.append(line)
            if len(buf) >= run_lines:
                flush()
        if not runs:
            return LineFile(path, write_lines(sorted(set(buf)), path))
        if buf:
            flush()
        return LineFile(path, write_lines(unique(heapq.merge(*runs)), path))
    finally:
        for run in runs:
            run.path.unlink(missing_ok=True)
