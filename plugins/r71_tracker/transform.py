"""The one way Python runs dbt: in-process through dbt's programmatic runner.

The connection reaches dbt only as TRACKER_DB_* environment variables read by profiles.yml, set
for the duration of the call, so no password appears in argv, in logs or in the profile. dbt is
imported inside the functions: importing it costs seconds and must never happen at DAG parse time.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from r71_tracker import database
from r71_tracker.config import settings

_FAILED_STATUSES = {"error", "fail", "runtime error"}
_MAX_MESSAGE_CHARS = 160


class DbtFailed(RuntimeError):
    """A dbt command failed; the message is one line naming the failing nodes."""


def dbt_env(url: str, role: str = database.TRANSFORMER_ROLE) -> dict[str, str]:
    """The environment profiles.yml reads, for the database named by `url`.

    dbt logs in as the URL's user and SETs ROLE `role` (profile key `role`), so every relation it
    creates in staging and marts belongs to tracker_transformer and no role password is needed.
    """
    parts = database.split_url(url)
    return {
        "TRACKER_DB_HOST": parts.host,
        "TRACKER_DB_PORT": str(parts.port),
        "TRACKER_DB_USER": parts.user,
        "TRACKER_DB_PASSWORD": parts.password,
        "TRACKER_DB_NAME": parts.dbname,
        "TRACKER_DB_ROLE": role,
        "DO_NOT_TRACK": "1",
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block and restore the previous values after it."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= _MAX_MESSAGE_CHARS else line[: _MAX_MESSAGE_CHARS - 3] + "..."


def _failure_message(command: str, result: Any) -> str:
    """One line: the dbt command and each failing node with the first words of its error."""
    if result.exception is not None:
        return f"dbt {command} failed: {_one_line(result.exception)}"
    node_results = getattr(result.result, "results", None) or []
    failures = [
        f"{item.node.unique_id} ({_one_line(item.message or item.status)})"
        for item in node_results
        if str(getattr(item.status, "value", item.status)).lower() in _FAILED_STATUSES
    ]
    if not failures:
        return f"dbt {command} failed (no failing node reported; see the dbt log)"
    return f"dbt {command} failed on {len(failures)} node(s): " + "; ".join(failures)


def run_dbt(args: list[str], url: str) -> None:
    """Run one dbt command against `url` with the project's dirs; raise DbtFailed on failure."""
    from dbt.cli.main import dbtRunner

    config = settings()
    target_dir = config.dbt_target_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    full_args = [
        *args,
        "--project-dir",
        str(config.dbt_project_dir),
        "--profiles-dir",
        str(config.dbt_project_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]
    with _environment(dbt_env(url)):
        result = dbtRunner().invoke(full_args)
    if not result.success:
        raise DbtFailed(_failure_message(args[0] if args else "", result))


def build(url: str, run_date: date | None, candidate: str | None = None) -> None:
    """`dbt build`: seeds, models, unit and data tests, judging `run_date` (latest report if None).

    With `candidate` (the pipeline's write-audit-publish builds) the models are written to that
    candidate schema and its work schema (`<candidate>__work`, which must hold the build's frozen
    `file_states`), never to `marts`; the snapshot is left out (it records publications and runs
    after one, `snapshot`). Without it, dbt writes `staging` and `marts` directly (tests, the
    dbt benchmark) from the live `raw.file_states`.

    Seeds are reloaded without --full-refresh: the registry CSV columns are a fixed interface, so
    dbt's truncate-and-insert keeps the tables (and the views depending on them) in place. The
    freshness limit goes along so the agency lateness mart and the quality gate judge alike.
    """
    dbt_vars = _run_vars(run_date)
    args = ["build"]
    if candidate is not None:
        dbt_vars |= {"candidate_schema": candidate, "file_states_schema": work_schema(candidate)}
        args += ["--exclude", "resource_type:snapshot"]
    run_dbt([*args, "--vars", json.dumps(dbt_vars)], url)


def snapshot(url: str, run_date: date | None) -> None:
    """`dbt snapshot` of the published marts: what this publication showed, kept as history."""
    run_dbt(["snapshot", "--vars", json.dumps(_run_vars(run_date))], url)


def work_schema(candidate: str) -> str:
    """Where a candidate's staging and intermediate models (and its frozen file list) live."""
    return f"{candidate}__work"


def _run_vars(run_date: date | None) -> dict[str, object]:
    dbt_vars: dict[str, object] = {"freshness_max_age_days": settings().freshness_max_age_days}
    if run_date is not None:
        dbt_vars["run_date"] = run_date.isoformat()
    return dbt_vars


def generate_docs(url: str, out_dir: Path) -> Path:
    """Build the dbt docs site as one self-contained page (opens from file://); return its path."""
    run_dbt(["docs", "generate", "--static"], url)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    shutil.copyfile(settings().dbt_target_dir / "static_index.html", page)
    return page
