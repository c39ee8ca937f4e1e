"""The ``territory-kg`` command line: thin commands over plain functions."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["main", "init_app"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def _progress(message: str) -> None:
    click.echo(f"  … {message}", err=True)


@click.command("build")
@click.option("--quiet", is_flag=True, help="Print only the summary.")
@click.option("--target", type=click.Choice(["local", "remote"]), default="local", show_default=True,
              help="remote: then replace the dataset's graphs in the KG_SPARQL_* store with the build, verified.")
@with_appcontext
def build_command(quiet: bool, target: str) -> None:
    """Build the store, check it with SHACL and write the dumps (and load them into a remote store)."""
    from service.build.pipeline import BuildError, build
    from service.build.remote import PublishError, check_remote, publish

    started = time.perf_counter()
    progress = (lambda _m: None) if quiet else _progress
    try:
        if target == "remote":  # fail in a second on a wrong URL or credentials, not after the build
            check_remote(current_app.config)
    except PublishError as exc:
        click.echo(f"Build not started: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Building into {current_app.config['STORE_PATH']} (base {current_app.config['BASE_URI']})", err=True)
    try:
        summary = build(current_app.config, progress=progress)
    except BuildError as exc:
        click.echo(f"Build failed: {exc}", err=True)
        sys.exit(1)
    click.echo(summary.text())
    click.echo(f"Built in {time.perf_counter() - started:.1f}s")
    if target == "remote":
        try:
            click.echo(publish(current_app.config, progress=progress).text())
        except PublishError as exc:
            click.echo(f"Remote load failed: {exc}", err=True)
            sys.exit(1)


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Check the ontology: lint, then consistency and satisfiability under HermiT."""
    from pathlib import Path

    from rdflib import Graph

    from service.reasoning import OntologyCheckError, check_ontology, lint_ontology

    onto_dir = Path(current_app.config["ONTOLOGY_DIR"])
    paths = [onto_dir / "eco.ttl", onto_dir / "alignments.ttl"]
    try:
        graph = Graph()
        for path in paths:
            graph.parse(path, format="turtle")
        problems = lint_ontology(graph)
        for problem in problems:
            click.echo(f"lint: {problem}", err=True)
        report = check_ontology(paths)
    except (OntologyCheckError, OSError, SyntaxError, ValueError) as exc:
        click.echo(f"Check failed: {exc}", err=True)
        sys.exit(2)
    click.echo(f"HermiT: {'consistent' if report.consistent else 'INCONSISTENT'}; "
               f"{report.classes} classes, {report.properties} properties; "
               f"unsatisfiable: {', '.join(report.unsatisfiable) or 'none'} ({report.seconds:.1f}s)")
    for message in report.messages:
        click.echo(f"  {message}", err=True)
    if problems or not report.consistent or report.unsatisfiable:
        sys.exit(1)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, envvar="PORT", show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the built store with gunicorn (read-only, several workers)."""
    from service.errors import StoreUnavailable
    from service.serve import serve

    try:
        serve(host, port, workers)
    except StoreUnavailable as exc:  # updates on: no store, or another writer holds it
        click.echo(f"Cannot start: {exc.message}", err=True)
        sys.exit(1)


# ---------------------------------------------------------------- named queries and SPARQL


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        if name in out:
            raise click.BadParameter(f"{name!r} given twice", param_hint="--param")
        out[name] = value
    return out


def _timed(label: str, work: Callable[[], T]) -> T:
    """Run ``work`` in a thread, showing the elapsed time on stderr while it takes long."""
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed back to the calling thread below
            box["error"] = exc

    started = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    shown = False
    thread.join(timeout=1.0)
    while thread.is_alive():
        shown = True
        click.echo(f"\r  … {label}: {time.perf_counter() - started:.0f}s", err=True, nl=False)
        thread.join(timeout=1.0)
    if shown:
        click.echo("", err=True)
    if "error" in box:
        raise box["error"]
    log.info("%s answered in %.2fs", label, time.perf_counter() - started)
    return box["value"]  # type: ignore[no-any-return]


def _print_rows(variables: Sequence[str], rows: list[dict[str, str]], fmt: str) -> None:
    from service.config import namespaces
    from service.results import to_csv, to_records, to_text_table, to_tsv

    if fmt == "json":
        click.echo(json.dumps(to_records(variables, rows), ensure_ascii=False, indent=1))
    elif fmt == "csv":
        click.echo(to_csv(variables, rows), nl=False)
    elif fmt == "tsv":
        click.echo(to_tsv(variables, rows), nl=False)
    else:
        click.echo(to_text_table(variables, rows, prefixes=namespaces(current_app.config).prefixes()))


def _fail(exc: Exception) -> NoReturn:
    click.echo(f"Error: {getattr(exc, 'message', None) or exc}", err=True)
    sys.exit(2 if getattr(exc, "status", 500) < 500 else 1)


_FORMATS = click.Choice(["table", "csv", "tsv", "json", "turtle"])


@click.command("queries")
@click.option("--tag", help="Only queries with this tag.")
@with_appcontext
def queries_command(tag: str | None) -> None:
    """List the named queries: name, what it returns, parameters (* = required), summary."""
    from service.catalogue import get_catalogue, nt_literal

    rows = [{"name": nt_literal(q.name), "returns": nt_literal(q.returns),
             "params": nt_literal(" ".join(p.name + ("*" if p.required else "") for p in q.params)),
             "summary": nt_literal(q.summary["en"])}
            for q in get_catalogue() if tag is None or tag in q.tags]
    _print_rows(["name", "returns", "params", "summary"], rows, "table")


@click.command("query")
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="A query parameter (repeat).")
@click.option("--format", "fmt", type=_FORMATS, default="table", show_default=True)
@click.option("--limit", type=int, default=None, help="Rows per page (default and maximum: 10,000).")
@click.option("--offset", type=int, default=0, show_default=True)
@with_appcontext
def query_command(name: str, params: tuple[str, ...], fmt: str, limit: int | None, offset: int) -> None:
    """Run the named query NAME, e.g. territory-kg query communes-of-epci -p epci=epci/200093201."""
    from service.catalogue import MAX_LIMIT, bind, get_catalogue, paging, run_graph, run_table
    from service.errors import KGError
    from service.store import get_store
    from service.web.api import triples_table

    try:
        query = get_catalogue().get(name)
        terms = bind(query, _params(params))
        store = get_store()
        size, start = paging(limit, offset, default=MAX_LIMIT)
        if query.returns == "table":
            page = _timed(name, lambda: run_table(store, query, terms, limit=size, offset=start))
            variables, rows = page.variables, page.rows
        else:
            media = "text/turtle" if fmt == "turtle" else \
                "application/ld+json" if fmt == "json" else "application/n-triples"
            page = _timed(name, lambda: run_graph(store, query, terms, limit=size, offset=start,
                                                  media_type=media))
            if fmt in ("turtle", "json"):
                click.echo(page.body.decode("utf-8"))
                return
            variables, rows = ("subject", "predicate", "object"), triples_table(page.body)
    except KGError as exc:
        _fail(exc)
    _print_rows(variables, rows, "csv" if fmt == "turtle" else fmt)
    if page.has_more:
        click.echo(f"(more rows: add --offset {start + size})", err=True)


@click.command("sparql")
@click.argument("text", required=False)
@click.option("--file", "-f", "path", type=click.Path(exists=True, dir_okay=False), help="Read the query from a file.")
@click.option("--format", "fmt", type=_FORMATS, default="table", show_default=True)
@with_appcontext
def sparql_command(text: str | None, path: str | None, fmt: str) -> None:
    """Run a SPARQL query given as TEXT or with -f FILE on the store (SELECT, ASK or CONSTRUCT)."""
    from pathlib import Path

    from service.errors import KGError
    from service.results import rows_from_sparql_json
    from service.store import get_store

    if (text is None) == (path is None):
        raise click.UsageError("give the query as an argument or with -f FILE (not both)")
    query = Path(path).read_text(encoding="utf-8") if path else str(text)
    graph_format = "application/ld+json" if fmt == "json" else "text/turtle" if fmt in ("table", "turtle") \
        else "application/n-triples"
    try:
        store = get_store()
        out = _timed("query", lambda: store.execute(query, result_format="application/sparql-results+json",
                                                           graph_format=graph_format))
    except KGError as exc:
        _fail(exc)
    if out.kind == "graph":
        if graph_format == "application/n-triples":
            from service.web.api import triples_table

            _print_rows(("subject", "predicate", "object"), triples_table(out.body), fmt)
        else:
            click.echo(out.body.decode("utf-8"))
        return
    if out.kind == "boolean":
        click.echo(json.loads(out.body)["boolean"] and "true" or "false")
        return
    variables, rows = rows_from_sparql_json(out.body)
    _print_rows(variables, rows, "csv" if fmt == "turtle" else fmt)
    click.echo(f"{len(rows)} row(s)", err=True)


def init_app(app: Flask) -> None:
    """Register the commands on the app (they then run inside its context)."""
    for command in (build_command, check_command, serve_command, queries_command, query_command,
                    sparql_command):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from service import create_app
    from service.catalogue import CatalogueError
    from service.config import ConfigError

    try:
        return create_app()  # type: ignore[no-any-return]
    except (CatalogueError, ConfigError) as exc:
        click.echo(f"Cannot start: {exc}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """territory-kg: the Hauts-de-France economy as a knowledge graph."""


if __name__ == "__main__":
    main()
