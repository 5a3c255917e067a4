"""Run the tracker DAG once through Airflow's scheduler and wait for it.

`run_dag_once` starts (or reuses) the Airflow services of this home (airflow_services.py), waits
until the dag-processor has registered the DAG, unpauses it, triggers a manual run for the date
through the REST API, prints each task instance as it ends and returns how the run ended, with one
line per failed task taken from the task's own log (read back through the REST API).

Airflow keeps one run per logical date: a date that already has a finished run is cleared and
runs again (its tasks' earlier tries stay in the UI); a date whose run is queued or running is
waited for. `max_active_runs=1` makes a run of another date wait for the one running.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from r71_tracker.airflow_api import AirflowApi
from r71_tracker.airflow_env import DAG_ID
from r71_tracker.airflow_services import (
    Services,
    ServicesError,
    ensure_services,
    home_lock,
    prepare_airflow,
    running_services,
)
from r71_tracker.config import Settings, settings

__all__ = [
    "DagRunOutcome",
    "ServicesError",
    "prepare_airflow",
    "ready",
    "run_dag_once",
]

DAG_WAIT_S = 180.0
POLL_S = 1.0
_ENDED = ("success", "failed", "skipped", "upstream_failed", "up_for_retry")
_FAILURE_LINE = re.compile(
    r"(AirflowFailException|GateFailed|DbtFailed|RuntimeError): (.+)$", re.MULTILINE
)

Echo = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class DagRunOutcome:
    """How one run of the tracker DAG ended."""

    succeeded: bool
    run_date: str
    log_path: Path  # what `run_dag_once` printed, and the failed tasks' log lines
    failures: list[str]  # one line per failed task: its error from the task log
    run_id: str = ""
    url: str = ""  # the run in the Airflow UI
    advice: str = ""  # for a failed run: what to do next
    task_seconds: dict[str, float] = field(default_factory=dict)  # by task id (mapped: summed)


def _wait_for_dag(api: AirflowApi, dag_id: str) -> dict:
    deadline = time.monotonic() + DAG_WAIT_S
    while True:
        response = api.request("GET", f"/api/v2/dags/{dag_id}")
        if response.status_code == 200:
            return response.json()
        if time.monotonic() > deadline:
            errors = api.get("/api/v2/importErrors").get("import_errors", [])
            detail = "; ".join(
                f"{error['filename']}: {error['stack_trace'].strip().splitlines()[-1]}"
                for error in errors
            )
            raise ServicesError(
                f"the dag-processor did not register {dag_id} within {DAG_WAIT_S:.0f} s"
                + (f" (import errors: {detail})" if detail else "")
            )
        time.sleep(POLL_S)


def ready(
    config: Settings | None = None, echo: Echo | None = None, *, dag_id: str = DAG_ID
) -> Services:
    """The Airflow services of this home up, the DAG registered and unpaused."""
    config = config or settings()
    services = ensure_services(config, echo)
    with AirflowApi(services.api_url, config.airflow_home) as api:
        if _wait_for_dag(api, dag_id)["is_paused"]:
            # Harmless on the on-demand services (no scheduled runs); `make airflow` schedules it.
            api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    return services


def _run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def _trigger(
    api: AirflowApi, dag_id: str, logical: datetime, conf: dict | None = None
) -> tuple[dict, str]:
    """The run of `logical`: triggered, cleared to run again, or the one already in progress."""
    stamp = logical.isoformat()
    runs = api.get(
        f"/api/v2/dags/{dag_id}/dagRuns",
        params={"logical_date_gte": stamp, "logical_date_lte": stamp, "limit": 1},
    )["dag_runs"]
    if not runs:
        body = {"logical_date": stamp, "conf": conf or {}, "note": "tracker run"}
        return api.post(f"/api/v2/dags/{dag_id}/dagRuns", json=body), "triggered"
    run = runs[0]
    if run["state"] in ("queued", "running"):
        return run, f"already {run['state']}: following it"
    api.post(
        f"{_run_path(dag_id, run['dag_run_id'])}/clear",
        json={"dry_run": False, "only_failed": False, "run_on_latest_version": True},
    )
    cleared = api.get(_run_path(dag_id, run["dag_run_id"]))
    return cleared, f"{run['state']} before: cleared to run again"


def _task_instances(
    api: AirflowApi, dag_id: str, run_id: str, since: datetime | None = None
) -> list[dict]:
    """The run's task instances (mapped ones included), or those changed since `since`."""
    found: list[dict] = []
    changed = {"updated_at_gte": since.isoformat()} if since else {}
    while True:
        page = api.get(
            f"{_run_path(dag_id, run_id)}/taskInstances",
            params={"limit": 100, "offset": len(found), "order_by": "map_index", **changed},
        )
        found += page["task_instances"]
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found


