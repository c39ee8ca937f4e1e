"""``territory-kg check``: the ontology gate on the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_check_passes_on_the_real_ontology() -> None:
    result = create_app({"ONTOLOGY_DIR": str(ROOT / "ontology")}).test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "HermiT: consistent" in result.output and "unsatisfiable: none" in result.output


@pytest.mark.slow
def test_check_fails_on_an_unsatisfiable_class(tmp_path: Path) -> None:
    onto = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", onto)
    eco = onto / "eco.ttl"
    eco.write_text(eco.read_text(encoding="utf-8") + "\neco:Commune rdfs:subClassOf eco:Region .\n", encoding="utf-8")
    result = create_app({"ONTOLOGY_DIR": str(onto)}).test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1, result.output
    assert "Commune" in result.output


def test_check_reports_a_syntax_error_without_traceback(tmp_path: Path) -> None:
    onto = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", onto)
    (onto / "alignments.ttl").write_text("this is not turtle", encoding="utf-8")
    result = create_app({"ONTOLOGY_DIR": str(onto)}).test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 2
    assert "Check failed" in result.output and "Traceback" not in result.output
