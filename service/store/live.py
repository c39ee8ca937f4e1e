"""The embedded store with updates enabled: reads from the newest generation, writes through the writer.

:class:`LiveStore` is what :func:`service.store.get_store` returns for the embedded backend
when ``UPDATES`` is on (see :mod:`service.store.writer` for the model). Pages, the API and
in-process queries read the newest published generation; every write goes to the single
writer process and is visible to the next read once it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from service.store import Binding, Dataset, QueryOutput
from service.store.writer import Generations, Writer, generations_dir

if TYPE_CHECKING:
    from service.store.oxigraph import OxigraphStore

__all__ = ["LiveStore"]

log = logging.getLogger(__name__)


class LiveStore:
    """A :class:`service.store.GraphStore` over the published generations and the writer process."""

    supports_update = True
    supports_named_graphs = True

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.generations: Generations = writer.generations

    @classmethod
    def open(cls, cfg: Mapping[str, Any]) -> LiveStore:
        """Start the writer on ``STORE_PATH`` and publish the first generation.

        :raises service.errors.StoreUnavailable: no store, or another process holds it.
        """
        from service.store.oxigraph import OxigraphStore

        path = str(cfg["STORE_PATH"])
        OxigraphStore.check_exists(path)
        # The web process checked the size before adding the protocol's USING clauses: allow for them.
        writer = Writer(path, Generations(generations_dir(path)), float(cfg["UPDATE_TIMEOUT"]),
                        2 * int(cfg["UPDATE_MAX_BYTES"]))
        return cls(writer)

    @contextmanager
    def reading(self) -> Iterator[OxigraphStore]:
        """The newest generation, held while the block runs."""
        with self.generations.reading() as store:
            yield store

    # --- reads --------------------------------------------------------------------------

    def execute(self, query: str, *, result_format: str, graph_format: str,
                dataset: Dataset | None = None) -> QueryOutput:
        with self.reading() as store:
            return store.execute(query, result_format=result_format, graph_format=graph_format, dataset=dataset)

    def select(self, query: str, *, bindings: Mapping[str, str] | None = None) -> list[Binding]:
        with self.reading() as store:
            return store.select(query, bindings=bindings)

    def ask(self, query: str) -> bool:
        with self.reading() as store:
            return store.ask(query)

    def has_graph(self, iri: str | None) -> bool:
        with self.reading() as store:
            return store.has_graph(iri)

    def graph(self, iri: str | None, media_type: str, max_bytes: int) -> bytes | None:
        with self.reading() as store:
            return store.graph(iri, media_type, max_bytes)

    # --- writes -------------------------------------------------------------------------

    def update(self, update: str, *, base_iri: str | None = None) -> None:
        self.writer.run(("update", update, base_iri))

    def write_graph(self, iri: str | None, parts: list[tuple[bytes, str]], *, replace: bool) -> bool:
        return bool(self.writer.run(("write", iri, parts, replace)))

    def drop_graph(self, iri: str | None) -> bool:
        return bool(self.writer.run(("drop", iri)))

    def close(self) -> None:
        self.writer.close()
        self.generations.close()
