"""Prepare Airflow's metadata database and run the tracker DAG once through Airflow's own runner."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path

import psycopg

from r71_tracker import database
from r71_tracker.airflow_env import DAG_ID, airflow_command, airflow_environment
from r71_tracker.config import Settings, settings


def _schema_version(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('public.alembic_version')").fetchone()[0]
        if exists is None:
            return None
        row = conn.execute("select version_num from alembic_version").fetchone()
        return row[0] if row else None


def _dag_registered(url: str) -> bool:
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('public.dag')").fetchone()[0] is None:
            return False
        row = conn.execute("select 1 from dag where dag_id = %s", (DAG_ID,)).fetchone()
        return row is not None


def register_dag(config: Settings | None = None) -> None:
    """Serialise the DAG into the metadata database once, before any run.

    Two `airflow dags test` processes that both find the DAG unregistered insert it at once and
    one fails on the primary key; registering first lets runs of the same date overlap safely.
    """
    config = config or settings()
    if _dag_registered(database.airflow_url(config)):
        return
    env = airflow_environment(config)
    done = airflow_command(["dags", "reserialize"], env, capture_output=True, text=True)
    if done.returncode != 0 or not _dag_registered(database.airflow_url(config)):
        raise RuntimeError(f"could not register DAG {DAG_ID}:\n{done.stderr[-2000:]}")


def prepare_airflow(config: Settings | None = None) -> bool:
    """Migrate Airflow's metadata database unless already done; True when it ran.

    `airflow db migrate` costs about 5 s even when there is nothing to do, so a stamp records the
    schema revision this Airflow version left; it only counts while the database still has it.
    """
    config = config or settings()
    env = airflow_environment(config)
    stamp = config.airflow_home / "migrated"
    revision = _schema_version(database.airflow_url(config))
    expected = f"{metadata.version('apache-airflow')} {revision}"
    if revision is not None and stamp.exists() and stamp.read_text().strip() == expected:
        return False
    config.airflow_home.mkdir(parents=True, exist_ok=True)
    done = airflow_command(["db", "migrate"], env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stderr[-2000:]}")
    version = _schema_version(database.airflow_url(config))
    stamp.write_text(f"{metadata.version('apache-airflow')} {version}\n")
    return True


@dataclass(frozen=True)
class DagRunOutcome:
    """How one run of the tracker DAG ended."""

    succeeded: bool
    run_date: str
    log_path: Path
    failures: list[str]


_FAILURE_LINE = re.compile(r"(AirflowFailException|GateFailed|DbtFailed): (.+)$", re.MULTILINE)


def run_dag_once(run_date: date | None, config: Settings | None = None) -> DagRunOutcome:
    """`airflow dags test` of the tracker DAG for `run_date` (its logical date); log kept."""
    config = config or settings()
    prepare_airflow(config)
    register_dag(config)
    env = airflow_environment(config)
    label = run_date.isoformat() if run_date else "now"
    # One log per invocation: runs of the same date may overlap.
    log_path = config.airflow_home / "runs" / f"{DAG_ID}_{label}_{time.time_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    args = ["dags", "test", DAG_ID] + ([run_date.isoformat()] if run_date else [])
    with log_path.open("w", encoding="utf-8") as log:
        done = airflow_command(args, env, stdout=log, stderr=subprocess.STDOUT)
    text = log_path.read_text("utf-8", errors="replace")
    failures = sorted({match.group(0).strip() for match in _FAILURE_LINE.finditer(text)})
    succeeded = done.returncode == 0 and "state=success" in text.split("DagRun Finished")[-1]
    return DagRunOutcome(succeeded, label, log_path, [] if succeeded else failures)
