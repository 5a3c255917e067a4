"""`make bench` (daily-run part): the tracker's DAG against Airflow's floor, run the same way.

The floor is `floor_dag.py`: the same DAG shape with tasks that do nothing. Both DAGs run through
Airflow's scheduler as `tracker run` runs them (services started once, each run triggered through
the REST API and followed to its end), in turn, so that the ratios hold on a noisy machine. Each
figure is the median of REPEAT alternating runs, wall time from trigger to the end seen.

Scenarios and targets (issue 11):
- nothing new: the demo data loaded, the demo date run again ............. <= 1.5 x floor
- one new day: the demo data plus one new day of every agency's feeds ..... <= 2.0 x floor
- stress: two years of daily feeds of the registry, plus one new day ...... <= 3.0 x floor

Everything lives in databases `tracker_bench_daily*` (embedded server unless TRACKER_DATABASE_URL
is set) and under .local/bench_daily/ (its own Airflow home, DAG folder and ports).
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data  # noqa: E402
from floor_dag import FLOOR_DAG_ID  # noqa: E402

from r71_tracker import database, demo_feeds  # noqa: E402
from r71_tracker.airflow_env import DAG_ID  # noqa: E402
from r71_tracker.airflow_runs import DagRunOutcome, run_dag_once  # noqa: E402
from r71_tracker.airflow_services import stop_services  # noqa: E402
from r71_tracker.config import PROJECT_ROOT, settings  # noqa: E402
from r71_tracker.feeds.ingest import ingest_paths  # noqa: E402

REPEAT = 3
TARGETS = {"nothing new": 1.5, "one new day": 2.0, "stress, one new day": 3.0}
BENCH = "tracker_bench_daily"
DEMO_DATE = demo_feeds.LATEST_REPORT_DATE
TASK_ORDER = (
    "find_new_feed_files",
    "ingest_feed_file",
    "build_models",
    "quality_gate",
    "alert_late_feeds",
    "publish",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _deploy(root: Path, server: str, name: str) -> None:
    """Point this process (and the services it starts) at a deployment of its own."""
    shutil.rmtree(root, ignore_errors=True)
    dags = root / "dags"
    dags.mkdir(parents=True)
    (root / "landing").mkdir()
    for dag_file in (PROJECT_ROOT / "dags").glob("*.py"):
        shutil.copy2(dag_file, dags / dag_file.name)
    shutil.copy2(Path(__file__).with_name("floor_dag.py"), dags / "floor_dag.py")
    os.environ.update(
        {
            "TRACKER_DATABASE_URL": database.recreate_database(server, name),
            "TRACKER_AIRFLOW_DATABASE_URL": database.recreate_database(server, f"{name}_airflow"),
            "TRACKER_LANDING_DIR": str(root / "landing"),
            "TRACKER_PUBLISHED_DIR": str(root / "published"),
            "TRACKER_LOCAL_DIR": str(root / "local"),
            "TRACKER_DAGS_DIR": str(dags),
            "AIRFLOW__API__PORT": str(_free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        }
    )


def _executor_busy() -> list[str]:
    """The LocalExecutor workers running a workload now (a worker's title names its workload,
    `<idle>` when it has none)."""
    busy = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("airflow worker -- ") and "<idle>" not in title:
            busy.append(title)
    return busy


def _settle(timeout: float = 60.0) -> None:
    """Wait until the executor is idle: Airflow marks a run done while the processes of its last
    tasks are still exiting, and the next timed run must not pay for them."""
    deadline = time.monotonic() + timeout
    while _executor_busy() and time.monotonic() < deadline:
        time.sleep(0.2)


def _run(dag_id: str, run_date: date, conf: dict | None = None) -> tuple[float, DagRunOutcome]:
    _settle()
    start = time.perf_counter()
    outcome = run_dag_once(run_date, echo=lambda _line: None, dag_id=dag_id, conf=conf)
    took = time.perf_counter() - start
    if not outcome.succeeded:
        raise SystemExit(f"{dag_id} {run_date} failed: {outcome.failures} ({outcome.log_path})")
    return took, outcome


_floor_dates = (date(2020, 1, 1) + timedelta(days=day) for day in range(100_000))  # past dates


class Floor:
    """The floor DAG, run the way the tracker's run it mirrors is run: on a date of its own
    (a first run is triggered, a later run of the same date is cleared and runs again, as
    `tracker run` does), its ingest mapped over as many files as the tracker's run had new
    (`files` in a file the floor's first task reads, so a cleared run maps anew too)."""

    def __init__(self, folder: Path) -> None:
        self.count_file = folder / "floor_files"
        self.dates: dict[date, date] = {}  # the tracker's run date -> the floor's

    def run(self, tracker_date: date, files: int) -> float:
        self.count_file.write_text(str(files), encoding="utf-8")
        floor_date = self.dates.setdefault(tracker_date, next(_floor_dates))
        return _run(FLOOR_DAG_ID, floor_date, {"files_from": str(self.count_file)})[0]


def _redate(source: Path, target: Path, old: date, new: date) -> None:
    """A copy of a feed file with every `old` date written as `new` (a new day's report)."""
    opener: Callable = gzip.open if source.name.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8", newline="") as handle:
        text = handle.read().replace(old.isoformat(), new.isoformat())
    with opener(target, "wt", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _demo_new_day(landing: Path, day: date) -> int:
    """Every agency's latest demo status feed, reported again on `day`: the files written."""
    latest = sorted(landing.glob(f"*_{DEMO_DATE.isoformat()}.*"))
    for feed in latest:
        copy = landing / feed.name.replace(DEMO_DATE.isoformat(), day.isoformat())
        _redate(feed, copy, DEMO_DATE, day)
    return len(latest)


def _measure(label: str, floor: Floor, runs: list[tuple[date, Callable[[], int]]]) -> dict:
    """For each run: write its new files (`prepare` returns how many), then the floor over as
    many files and the tracker's run of that date, in turn. Medians, and the median tracker
    run's tasks."""
    floors, tracker, breakdowns = [], [], []
    for run_date, prepare in runs:
        files = prepare()
        floors.append(floor.run(run_date, files))
        took, outcome = _run(DAG_ID, run_date)
        tracker.append(took)
        breakdowns.append((took, outcome.task_seconds))
        print(
            f"  {label}: {run_date}, {files} new file(s): floor {floors[-1]:5.1f} s,"
            f" tracker {took:5.1f} s",
            flush=True,
        )
    median_run = sorted(breakdowns, key=lambda pair: pair[0])[len(breakdowns) // 2][1]
    return {
        "floor": statistics.median(floors),
        "tracker": statistics.median(tracker),
        "tasks": median_run,
    }


def _report(label: str, figures: dict) -> bool:
    ratio = figures["tracker"] / figures["floor"]
    target = TARGETS[label]
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"daily run, {label}: tracker {figures['tracker']:.1f} s vs floor {figures['floor']:.1f} s"
        f" = {ratio:.2f} x (target <= {target}) {verdict}"
    )
    tasks = figures["tasks"]
    print(
        "  tasks (median run; ingest summed over its mapped tasks): "
        + ", ".join(
            f"{name} {tasks[name]:.1f} s" if name in tasks else f"{name} skipped"
            for name in TASK_ORDER
        )
    )
    return ratio <= target


def main() -> int:
    server = database.tracker_url()
    root = settings().local_dir / "bench_daily"
    inputs = settings().local_dir / "bench_dbt"  # the two-year history dbt_bench.py also reads
    ok = True
    try:
        # Demo data: load and publish once, then nothing new, then one new day at a time.
        _deploy(root / "demo", server, BENCH)
        landing = settings().landing_dir
        feeds = demo_feeds.write_demo_feeds(landing)
        floor = Floor(root / "demo")
        print("demo data: first run (not timed) ...", flush=True)
        _run(DAG_ID, DEMO_DATE)
        floor.run(DEMO_DATE, len(feeds))
        nothing_new = _measure("nothing new", floor, [(DEMO_DATE, lambda: 0)] * REPEAT)
        days = [DEMO_DATE + timedelta(days=offset) for offset in range(1, REPEAT + 1)]
        new_day = _measure(
            "one new day",
            floor,
            [(day, lambda day=day: _demo_new_day(landing, day)) for day in days],
        )
        stop_services(settings())

        # Stress: two years of daily feeds of every agency, loaded, built once, then new days.
        _deploy(root / "stress", server, f"{BENCH}_stress")
        owners = bench_data.registry_owners()
        history, _next_day = bench_data.daily_history(inputs, owners)
        start = time.perf_counter()
        reports = ingest_paths(sorted(history.iterdir()), database.tracker_url(), progress=False)
        print(f"stress: loaded {len(reports):,} files in {time.perf_counter() - start:.0f} s")
        last = bench_data.LAST_DAY
        print("stress: first run (not timed) ...", flush=True)
        _run(DAG_ID, last)
        floor = Floor(root / "stress")
        floor.run(last, 0)
        landing = settings().landing_dir
        stress_days = [last + timedelta(days=offset) for offset in range(1, REPEAT + 1)]
        stress = _measure(
            "stress",
            floor,
            [
                (
                    day,
                    lambda day=day: bench_data.write_daily_feeds(
                        landing, owners, days=1, last_day=day
                    )[0],
                )
                for day in stress_days
            ],
        )
        stop_services(settings())
    except BaseException:
        stop_services(settings())
        raise
    ok &= _report("nothing new", nothing_new)
    ok &= _report("one new day", new_day)
    ok &= _report("stress, one new day", stress)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
