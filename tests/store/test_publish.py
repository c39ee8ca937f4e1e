"""``territory-kg build --target remote``: the built graph into a real Virtuoso, replaced and verified.

Runs against ``kg_virtuoso`` (which holds the session's graph under ``http://kg.test/graph/``)
with another base, so the dataset loaded here sits beside it and must leave it untouched.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from service.build.remote import PublishError, dump_counts, publish
from service.store.remote import RemoteStore
from tests.virtuoso import free_port

CLI_BASE = "http://cli.test/"
COUNT = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


def counts(store: RemoteStore) -> dict[str, int]:
    return {row["g"][1:-1]: int(row["n"].split('"')[1]) for row in store.select(COUNT)}


def run_cli(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_BASE_URI": CLI_BASE, "KG_STORE_PATH": str(tmp_path / "store"),
           "KG_DUMPS_DIR": str(tmp_path / "dumps"), "KG_LOG_LEVEL": "WARNING",
           **{f"KG_{k}": v for k, v in settings.items()}}
    return subprocess.run([sys.executable, "-m", "service.cli", "build", "--target", "remote", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_build_target_remote_replaces_only_the_datasets_graphs(kg_virtuoso: Any, tmp_path: Path) -> None:
    url = kg_virtuoso.sparql_url
    ours = RemoteStore(url, update_url=url, graph_prefix=f"{CLI_BASE}graph/")
    ours.load_nquads(f'<urn:x> <urn:p> "stale" <{CLI_BASE}graph/stale> .\n'.encode())
    other = RemoteStore(url, update_url=url, graph_prefix="http://other.test/")
    other.load_nquads(b'<urn:y> <urn:p> "kept" <http://other.test/g> .\n')
    session = RemoteStore(url, graph_prefix="http://kg.test/graph/")
    before = counts(session)

    done = run_cli(tmp_path, SPARQL_URL=url, SPARQL_UPDATE_URL=url, REMOTE_READ_TIMEOUT="120")

    assert done.returncode == 0, done.stderr[-3000:]
    expected = dump_counts(tmp_path / "dumps" / "territory-kg.nq.gz")
    assert "graphs replaced and verified" in done.stdout and f"{sum(expected.values()):,} triples" in done.stdout
    assert f"{CLI_BASE}graph/stale (not in this build)" in done.stdout
    assert counts(RemoteStore(url, graph_prefix=f"{CLI_BASE}graph/")) == dict(expected)
    assert counts(other) == {"http://other.test/g": 1}
    assert counts(session) == before


def test_unreachable_remote_fails_before_building(tmp_path: Path) -> None:
    done = run_cli(tmp_path, SPARQL_URL=f"http://127.0.0.1:{free_port()}/sparql",
                   SPARQL_UPDATE_URL=f"http://127.0.0.1:{free_port()}/sparql")
    assert done.returncode == 1
    assert "Build not started" in done.stderr and "Cannot reach the remote SPARQL engine" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "store").exists()


@pytest.mark.parametrize(("settings", "words"), [
    ({"SPARQL_UPDATE_URL": "{auth}", "SPARQL_USER": "dba", "SPARQL_PASSWORD": "wrong"}, "refused our credentials"),
    ({}, "KG_SPARQL_UPDATE_URL is needed"),
    ({"SPARQL_UPDATE_URL": "ftp://db/update"}, "KG_SPARQL_UPDATE_URL: expected an http(s) URL"),
])
def test_refusals_are_plain_messages(virtuoso: Any, tmp_path: Path, settings: dict[str, str], words: str) -> None:
    settings = {k: v.replace("{auth}", virtuoso.sparql_url + "-auth") for k, v in settings.items()}
    done = run_cli(tmp_path, SPARQL_URL=virtuoso.sparql_url, **settings)
    assert done.returncode == 1 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "store").exists()


def _config(virtuoso: Any, tmp_path: Path) -> dict[str, Any]:
    from service.config import make_config

    return make_config({"BASE_URI": "http://publish.test/", "DUMPS_DIR": str(tmp_path), "BACKEND": "remote",
                        "SPARQL_URL": virtuoso.sparql_url, "SPARQL_UPDATE_URL": virtuoso.sparql_url})


def test_a_count_that_differs_after_loading_is_an_error(virtuoso: Any, tmp_path: Path) -> None:
    """The check is real: a dump line repeated is sent twice but stored once, so the counts differ."""
    line = '<urn:a> <urn:p> "x" <http://publish.test/graph/g> .\n'
    dump = tmp_path / "territory-kg.nq.gz"
    dump.write_bytes(gzip.compress((line * 2 + line.replace('"x"', '"y"')).encode()))
    with pytest.raises(PublishError, match=r"http://publish.test/graph/g: 2 triples instead of 3"):
        publish(_config(virtuoso, tmp_path))
    dump.write_bytes(gzip.compress((line + line.replace('"x"', '"y"')).encode()))
    assert publish(_config(virtuoso, tmp_path)).triples_per_graph == {"http://publish.test/graph/g": 2}


def test_a_dump_graph_outside_the_prefix_is_refused(virtuoso: Any, tmp_path: Path) -> None:
    dump = tmp_path / "territory-kg.nq.gz"
    dump.write_bytes(gzip.compress(b'<urn:a> <urn:p> "x" <http://elsewhere.test/g> .\n'))
    with pytest.raises(PublishError, match="outside http://publish.test/graph/"):
        publish(_config(virtuoso, tmp_path))


def test_publish_through_virtuosos_authenticated_endpoints(virtuoso: Any, tmp_path: Path) -> None:
    """As the README suggests: updates at /sparql-auth (Digest), loads at /sparql-graph-crud-auth."""
    dump = tmp_path / "territory-kg.nq.gz"
    dump.write_bytes(gzip.compress(b'<urn:a> <urn:p> "x" <http://publish.test/graph/auth> .\n'))
    cfg = {**_config(virtuoso, tmp_path), "SPARQL_UPDATE_URL": virtuoso.sparql_url + "-auth",
           "SPARQL_USER": "dba", "SPARQL_PASSWORD": "dba"}
    assert publish(cfg).triples_per_graph == {"http://publish.test/graph/auth": 1}
