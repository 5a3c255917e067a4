"""The one way Python runs dbt: in-process through dbt's programmatic runner.

The connection reaches dbt only as TRACKER_DB_* environment variables read by profiles.yml, set
for the duration of the call, so no password appears in argv, in logs or in the profile. dbt is
imported inside the functions: importing it costs seconds and must never happen at DAG parse time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from r71_tracker import database
from r71_tracker.config import settings

# Every candidate is built under this name (then renamed back): see _built_under_fixed_name.
BUILD_SCHEMA = "build__candidate"
# The schemas dbt writes when it builds without a candidate (dbt_project.yml), as people read them.
PUBLISHED_MARTS, PUBLISHED_STAGING = "marts", "staging"
# A candidate's daily build runs the models and the data tests of the marts, which people read;
# the full build also loads the seeds (the registry: part of the project) and runs the unit tests
# (they judge the SQL, so they run whenever the project changed) and the data tests of the seeds,
# staging and intermediate models (the history behind the marts), on the run whose date is a
# Monday and whenever the project changed since the database's last full build.
DAILY_BUILD_EXCLUDES = (
    "resource_type:seed",
    "test_type:unit",
    "test_type:data,path:models/staging",
    "test_type:data,path:models/intermediate",
    "test_type:data,path:seeds",
    "test_type:data,path:tests/seeds",
)
FULL_BUILD_WEEKDAY = 0  # Monday
_FAILED_STATUSES = {"error", "fail", "runtime error"}
_MAX_MESSAGE_CHARS = 160
_DATABASE_ERROR_PREFIX = re.compile(r"^Database Error in \w+ \S+ \([^)]*\) ")


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
    # dbt opens a database error with "Database Error in model <name> (<path>)": the node is
    # named already, and the database's own words (the broken constraint) must fit the line
    line = _DATABASE_ERROR_PREFIX.sub("", " ".join(str(text).split()))
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


def run_dbt(
    args: list[str], url: str, *, run_date: date | None = None, target_dir: Path | None = None
) -> None:
    """Run one dbt command against `url` with the project's dirs; raise DbtFailed on failure.

    `run_date` reaches the models as TRACKER_RUN_DATE (unset: the environment's, normally none,
    which judges the latest report loaded). It is an environment variable rather than a dbt var
    because dbt re-parses the whole project whenever its vars change, and only the files that
    read an environment variable when its value changes: keeping the vars of a target dir the
    same from run to run keeps dbt's partial parsing.
    """
    from dbt.cli.main import dbtRunner

    config = settings()
    target_dir = target_dir or config.dbt_target_dir
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
    environment = dbt_env(url)
    if run_date is not None:
        environment["TRACKER_RUN_DATE"] = run_date.isoformat()
    with _environment(environment):
        result = dbtRunner().invoke(full_args)
    if not result.success:
        raise DbtFailed(_failure_message(args[0] if args else "", result))


def build(
    url: str, run_date: date | None, candidate: str | None = None, *, full: bool | None = None
) -> bool:
    """`dbt build`: seeds, models, unit and data tests, judging `run_date` (latest report if None).

    With `candidate` (the pipeline's write-audit-publish builds) the models are written to that
    candidate schema and its work schema (`<candidate>__work`, which must hold the build's frozen
    `file_states`), never to `marts`; the snapshot is left out (it records publications and runs
    after one, `snapshot`). A candidate's build is the daily one (DAILY_BUILD_EXCLUDES) unless
    `full`, or, when `full` is None, unless a full build is due (`full_build_due`). Without a
    candidate, dbt writes `staging` and `marts` directly (tests, the dbt benchmark) from the live
    `raw.file_states`, always in full. Returns whether the build was full.

    Seeds are reloaded without --full-refresh: dbt's truncate-and-insert keeps the tables (and the
    views depending on them) in place. A seed whose CSV columns are no longer its table's (a
    release added a column to a rules seed) is first reloaded alone with --full-refresh, which
    drops the views on it; the build creates them again. The
    freshness limit goes along so the agency lateness mart and the quality gate judge alike.
    """
    reshaped = seeds_with_other_columns(url)
    if reshaped:  # a release added or renamed a rule's column: truncate-and-insert cannot load it
        args = ["seed", "--full-refresh", "--select", *reshaped, "--vars", json.dumps(dbt_vars())]
        run_dbt(args, url, run_date=run_date)
    if candidate is None:
        with _lineage_of_build(settings().dbt_target_dir, url, {}):
            run_dbt(["build", "--vars", json.dumps(dbt_vars())], url, run_date=run_date)
        return True
    target_dir = settings().dbt_target_dir / "candidates"
    parts = database.split_url(url)  # the stamp is this project's full build of this database
    project = project_digest(f"{parts.host}:{parts.port}/{parts.dbname}")
    if full is None:
        full = full_build_due(run_date, target_dir, project)
    build_vars = dbt_vars() | {
        "candidate_schema": BUILD_SCHEMA,
        "file_states_schema": work_schema(BUILD_SCHEMA),
    }
    excluded = ["resource_type:snapshot", *([] if full else DAILY_BUILD_EXCLUDES)]
    args = ["build", "--exclude", *excluded, "--vars", json.dumps(build_vars)]
    schemas = {
        BUILD_SCHEMA: (PUBLISHED_MARTS, candidate),
        work_schema(BUILD_SCHEMA): (PUBLISHED_STAGING, work_schema(candidate)),
    }
    with _built_under_fixed_name(url, candidate), _lineage_of_build(target_dir, url, schemas):
        run_dbt(args, url, run_date=run_date, target_dir=target_dir)
    if full:
        (target_dir / _FULL_BUILD_STAMP).write_text(project, encoding="utf-8")
    return full


@contextmanager
def _lineage_of_build(
    target_dir: Path, url: str, schemas: Mapping[str, tuple[str, str]]
) -> Iterator[None]:
    """After a build, failed or not, its models' lineage from its artifacts (r71_tracker.lineage:
    nothing outside an Airflow task); `schemas`: each build schema's published and own names."""
    from r71_tracker import lineage

    run_results = target_dir / "run_results.json"
    before = run_results.stat().st_mtime_ns if run_results.exists() else None
    try:
        yield
    finally:
        if run_results.exists() and run_results.stat().st_mtime_ns != before:
            lineage.emit_dbt_build(target_dir, url, schemas)


