"""Sorted lines on disk (:mod:`service.build.spill`) and the dumps written by merging them."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.build import spill
from service.build.pipeline import _as_triple, _asserted_triples, _bulk, _Cancelled, _load


def _lines(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f'<http://x/{rng.randrange(n // 2)}> <http://p/{rng.randrange(3)}> "é{rng.randrange(5)}" <http://g/1> .'
            for _ in range(n)]


@pytest.mark.parametrize("run_lines", [1, 3, 50, 10_000])
def test_sort_lines_equals_sorted_set_and_leaves_only_its_file(tmp_path: Path, run_lines: int) -> None:
    lines = _lines(400)
    out = spill.sort_lines(iter(lines), tmp_path / "out.nq", run_lines=run_lines)
    assert list(out) == sorted(set(lines))
    assert len(out) == len(set(lines)) < len(lines)
    assert list(out) == list(out)  # read as often as needed
    assert [p.name for p in tmp_path.iterdir()] == ["out.nq"]  # the runs are gone


@pytest.mark.parametrize(("run_lines", "keep", "in_memory"),
                         [(3, 1000, False), (400, 1000, False), (401, 1000, True), (401, 10, False)])
def test_sort_lines_keeps_small_input_in_memory(tmp_path: Path, run_lines: int, keep: int, in_memory: bool) -> None:
    lines = _lines(400)  # 400 lines fill a run of 400: on disk, as they would not fit a run
    out = spill.sort_lines(lines, tmp_path / "out.nq", run_lines=run_lines, keep=keep)
    assert list(out) == sorted(set(lines))
    assert isinstance(out, list) == in_memory
    assert [p.name for p in tmp_path.iterdir()] == ([] if in_memory else ["out.nq"])


def test_sort_lines_of_nothing(tmp_path: Path) -> None:
    out = spill.sort_lines([], tmp_path / "empty.nq")
    assert list(out) == [] and len(out) == 0


def test_sort_lines_removes_its_runs_when_the_input_fails(tmp_path: Path) -> None:
    def broken():  # type: ignore[no-untyped-def]
        yield from _lines(10)
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        spill.sort_lines(broken(), tmp_path / "out.nq", run_lines=3)
    assert not [p for p in tmp_path.iterdir() if ".run" in p.name]


def test_checked_and_unique() -> None:
    assert list(spill.unique(spill.checked(["a", "a", "b", "c", "c"]))) == ["a", "b", "c"]
    with pytest.raises(spill.OutOfOrder, match="'b' after 'c'"):
        list(spill.checked(["a", "c", "b"]))


def test_asserted_triples_merge_graphs_and_drop_repeats(tmp_path: Path) -> None:
    g1 = sorted(set(_lines(200)))
    g2 = sorted({line.replace("<http://g/1>", "<http://g/2>") for line in _lines(200, seed=8)})
    on_disk = spill.sort_lines(g2, tmp_path / "g2.nq")
    path = _asserted_triples({"g1": g1, "g2": on_disk}, tmp_path / "asserted.nt")
    expected = sorted({_as_triple(line) for line in g1 + g2})
    assert path.read_text(encoding="utf-8").splitlines() == expected
    assert len(expected) < len(set(g1)) + len(set(g2))  # the graphs share triples


def test_asserted_triples_sort_what_dropping_the_graph_puts_out_of_order(tmp_path: Path) -> None:
    # A default-graph line among quads: its last " <" is not a graph term, and once the
    # "graph" is dropped, the sorted lines are no longer in order: they are sorted on disk.
    lines = sorted(["a <h> b <g> .", "a <z> ."])
    assert [_as_triple(line) for line in lines] == ["a <h> b .", "a ."]
    path = _asserted_triples({"g": lines}, tmp_path / "asserted.nt")
    assert path.read_text(encoding="utf-8").splitlines() == ["a .", "a <h> b ."]


@pytest.mark.parametrize("keep", [0, 10], ids=["file", "list"])
def test_bulk_load_keeps_the_store_s_blank_nodes(tmp_path: Path, keep: int) -> None:
    # Inferred lines can name blank nodes of the store; its bulk loader would rename them.
    store = ox.Store()
    node, p, g = ox.BlankNode("b1"), ox.NamedNode("http://kg.test/p"), ox.NamedNode("http://kg.test/g")
    store.add(ox.Quad(node, p, ox.Literal("x"), g))
    lines = spill.sort_lines(['_:b1 <http://kg.test/q> "y" <http://kg.test/i> .',
                              '<http://kg.test/s> <http://kg.test/q> "z" <http://kg.test/i> .'], tmp_path / "i.nq",
                             keep=keep)
    _bulk(store, lines)
    assert {str(q.object) for q in store.quads_for_pattern(node, None, None)} == {'"x"', '"y"'}
    assert len(store) == 3
    assert [p.name for p in tmp_path.iterdir()] == ([] if keep else ["i.nq"])  # the blank-free copy is gone


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50])
def test_pieces_cover_the_file_in_whole_lines(tmp_path: Path, n: int) -> None:
    lines = spill.sort_lines(_lines(400), tmp_path / "x.nq")
    assert isinstance(lines, spill.LineFile)
    cuts = spill.pieces(lines.path, n)
    assert 1 <= len(cuts) <= n and cuts[0][1] == 0 and cuts[-1][2] == lines.path.stat().st_size
    assert all(a[2] == b[1] for a, b in zip(cuts, cuts[1:]))
    text = b""
    for piece in cuts:
        with spill.open_range(*piece) as fh:
            part = fh.read()
        assert part.endswith(b"\n") and (piece[1] == 0 or lines.path.read_bytes()[piece[1] - 1:piece[1]] == b"\n")
        text += part
    assert text == lines.path.read_bytes()


def test_load_in_pieces_loads_every_line_and_keeps_a_file_s_blank_nodes_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.build import pipeline
    monkeypatch.setattr(pipeline, "LOAD_THREADS", 3)
    plain = spill.sort_lines(_lines(3000), tmp_path / "plain.nq")
    # One blank node named on the first and the last line of a file: cut in pieces, the loader
    # would make it two nodes.
    blank = spill.sort_lines([f'_:n <http://p/{i:04}> "v" <http://g/2> .' for i in range(3000)], tmp_path / "b.nq")
    small = ['<http://x/s> <http://p/0> "s" <http://g/3> .']
    assert isinstance(plain, spill.LineFile) and isinstance(blank, spill.LineFile)
    assert len(spill.pieces(blank.path, 3)) == 3 and spill.contains(blank.path, b"_:")
    store = ox.Store(str(tmp_path / "store"))
    _load(store, [plain, blank, small])
    assert len(store) == len(plain) + len(blank) + 1
    assert len({q.subject for q in store.quads_for_pattern(None, None, None, ox.NamedNode("http://g/2"))}) == 1
    assert {str(q) for q in store.quads_for_pattern(None, None, None, ox.NamedNode("http://g/1"))} == \
        {str(q) for q in ox.parse(path=plain.path, format=ox.RdfFormat.N_QUADS)}


@pytest.mark.parametrize(("batch", "cut"), [(10_000, 3), (1500, 1)])
def test_a_file_of_two_loader_batches_is_loaded_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      batch: int, cut: int) -> None:
    from service.build import pipeline
    monkeypatch.setattr(pipeline, "LOAD_THREADS", 3)
    monkeypatch.setattr(pipeline, "LOADER_BATCH", batch)
    asked = []
    monkeypatch.setattr(spill, "pieces", lambda path, n: asked.append(n) or [(path, 0, path.stat().st_size)])
    lines = spill.sort_lines([f"<http://x/{i}> <http://p/0> <http://x/0> <http://g/1> ." for i in range(3000)],
                             tmp_path / "x.nq")
    store = ox.Store()
    _load(store, [lines])
    assert asked == [cut] and len(store) == 3000


def test_a_line_that_does_not_parse_stops_the_load(tmp_path: Path) -> None:
    bad = spill.sort_lines(_lines(3000) + ["<http://x/1> <http://p/0> oops <http://g/1> ."], tmp_path / "bad.nq")
    with pytest.raises(SyntaxError):
        _load(ox.Store(str(tmp_path / "store")), [bad])


def test_asserted_triples_stop_when_the_build_is_cancelled(tmp_path: Path) -> None:
    # A failed validation cancels the dumps thread: it must not go on merging for minutes.
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(_Cancelled):
        _asserted_triples({"g": sorted(set(_lines(400)))}, tmp_path / "asserted.nt", cancel)
    assert _asserted_triples({"g": sorted(set(_lines(400)))}, tmp_path / "asserted.nt", threading.Event()).exists()


@pytest.mark.parametrize("broken", ["_blocks", "_asserted_triples"])
def test_a_failed_dump_is_the_error_raised_and_stops_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              broken: str) -> None:
    # The N-Quads dump and the asserted-triples dumps run side by side: when one fails, the other
    # is cancelled, and the build reports the failure, not the cancellation.
    from service.build import pipeline
    from service.config import make_config, namespaces

    def disk_full(*_: object) -> None:
        raise OSError("No space left on device")

    cancel = threading.Event()

    def blocks_until_cancelled(*_: object) -> Iterator[bytes]:
        while True:  # the N-Quads dump still running when the other fails
            yield b""
            cancel.wait(5)

    monkeypatch.setattr(pipeline, "_blocks", blocks_until_cancelled)
    monkeypatch.setattr(pipeline, broken, disk_full)
    ns = namespaces(make_config({}))
    graphs = {ns.graph("ontology"): [], "g": sorted(set(_lines(400)))}
    with pytest.raises(OSError, match="No space"):
        pipeline._write_dumps(tmp_path / "dumps", graphs, [], ns, tmp_path, lambda _: None, cancel)
    assert cancel.is_set()


def test_dumps_are_written_with_their_checksums(tmp_path: Path) -> None:
    from service.build import pipeline
    from service.config import make_config, namespaces

    ns = namespaces(make_config({}))
    lines = sorted(set(_lines(400)))
    written = pipeline._write_dumps(tmp_path / "dumps", {ns.graph("ontology"): [], "g": lines}, [], ns, tmp_path,
                                    lambda _: None)
    assert list(written) == list(pipeline.DUMPS)
    for name, digest in written.items():
        assert (tmp_path / "dumps" / f"{name}.sha256").read_text() == f"{digest}  {name}\n"
    import gzip
    assert gzip.decompress((tmp_path / "dumps" / "territory-kg.nq.gz").read_bytes()).decode().splitlines() == lines
