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
>>> sort_lines(["b", "a"], folder / "y.txt", keep=10)
['a', 'b']
>>> list(unique(heapq.merge(["a", "c"], ["a", "b"])))
['a', 'b', 'c']
>>> pieces(folder / "x.txt", 2), pieces(folder / "x.txt", 5)
([(...x.txt'), 0, 4), (...x.txt'), 4, 6)], [(...x.txt'), 0, 2), (...x.txt'), 2, 4), (...x.txt'), 4, 6)])
>>> with open_range(folder / "x.txt", 2, 6) as fh:
...     fh.read()
b'b\\nc\\n'
>>> contains(folder / "x.txt", b"\\nb"), contains(folder / "x.txt", b"_:")
(True, False)
>>> list(checked(["a", "c", "b"]))
Traceback (most recent call last):
...
service.build.spill.OutOfOrder: 'b' after 'c'
"""

from __future__ import annotations

import heapq
import io
import os
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

__all__ = ["LineFile", "OutOfOrder", "batches", "checked", "contains", "open_range", "pieces", "read_lines", "sort_lines",
           "unique", "write_lines"]

#: Lines sorted in memory at a time (about 200 bytes each in the benchmark's N-Quads: 400 MB).
RUN_LINES = 2_000_000
#: Graphs of up to this many lines stay in memory in a build (the ontology, the documents…); the
#: backbone (1.1M lines), the benchmark's data and the inferred triples go to disk. Keeping them
#: all in memory took the 100k benchmark build from 1.04 to 1.97 GB peak for 1-3 s less.
KEEP_LINES = 100_000


class LineFile:
    """Sorted unique lines in a UTF-8 file, one per line (none contains a newline)."""

    def __init__(self, path: Path, count: int) -> None:
        self.path, self.count = path, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return read_lines(self.path)

    def __repr__(self) -> str:
        return f"LineFile({str(self.path)!r}, {self.count})"


def read_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 file written one per line (each ends with a newline), without it."""
    with path.open(encoding="utf-8", newline="\n") as fh:
        for line in fh:
            yield line[:-1]


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


def batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """``lines`` as lists of ``size`` (the last one shorter, never empty)."""
    it = iter(lines)
    while batch := list(islice(it, size)):
        yield batch


def write_lines(lines: Iterable[str], path: Path) -> int:
    """Write ``lines`` (newline-free) to ``path``; returns how many."""
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for batch in batches(lines, 65536):
            fh.write("\n".join(batch) + "\n")
            n += len(batch)
    return n


def sort_lines(lines: Iterable[str], path: Path, run_lines: int | None = None, *,
               keep: int = 0) -> list[str] | LineFile:
    """Sort and deduplicate ``lines`` into ``path``, holding at most ``run_lines`` at a time:
    sorted runs are written next to ``path`` and merged into it (then removed).

    Up to ``keep`` lines are returned as a sorted list instead (no file): small graphs cost
    less in memory than their file round trip.
    """
    run_lines = run_lines or RUN_LINES
    runs: list[LineFile] = []
    try:
        for batch in batches(lines, run_lines):
            if not runs and len(batch) < run_lines:  # the whole input, in one run
                ordered = sorted(set(batch))
                return ordered if len(ordered) <= keep else LineFile(path, write_lines(ordered, path))
            name = path.with_name(f"{path.name}.run{len(runs)}")
            runs.append(LineFile(name, write_lines(sorted(set(batch)), name)))
            del batch
        if not runs:
            return []
        return LineFile(path, write_lines(unique(heapq.merge(*runs)), path))
    finally:
        for run in runs:
            run.path.unlink(missing_ok=True)


def pieces(path: Path, n: int) -> list[tuple[Path, int, int]]:
    """``path`` cut into at most ``n`` byte ranges ``(path, start, end)`` of about equal size,
    each of whole lines (an empty file: no piece)."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for k in range(1, n):
            fh.seek(max(size * k // n - 1, cuts[-1]))
            fh.readline()  # to the end of the line the cut falls in (a cut just after a newline stays)
            if cuts[-1] < fh.tell() < size:
                cuts.append(fh.tell())
    cuts.append(size)
    return [(path, start, end) for start, end in zip(cuts, cuts[1:]) if end > start]


class _Range(io.RawIOBase):
    def __init__(self, path: Path, start: int, end: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._at, self._end = start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._end - self._at)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._at)
        buffer[:len(data)] = data
        self._at += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def open_range(path: Path, start: int, end: int) -> io.BufferedReader:
    """The bytes ``start`` to ``end`` of ``path`` as a binary file, read a megabyte at a time."""
    return io.BufferedReader(_Range(path, start, end), 1 << 20)


def contains(path: Path, needle: bytes) -> bool:
    """Whether the bytes of ``path`` contain ``needle``, read a megabyte at a time."""
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            if needle in tail + block[:len(needle)] or needle in block:
                return True
            tail = block[-(len(needle) - 1):] if len(needle) > 1 else b""
    return False