def seeds_with_other_columns(url: str) -> list[str]:
    """The seeds whose CSV header differs from the columns of their table in this database (a
    seed not loaded yet is not listed: dbt creates it)."""
    reshaped = []
    with psycopg.connect(url) as conn:
        for path in sorted(settings().seeds_dir.glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as seed:
                header = next(csv.reader(seed), [])
            columns = [
                row[0]
                for row in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'staging' and table_name = %s order by ordinal_position",
                    (path.stem,),
                )
            ]
            if columns and columns != header:
                reshaped.append(path.stem)
    return reshaped


_FULL_BUILD_STAMP = "full-build-project.sha256"


def full_build_due(run_date: date | None, target_dir: Path, project: str) -> bool:
    """A candidate's full build is due on a Monday's run and when the project (models, tests,
    seeds, macros, settings) changed since the last full build of this database."""
    if run_date is not None and run_date.weekday() == FULL_BUILD_WEEKDAY:
        return True
    stamp = target_dir / _FULL_BUILD_STAMP
    return not stamp.is_file() or stamp.read_text(encoding="utf-8") != project


def project_digest(salt: str = "") -> str:
    """A hash of the dbt project's own files (what a build runs), not of its outputs."""
    root = settings().dbt_project_dir
    digest = hashlib.sha256(salt.encode("utf-8"))
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in ("target", "logs", "dbt_packages") or not path.is_file():
            continue
        digest.update(f"{relative.as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def _built_under_fixed_name(url: str, candidate: str) -> Iterator[None]:
    """The candidate's schemas renamed to BUILD_SCHEMA (and its work schema) for a build.

    Every candidate has a name of its own, but dbt writes the schema of every model into its
    parsed project: building each one under the same name keeps dbt's vars, and so its partial
    parsing, the same from run to run. The caller holds the warehouse lock, so a schema already
    under the fixed name is what a killed build left behind and is dropped.
    """
    names = [(candidate, BUILD_SCHEMA), (work_schema(candidate), work_schema(BUILD_SCHEMA))]
    with psycopg.connect(url, autocommit=True) as conn:
        for _own, fixed in names:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(fixed)))
        _rename(conn, names)
        try:
            yield
        finally:
            _rename(conn, [(fixed, own) for own, fixed in names])


def _rename(conn: psycopg.Connection, names: list[tuple[str, str]]) -> None:
    with conn.transaction():
        for old, new in names:
            conn.execute(
                sql.SQL("alter schema {} rename to {}").format(
                    sql.Identifier(old), sql.Identifier(new)
                )
            )


def snapshot(url: str, run_date: date | None) -> None:
    """`dbt snapshot` of the published marts: what this publication showed, kept as history.

    Without dbt's JSON artifacts: writing the manifest and run results cost the publish task
    about a second, and nothing reads them.
    """
    run_dbt(
        ["snapshot", "--no-write-json", "--vars", json.dumps(dbt_vars())], url, run_date=run_date
    )


def work_schema(candidate: str) -> str:
    """Where a candidate's staging and intermediate models (and its frozen file list) live."""
    return f"{candidate}__work"


def dbt_vars() -> dict[str, object]:
    """dbt vars of every command: the same from run to run (see `run_dbt`)."""
    return {"freshness_max_age_days": settings().freshness_max_age_days}


def generate_docs(url: str, out_dir: Path, *, only_if_project_changed: bool = False) -> Path:
    """Build the dbt docs site as one self-contained page (opens from file://); return its path.

    With `only_if_project_changed` (a publication) the page is kept when the dbt project's files
    and dbt's version are those it was generated from: the docs describe the models and their
    lineage, not the day's rows, and generating them costs a parse and a catalog query of every
    relation.
    """
    from dbt.version import __version__ as dbt_version

    config = settings()
    page, stamp = out_dir / "index.html", out_dir / ".project-sha256"
    project = project_digest(f"dbt {dbt_version}, {_DOCS_FIX}")
    if only_if_project_changed and page.is_file() and stamp.is_file():
        if stamp.read_text(encoding="utf-8") == project:
            return page
    run_dbt(["docs", "generate", "--static", "--vars", json.dumps(dbt_vars())], url)
    out_dir.mkdir(parents=True, exist_ok=True)
    site = (config.dbt_target_dir / "static_index.html").read_text(encoding="utf-8")
    page.write_text(site.replace(*_DOCS_FIX), encoding="utf-8")
    stamp.write_text(project, encoding="utf-8")
    return page


# dbt-docs' menu template sets its icons with `xlink:href="{{ getIcon(...) }}"`: the browser
# requests that text as a URL before AngularJS fills it in (two 404s in the console of every
# page). AngularJS's own way, ng-attr-, sets the attribute only once it is filled in.
_DOCS_FIX = ('xlink:href="{{', 'ng-attr-xlink:href="{{')
