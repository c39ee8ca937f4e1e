"""The ``territory-kg`` command line: thin commands over plain functions."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["main", "init_app"]


def _progress(message: str) -> None:
    click.echo(f"  … {message}", err=True)


@click.command("build")
@click.option("--quiet", is_flag=True, help="Print only the summary.")
@with_appcontext
def build_command(quiet: bool) -> None:
    """Build the store, check it with SHACL and write the dumps."""
    from service.build.pipeline import BuildError, build

    started = time.perf_counter()
    click.echo(f"Building into {current_app.config['STORE_PATH']} (base {current_app.config['BASE_URI']})", err=True)
    try:
        summary = build(current_app.config, progress=(lambda _m: None) if quiet else _progress)
    except BuildError as exc:
        click.echo(f"Build failed: {exc}", err=True)
        sys.exit(1)
    click.echo(summary.text())
    click.echo(f"Built in {time.perf_counter() - started:.1f}s")


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
    from service.serve import serve

    serve(host, port, workers)


def init_app(app: Flask) -> None:
    """Register the commands on the app (they then run inside its context)."""
    for command in (build_command, check_command, serve_command):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from service import create_app

    return create_app()  # type: ignore[no-any-return]


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """territory-kg: the Hauts-de-France economy as a knowledge graph."""


if __name__ == "__main__":
    main()
