"""Style is enforced by tools, not reviewers: ruff (with Airflow rules), mypy, sqlfluff, model
names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, **kwargs)


def test_ruff_check_and_format_are_clean():
    checked = _run([str(BIN / "ruff"), "check", "."])
    assert checked.returncode == 0, checked.stdout
    formatted = _run([str(BIN / "ruff"), "format", "--check", "."])
    assert formatted.returncode == 0, formatted.stdout


def test_mypy_is_clean_on_plugins_expectations_and_dags():
    # What it checks and how strictly: pyproject.toml, [tool.mypy] (the same run as `make lint`).
    checked = _run([str(BIN / "mypy")])
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr[-2000:]


@pytest.mark.integration
def test_sqlfluff_is_clean_on_the_dbt_project(tracker_env):
    linted = _run([str(BIN / "tracker"), "lint-sql"])
    assert linted.returncode == 0, linted.stdout[-4000:] + linted.stderr[-2000:]


def test_dbt_model_names_follow_the_layer_conventions():
    models = ROOT / "dbt_project" / "models"
    wrong = []
    for sql in models.rglob("*.sql"):
        layer = sql.relative_to(models).parts[0]
        name = sql.stem
        if layer == "staging" and not (name.startswith("stg_") and "__" in name):
            wrong.append(f"{sql}: staging models are stg_<source>__<entity>s")
        if layer == "intermediate" and not name.startswith("int_"):
            wrong.append(f"{sql}: intermediate models are int_<entity>s_<verb>s")
        if layer == "marts" and name.startswith(("stg_", "int_", "fct_", "dim_")):
            wrong.append(f"{sql}: marts use plain entity names")
    assert wrong == []


def test_every_model_folder_has_its_yaml():
    models = ROOT / "dbt_project" / "models"
    folders = {sql.parent for sql in models.rglob("*.sql")}
    missing = [str(d) for d in folders if not list(d.glob("_*__models.yml"))]
    assert missing == []
