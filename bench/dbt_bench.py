"""`make bench` (dbt part): the incremental daily build against a no-op build of the same project.

Two years of daily feeds for the registry's 105 databases (one file per agency per day) are
loaded and built once (a full refresh, timed); then the same project is built again with nothing
new (the no-op build) and, after one more day of feeds, for that day (the incremental build).
Target (issue 4): incremental <= 1.3 x no-op. Each build is `tracker build`'s dbt build (seeds,
snapshot, models, unit and data tests) in this process; the median of three runs is reported.

Everything lives in database `tracker_bench_dbt` (TRACKER_BENCH_DBT_DATABASE; embedded server
unless TRACKER_DATABASE_URL is set) and under .local/bench_dbt/ (inputs generated once).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data  # noqa: E402

from r71_tracker import database  # noqa: E402
from r71_tracker.config import settings  # noqa: E402
from r71_tracker.feeds.ingest import ingest_paths  # noqa: E402

BENCH_DATABASE = "tracker_bench_dbt"
TARGET_RATIO = 1.3
REPEAT = 3


def _timed_build(url: str, run_date) -> float:
    from r71_tracker import transform  # dbt is imported where it is used

    start = time.perf_counter()
    transform.build(url, run_date)
    return time.perf_counter() - start


def main() -> int:
    inputs = settings().local_dir / "bench_dbt"
    history, next_day = bench_data.daily_history(inputs, bench_data.registry_owners())
    last_day = bench_data.LAST_DAY
    name = os.environ.get("TRACKER_BENCH_DBT_DATABASE", BENCH_DATABASE)
    server = database.tracker_url()
    url = database.recreate_database(server, name)
    os.environ["TRACKER_DATABASE_URL"] = url
    files = sorted(history.iterdir())
    start = time.perf_counter()
    reports = ingest_paths(files, url, progress=False)
    rows = sum(report.rows_loaded for report in reports)
    print(f"loaded {len(files):,} files, {rows:,} rows in {time.perf_counter() - start:.1f} s")
    full = _timed_build(url, last_day)
    noop = [_timed_build(url, last_day) for _ in range(REPEAT)]
    ingest_paths(sorted(next_day.iterdir()), url, progress=False)
    incremental = [_timed_build(url, last_day + timedelta(1)) for _ in range(REPEAT)]
    base, daily = statistics.median(noop), statistics.median(incremental)
    ratio = daily / base
    print(
        f"dbt build, 2 years of daily history (105 databases): full refresh {full:.1f} s"
        f" | no-op {base:.1f} s | one more day {daily:.1f} s"
        f" | ratio {ratio:.2f} ({'OK' if ratio <= TARGET_RATIO else 'OVER'}, <= {TARGET_RATIO})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
