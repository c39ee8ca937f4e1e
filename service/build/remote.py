"""``territory-kg build --target remote``: the built graph into a remote SPARQL store.

The build runs as usual (store, validation, dumps); then :func:`publish` copies the
N-Quads dump (every named graph, inferred included) into the remote store named by
``KG_SPARQL_URL`` / ``KG_SPARQL_UPDATE_URL`` / ``KG_SPARQL_GRAPH_STORE_URL`` and the
credentials:

1. :func:`check_remote` (before the build, so a wrong URL fails in a second, not after
   it): the engine answers a query, and accepts an update (a ``DROP SILENT`` of a graph
   that never holds data, under the dataset's prefix);
2. the named graphs under the prefix (``{BASE}graph/`` unless ``KG_SPARQL_GRAPH_PREFIX``
   says otherwise) are dropped, and only those: the engine's own graphs and other
   datasets stay;
3. the dump is sent through the Graph Store protocol
   (:meth:`service.store.remote.RemoteStore.load_nquads`);
4. the triples of each graph are counted on the remote and compared with the dump: a
   difference is an error naming the graph.

The graphs are replaced in place: while step 3 runs (seconds for the seed graph),
clients of the remote engine see part of the data.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from service.config import ConfigError, remote_graph_prefix, validate
from service.errors import KGError

__all__ = ["PublishError", "PublishReport", "check_remote", "publish", "dump_counts"]

log = logging.getLogger(__name__)

#: The N-Quads dump the build writes (see :mod:`service.build.pipeline`).
DUMP_NAME = "territory-kg.nq.gz"
#: A graph name that never holds data: the target of the write probe.
PROBE_GRAPH = "x-territory-kg-write-probe"


class PublishError(RuntimeError):
    """The remote store cannot be loaded or verified; the message says why, plainly."""


@dataclass
class PublishReport:
    """What :func:`publish` did: triples per graph (verified on the remote) and timings."""

    triples_per_graph: dict[str, int] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    seconds: float = 0.0

    def text(self) -> str:
        """A human summary."""
        lines = [f"Remote store: {len(self.triples_per_graph)} graphs replaced and verified "
                 f"({sum(self.triples_per_graph.values()):,} triples) in {self.seconds:.1f}s"]
        lines += [f"  {n:>9,}  {g}" for g, n in sorted(self.triples_per_graph.items())]
        gone = sorted(set(self.dropped) - set(self.triples_per_graph))
        lines += [f"  dropped    {g} (not in this build)" for g in gone]
        return "\n".join(lines)


def _remote(cfg: Mapping[str, Any]) -> Any:
    """The remote store of ``cfg`` (whatever ``BACKEND`` says), its settings checked.

    :raises PublishError: a missing or malformed setting.
    """
    from service.store.remote import RemoteStore

    remote = {**cfg, "BACKEND": "remote"}
    try:
        validate(remote)
    except ConfigError as exc:
        raise PublishError(f"remote store settings: {exc}") from None
    if not remote.get("SPARQL_UPDATE_URL"):
        raise PublishError("remote store settings: KG_SPARQL_UPDATE_URL is needed to load the graph "
                           "(the query endpoint alone is read-only)")
    return RemoteStore.from_config(remote, graph_prefix=remote_graph_prefix(remote))


def check_remote(cfg: Mapping[str, Any]) -> None:
    """Check that the remote store answers queries and accepts updates.

    :raises PublishError: unreachable, silent, refusing our credentials or our writes.
    """
    store = _remote(cfg)
    try:
        store.ask("ASK {}")
        store._update(f"DROP SILENT GRAPH <{store.graph_prefix}{PROBE_GRAPH}>")
    except KGError as exc:
        raise PublishError(f"the remote store at {cfg['SPARQL_URL']} cannot be loaded: {exc.message}") from None
    finally:
        store.close()


def dump_counts(dump: Path) -> Counter[str]:
    """Triples per named graph in an N-Quads dump (``.gz`` allowed), as the remote should hold them.

    :raises PublishError: a line that is not a quad with a named graph.
    """
    import pyoxigraph as ox

    counts: Counter[str] = Counter()
    with (gzip.open(dump, "rb") if dump.name.endswith(".gz") else dump.open("rb")) as fh:
        try:
            for quad in ox.parse(cast(IO[bytes], fh), format=ox.RdfFormat.N_QUADS):
                if not isinstance(quad.graph_name, ox.NamedNode):
                    raise PublishError(f"{dump.name}: a triple outside any named graph")
                counts[quad.graph_name.value] += 1
        except SyntaxError as exc:
            raise PublishError(f"{dump.name} is not N-Quads: {exc}") from None
    return counts


def publish(cfg: Mapping[str, Any], dump: Path | None = None,
            progress: Callable[[str], None] = lambda _m: None) -> PublishReport:
    """Replace the dataset's named graphs in the remote store with the dump's, then verify them.

    :param dump: the N-Quads dump; by default the build's, in ``DUMPS_DIR``.
    :raises PublishError: bad settings, a dump graph outside the prefix, the remote
        unreachable or refusing, or a graph whose triple count differs after loading.
    """
    started = time.perf_counter()
    dump = dump or Path(cfg["DUMPS_DIR"]) / DUMP_NAME
    if not dump.is_file():
        raise PublishError(f"no dump at {dump}: run 'territory-kg build' first")
    expected = dump_counts(dump)
    store = _remote(cfg)
    outside = sorted(g for g in expected if not g.startswith(store.graph_prefix))
    if outside:
        raise PublishError(f"graph {outside[0]} of the dump is outside {store.graph_prefix} "
                           "(check KG_BASE_URI and KG_SPARQL_GRAPH_PREFIX)")
    report = PublishReport()
    try:
        report.dropped = store.data_graphs()
        store.clear()
        progress(f"remote: dropped {len(report.dropped)} graphs under {store.graph_prefix}")
        sent = store.load_nquads(dump)
        progress(f"remote: sent {sent:,} quads")
        query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        found = {row["g"][1:-1]: int(row["n"].split('"')[1]) for row in store.select(query)}
    except KGError as exc:
        raise PublishError(f"loading the remote store at {cfg['SPARQL_URL']} failed: {exc.message}") from None
    except ValueError as exc:
        raise PublishError(f"loading the remote store failed: {exc}") from None
    finally:
        store.close()
    wrong = [f"{g}: {found.get(g, 0):,} triples instead of {n:,}" for g, n in sorted(expected.items())
             if found.get(g, 0) != n]
    wrong += [f"{g}: {n:,} triples, not in the dump" for g, n in sorted(found.items()) if g not in expected]
    if wrong:
        raise PublishError("the remote store does not hold what was sent: " + "; ".join(wrong))
    report.triples_per_graph = dict(sorted(expected.items()))
    report.seconds = time.perf_counter() - started
    log.info("published %d triples in %d graphs in %.1fs", sum(expected.values()), len(expected), report.seconds)
    return report