def _label(ti: dict) -> str:
    if ti["map_index"] < 0:
        return ti["task_id"]
    name = Path(ti.get("rendered_map_index") or "").name
    return f"{ti['task_id']}[{ti['map_index']}]" + (f" {name}" if name else "")


def _seconds(ti: dict) -> float | None:
    if ti.get("duration") is not None:
        return float(ti["duration"])
    if ti.get("start_date") and ti.get("end_date"):
        start = datetime.fromisoformat(ti["start_date"])
        return (datetime.fromisoformat(ti["end_date"]) - start).total_seconds()
    return None


def _ended_line(ti: dict) -> str:
    seconds = _seconds(ti)
    took = f"{seconds:7.1f} s" if seconds is not None else "      -  "
    tried = f"  (try {ti['try_number']})" if ti["try_number"] > 1 else ""
    return f"  {_label(ti):<48} {ti['state']:<16}{took}{tried}"


def _follow(
    api: AirflowApi,
    dag_id: str,
    run_id: str,
    config: Settings,
    services: Services,
    say: Echo,
) -> tuple[dict, list[dict]]:
    """Poll the run until it ends; print each task instance once as it ends."""
    printed: set[tuple] = set()

    def show(tis: list[dict]) -> None:
        ended = [ti for ti in tis if ti["state"] in _ENDED]
        for ti in sorted(ended, key=lambda ti: ti.get("end_date") or "~"):  # no end: last
            key = (ti["task_id"], ti["map_index"], ti["try_number"], ti["state"])
            if key not in printed:
                printed.add(key)
                say(_ended_line(ti))

    began = time.monotonic()
    told_queued = False
    polls = 0
    changed_since = None  # after the first poll, only what changed (a light request)
    while True:
        polled_at = datetime.now(UTC)
        run = api.get(_run_path(dag_id, run_id))
        if run["state"] in ("success", "failed"):
            tis = _task_instances(api, dag_id, run_id)
            show(tis)
            return run, tis
        show(_task_instances(api, dag_id, run_id, changed_since))
        changed_since = polled_at - timedelta(seconds=10)
        if run["state"] == "queued" and not told_queued and time.monotonic() - began > 5:
            told_queued = True
            active = api.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"state": ["running"]})
            others = [r["dag_run_id"] for r in active["dag_runs"] if r["dag_run_id"] != run_id]
            if others:
                say(f"  queued behind {', '.join(others)} (max_active_runs=1)")
        polls += 1
        if services.kind == "on-demand" and polls % 5 == 0:
            if "scheduler" not in running_services(config):
                raise ServicesError(
                    f"the Airflow scheduler stopped during the run (log {services.log_dir}):"
                    " `tracker run` starts it again"
                )
        time.sleep(POLL_S)


