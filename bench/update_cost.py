"""The cost of one write with updates on: checkpoint, reader reopen, and /update end to end.

``python -m bench.update_cost [STORE]`` copies the built store (default ``var/store``) to a
temporary directory, then measures, over ``--writes`` small writes:

* ``checkpoint``: ``Store.backup`` of the read-write store into a new generation;
* ``reopen``: ``Store.read_only`` on that generation plus the named-graph listing a query
  worker does before its next job;
* ``update``: ``POST /update`` through the app (writer process, checkpoint, publish), and
  ``first query``: the next ``/sparql`` ASK through a query worker (which reopens).

Medians and maxima in milliseconds; nothing is written to the original store.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"


def main() -> None:
    import pyoxigraph as ox

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", nargs="?", default="var/store")
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store"
        shutil.copytree(args.store, copy)
        store = ox.Store(str(copy))
        print(f"store: {len(store):,} quads")
        checkpoint, reopen = [], []
        for n in range(args.writes):
            store.update(f"INSERT DATA {{ GRAPH <urn:bench> {{ <urn:s> <urn:p> {n} }} }}")
            target = Path(tmp) / f"gen{n}"
            t0 = time.perf_counter()
            store.backup(str(target))
            t1 = time.perf_counter()
            reader = ox.Store.read_only(str(target))
            list(reader.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"))
            t2 = time.perf_counter()
            del reader
            shutil.rmtree(target)
            checkpoint.append(t1 - t0)
            reopen.append(t2 - t1)
        del store
        print(f"checkpoint (Store.backup): {_ms(checkpoint)}")
        print(f"reopen (read_only + graph list): {_ms(reopen)}")
        _end_to_end(copy, args.writes)


def _end_to_end(path: Path, writes: int) -> None:
    from service import create_app
    from service.store import executor

    token = "bench-token-0123456789"
    app = create_app({"STORE_PATH": str(path), "BASE_URI": "http://kg.test/", "UPDATES": "on",
                      "UPDATE_TOKEN": token, "QUERY_WORKERS": 1, "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/sparql", query_string={"query": "ASK {}"})  # start the writer and the worker
    updates, firsts, warm = [], [], []
    for n in range(writes):
        text = f"INSERT DATA {{ GRAPH <urn:bench2> {{ <urn:s> <urn:p> {n} }} }}"
        t0 = time.perf_counter()
        assert client.post("/update", data=text, content_type="application/sparql-update",
                           headers=headers).status_code == 204
        t1 = time.perf_counter()
        ask = {"query": f"ASK {{ GRAPH <urn:bench2> {{ <urn:s> <urn:p> {n} }} }}", "format": "json"}
        assert client.get("/sparql", query_string=ask).get_json()["boolean"] is True
        t2 = time.perf_counter()
        client.get("/sparql", query_string=ask)
        t3 = time.perf_counter()
        updates.append(t1 - t0)
        firsts.append(t2 - t1)
        warm.append(t3 - t2)
    print(f"POST /update (writer + checkpoint + publish): {_ms(updates)}")
    print(f"first /sparql ASK after it (worker reopens): {_ms(firsts)}")
    print(f"next /sparql ASK (no reopen): {_ms(warm)}")
    executor.shutdown(app)
    app.extensions["kg_store"].close()


if __name__ == "__main__":
    main()
