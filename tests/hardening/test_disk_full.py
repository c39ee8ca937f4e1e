"""hardening.md F4: a full disk gives a clear error on writes while reads continue, and writes
resume once space is freed.

The store (and its generations, which must share its file system) lives on a real 64 MB
tmpfs, filled with a ballast file; writes then meet a real ``ENOSPC`` from RocksDB. Mounting
needs root (``CAP_SYS_ADMIN``): the test says so and skips otherwise; it runs as root here and
in the project's CI container. No quota or ``RLIMIT_FSIZE`` trick is used: those give
``EDQUOT``/``EFBIG`` (or ``SIGXFSZ``), not the disk-full path this row is about.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.harness import Server
from tests.hardening.writes import Writes, seed_store, write_settings

SIZE_MB = 64


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def batch(k: int, n: int = 20_000) -> bytes:
    return "".join(f'<urn:f4#s{k}-{i}> <urn:p> "value {i} of batch {k}, padded to use some room" .\n'
                   for i in range(n)).encode()


def test_F4_disk_full(small_disk: Path, tmp_path: Path) -> None:
    store = seed_store(small_disk / "store")
    server = Server(write_settings(store), tmp_path / "full.log", workers=1)
    writes = Writes(server)
    try:
        writes.open()
        ballast = small_disk / "ballast"
        free = shutil.disk_usage(small_disk).free
        ballast.write_bytes(b"\0" * (free - 28 * 2**20))  # leave 28 MB: room for one or two batches
        acked, full = [], []
        for k in range(12):
            reply = writes.graph_store("PUT", f"?graph=urn:f4-{k}", batch(k), "application/n-triples")
            assert reply.status in (201, 507), reply
            assert "Traceback" not in reply.text and str(small_disk) not in reply.text
            if reply.status == 201:
                acked.append(k)
                continue
            full.append(reply)
            assert "storage is full" in reply.text, reply.text
            # reads go on, from the last published generation
            assert writes.count(f"urn:f4-{acked[-1]}") == 20_000 if acked else writes.count("urn:seed") == 3
            server.health_within(1.0)
            if len(full) == 3:
                break
        assert acked and len(full) == 3, (acked, [r.status for r in full])
        small = writes.update("INSERT DATA { GRAPH <urn:f4-small> { <urn:s> <urn:p> 1 } }")
        assert small.status == 507, small  # even a tiny write: RocksDB needs room for its log
        assert writes.count("urn:seed") == 3
        ballast.unlink()  # the operator frees space: writes resume without a restart
        resumed = writes.update("INSERT DATA { GRAPH <urn:f4-small> { <urn:s> <urn:p> 1 } }")
        assert resumed.status == 204, resumed
        assert writes.ask("ASK { GRAPH <urn:f4-small> { <urn:s> <urn:p> 1 } }")
        for k in acked:
            assert writes.count(f"urn:f4-{k}") == 20_000, k
        for k in range(len(acked), len(acked) + 3):  # refused writes: whole or absent
            assert writes.count(f"urn:f4-{k}") in (0, 20_000), k
        assert "Traceback" not in server.log() and "unhandled error" not in server.log()
    finally:
        server.stop()
    restarted = Writes(Server(write_settings(store), tmp_path / "restarted.log", workers=1))
    try:
        for k in acked:  # the store opens after the episode and kept every acknowledged write
            assert restarted.count(f"urn:f4-{k}") == 20_000, k
        assert restarted.ask("ASK { GRAPH <urn:f4-small> { <urn:s> <urn:p> 1 } }")
    finally:
        restarted.server.stop()