def _log_text(content: list[Any]) -> str:
    lines = []
    for entry in content:
        if not isinstance(entry, dict):
            lines.append(str(entry))
            continue
        stamp = str(entry.get("timestamp") or "")[:23]
        lines.append(f"{stamp} {entry.get('level') or '':<7} {entry.get('event', '')}".strip())
        for detail in entry.get("error_detail") or []:
            lines.append(f"    {detail.get('exc_type')}: {detail.get('exc_value')}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error_lines(content: list[Any]) -> list[str]:
    """The task's exception(s), one line each, from its structured log (else from its text)."""
    found: list[str] = []
    for entry in content:
        for detail in (entry.get("error_detail") or []) if isinstance(entry, dict) else []:
            line = f"{detail.get('exc_type')}: {_one_line(detail.get('exc_value'))}"
            if line not in found:
                found.append(line)
    if not found:
        text = _log_text(content)
        found = list(
            dict.fromkeys(match.group(0).strip() for match in _FAILURE_LINE.finditer(text))
        )
    return found


def _task_log(api: AirflowApi, dag_id: str, run_id: str, ti: dict) -> list[Any]:
    response = api.request(
        "GET",
        f"{_run_path(dag_id, run_id)}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
        params={"map_index": ti["map_index"], "full_content": "true"},
        headers={"Accept": "application/json"},
    )
    return response.json().get("content", []) if response.status_code == 200 else []


_GATE_ADVICE = re.compile(r"the latest report loaded is (\S+): judge that date with `([^`]+)`")


def _advice(
    failed: list[dict], run_id: str, run_date: date | None, url: str, failures: list[str]
) -> str:
    again = (
        f"then `tracker run --date {run_date}` again (it re-runs that date)"
        if run_date
        else "then `tracker run` again"
    )
    if any(ti["task_id"] == "quality_gate" for ti in failed):
        stale = next((m for line in failures if (m := _GATE_ADVICE.search(line))), None)
        if stale is not None:  # judged a date long after the data: say which date succeeds
            return (
                "the quality gate stopped it and nothing was published (the last publication"
                f" stays): the data's latest report is {stale.group(1)}; `{stale.group(2)}`"
                f" judges that date (why: `tracker audit --run {run_id}`)"
            )
        return (
            "the quality gate stopped it and nothing was published (the last publication"
            f" stays): see why with `tracker audit --run {run_id}`, {again}"
        )
    if failed:
        names = ", ".join(sorted({_label(ti) for ti in failed}))
        return f"{names} failed: read its log in the UI ({url}), fix the cause, {again}"
    return f"no task failed (the run timed out or was marked failed): see the UI ({url})"


def run_dag_once(
    run_date: date | None,
    config: Settings | None = None,
    *,
    echo: Echo | None = None,
    dag_id: str = DAG_ID,
    conf: dict | None = None,
) -> DagRunOutcome:
    """One run of the tracker DAG for logical date `run_date` (default: now) through Airflow's
    scheduler; prints each task as it ends (to `echo`, default stdout) and waits for the end."""
    config = config or settings()
    logical = (
        datetime(run_date.year, run_date.month, run_date.day, tzinfo=UTC)
        if run_date
        else datetime.now(UTC)
    )
    label = logical.date().isoformat()
    log_path = config.airflow_home / "runs" / f"{dag_id}_{label}_{time.time_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:

        def say(line: str) -> None:
            (echo or _print)(line)
            log.write(line + "\n")
            log.flush()

        services = ready(config, say, dag_id=dag_id)
        with AirflowApi(services.api_url, config.airflow_home) as api:
            with home_lock(config.airflow_home, "trigger"):  # one decision per date at a time
                run, how = _trigger(api, dag_id, logical, conf)
            run_id = run["dag_run_id"]
            url = f"{services.ui_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
            say(f"DAG run {run_id} ({how}): {url}")
            try:
                run, tis = _follow(api, dag_id, run_id, config, services, say)
            except KeyboardInterrupt:
                say(f"stopped waiting; the run goes on in Airflow: {url}")
                raise
            failed = [ti for ti in tis if ti["state"] == "failed"]
            failures = []
            for ti in failed:
                content = _task_log(api, dag_id, run_id, ti)
                errors = _error_lines(content) or ["(no exception in its log)"]
                failures += [f"{_label(ti)}: {error}" for error in errors]
                log.write(f"\n--- log of {_label(ti)}, try {ti['try_number']} ---\n")
                log.write("\n".join(_log_text(content).splitlines()[-80:]) + "\n")
        took = ""
        if run.get("start_date") and run.get("end_date"):
            seconds = (
                datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])
            ).total_seconds()
            took = f" in {seconds:.1f} s"
        succeeded = run["state"] == "success"
        say(f"DAG run {run_id}: {run['state']}{took}")
        advice = "" if succeeded else _advice(failed, run_id, run_date, url, failures)
        if advice:
            log.write(f"\n{advice}\n")
    task_seconds: dict[str, float] = {}
    for ti in tis:  # what ran in this try (a cleared run keeps its earlier mapped instances)
        if ti["state"] in ("success", "failed"):
            seconds = _seconds(ti) or 0.0
            task_seconds[ti["task_id"]] = task_seconds.get(ti["task_id"], 0.0) + seconds
    return DagRunOutcome(succeeded, label, log_path, failures, run_id, url, advice, task_seconds)
