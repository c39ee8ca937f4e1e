"""Target 4 on its own: the subtree question in three shapes, on one built benchmark store.

    python -m bench.closures bench/data/store-5M/store [--runs 5]

"Companies of an industry subtree within a territory subtree", asked as property paths
(``bench/queries/q02_subtree_paths.rq``), as the materialised closures with the company's
patterns first (the shape q03 had until 2026-11-21) and as the closures with the two
subtrees first (``bench/queries/q03_subtree_closure.rq`` now). Each shape runs in a fresh
process (cold: the store just opened) and then ``--runs`` more times (warm: median); rows
must be equal across shapes. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERIES = Path(__file__).resolve().parent / "queries"

#: The closure form as q03 had it first: pyoxigraph starts from every company.
COMPANY_FIRST = """PREFIX eco: <https://data.example.org/def/eco#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?c ?label WHERE {
  ?c a eco:Company ; rdfs:label ?label ; eco:activeInIndustry ?ind ; eco:locatedIn ?place .
  { ?ind skos:broaderTransitive <https://data.example.org/id/industry/nace-C> }
  UNION { BIND(<https://data.example.org/id/industry/nace-C> AS ?ind) }
  ?place eco:withinTerritory <https://data.example.org/id/departement/59> .
} ORDER BY ?c"""


def shapes() -> dict[str, str]:
    return {"paths (q02)": (QUERIES / "q02_subtree_paths.rq").read_text(),
            "closures, company first": COMPANY_FIRST,
            "closures, subtrees first (q03)": (QUERIES / "q03_subtree_closure.rq").read_text()}


def _child(store: str, query: str, runs: int) -> dict[str, object]:
    import pyoxigraph as ox

    db = ox.Store.read_only(store)
    times, rows = [], []
    for _ in range(runs + 1):
        started = time.perf_counter()
        rows = [tuple(str(s[v]) for v in ("c", "label")) for s in db.query(query, use_default_graph_as_union=True)]
        times.append((time.perf_counter() - started) * 1000)
    return {"cold_ms": round(times[0], 1), "warm_ms": round(statistics.median(times[1:]), 1), "rows": len(rows),
            "digest": hash(tuple(rows)) & 0xFFFFFFFF}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--_query", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._query:
        print(json.dumps(_child(a.store, shapes()[a._query], a.runs)))
        return 0
    out: dict[str, object] = {"store": a.store}
    for name in shapes():
        done = subprocess.run([sys.executable, "-m", "bench.closures", a.store, "--runs", str(a.runs), "--_query", name],
                              capture_output=True, text=True, check=True, cwd=QUERIES.parent.parent,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
        out[name] = json.loads(done.stdout)
    digests = {v["digest"] for k, v in out.items() if isinstance(v, dict)}
    out["rows_agree"] = len(digests) == 1
    print(json.dumps(out, indent=1))
    return 0 if out["rows_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
