"""`kill -9` during `tracker ingest`, then a rerun: one clean ingest's state, never half a file.

Black-box: the command runs as a separate process and is killed with SIGKILL at several points (just
after start, while a COPY is running, after some files are committed, after fixed delays). Right
after the kill no partially loaded file may be visible; after a rerun the raw tables must hold
exactly what one clean ingest into a fresh database holds (compared by sha256, not by file id, since
ids consumed by killed transactions are gone).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import FEED_HEADER, databases_by_agency, fresh_database, raw_state
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.integration

TRACKER = Path(sys.executable).parent / "tracker"
LARGE_ROWS = 200_000
MANY_FILES, ROWS_PER_FILE = 150, 200


def history_csv(agency: str, databases: list[str], rows: int, start: date, tag: str) -> str:
    """A valid history export; every 997th row says 'Operational' (bad_enum) so quarantine runs."""
    platforms = ("operational", "building", "not_started")
    lines = [FEED_HEADER]
    for n in range(rows):
        day = start + timedelta(days=n // len(databases))
        platform = "Operational" if n % 997 == 996 else platforms[n % 3]
        data = "none" if platform == "not_started" else ("centralized", "partial")[n % 2]
        records = 0 if data == "none" else 1000 + n * 7
        lines.append(
            f"{day},{agency},{databases[n % len(databases)]},{platform},{data},"
            f"{('true', 'false')[n % 2]},{('yes', 'no')[n % 5 == 0]},{records},{records // 10},"
            f"{n % 9},Báo cáo {tag} dòng {n}: đã đồng bộ dữ liệu"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def feeds(tmp_path_factory) -> dict[str, list[Path]]:
    """One large history export (200k rows) and a folder of many small daily files."""
    folder = tmp_path_factory.mktemp("crash_feeds")
    owned = databases_by_agency()
    large = folder / "moc_history_200k.csv"
    large.write_text(
        history_csv("MOC", owned["MOC"], LARGE_ROWS, date(1980, 1, 1), "MOC"), encoding="utf-8"
    )
    many = folder / "many"
    many.mkdir()
    agencies = sorted(agency for agency, codes in owned.items() if len(codes) >= 4)
    for k in range(MANY_FILES):
        agency = agencies[k % len(agencies)]
        start = date(2024, 1, 1) + timedelta(days=k)
        text = history_csv(agency, owned[agency], ROWS_PER_FILE, start, f"{agency}-{k}")
        (many / f"{agency.lower()}_{k:03d}.csv").write_text(text, encoding="utf-8")
    return {"large": [large], "many": [many]}


def run_env(url: str) -> dict[str, str]:
    environment = {**os.environ, "TRACKER_DATABASE_URL": url}
    environment.pop("TRACKER_DEBUG", None)
    return environment


def ingest(url: str, paths: list[Path]) -> subprocess.CompletedProcess:
    args = [str(TRACKER), "ingest", *map(str, paths)]
    return subprocess.run(
        args, capture_output=True, text=True, env=run_env(url), timeout=120, check=False
    )


def partially_loaded_files(url: str) -> list[tuple]:
    """Visible files whose stored rows do not match their counts (must always be empty)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select f.original_name, f.rows_received, f.rows_loaded, f.rows_rejected, s.n, r.n"
            " from raw.feed_files f"
            " cross join lateral (select count(*) as n from raw.status_reports"
            "                     where file_id = f.file_id) s"
            " cross join lateral (select count(*) as n from raw.rejected_rows"
            "                     where file_id = f.file_id) r"
            " where f.rows_loaded <> s.n or f.rows_rejected <> r.n"
            "  or f.rows_received <> f.rows_loaded + f.rows_rejected"
        ).fetchall()


@pytest.fixture(scope="module")
def reference(server_url, tracker_db_url, feeds):
    """The state one clean ingest leaves in a fresh database, per feed set."""
    name = f"{conninfo_to_dict(tracker_db_url)['dbname']}_crashref"
    url = fresh_database(server_url, name)
    states = {}
    for kind, paths in feeds.items():
        done = ingest(url, paths)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        states[kind] = raw_state(url)
        with psycopg.connect(url) as conn:
            conn.execute(
                "truncate raw.status_reports, raw.field_reports, raw.rejected_rows, raw.feed_files"
            )
    yield states
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def active_copy(conn: psycopg.Connection) -> bool:
    return conn.execute(
        "select exists (select from pg_stat_activity where datname = current_database()"
        " and pid <> pg_backend_pid() and state = 'active' and query ilike '%copy%')"
    ).fetchone()[0]


def files_committed(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from raw.feed_files").fetchone()[0]


def wait_for_other_sessions_to_end(conn: psycopg.Connection, seconds: float = 20) -> None:
    """The killed client's server session ends by itself (it rolls back); wait for that."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        others = conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and pid <> pg_backend_pid() and backend_type = 'client backend'"
        ).fetchone()[0]
        if others == 0:
            return
        time.sleep(0.05)


SCENARIOS = {
    # name: (feed set, kill point, the kill must land while ingest is still running)
    "large-during-copy": ("large", ("copy", None), True),
    "large-2s": ("large", ("delay", 2.0), False),
    "many-0.3s": ("many", ("delay", 0.3), True),
    "many-after-3-files": ("many", ("committed", 3), True),
    "many-1s": ("many", ("delay", 1.0), False),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kill_9_then_rerun_equals_one_clean_ingest(
    tracker_env, clean_raw, feeds, reference, scenario
):
    kind, (point, value), must_interrupt = SCENARIOS[scenario]
    paths = feeds[kind]
    process = subprocess.Popen(
        [str(TRACKER), "ingest", *map(str, paths)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=run_env(clean_raw),
    )
    started = time.monotonic()
    with psycopg.connect(clean_raw, autocommit=True) as watcher:
        while process.poll() is None and time.monotonic() - started < 60:
            if point == "delay" and time.monotonic() - started >= value:
                break
            if point == "copy" and active_copy(watcher):
                break
            if point == "committed" and files_committed(watcher) >= value:
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if must_interrupt:
            assert process.returncode == -signal.SIGKILL, (
                f"ingest ended (exit {process.returncode}) before the kill point {point}"
            )
        # Before any rerun: whatever is visible is whole files only.
        assert partially_loaded_files(clean_raw) == []
        wait_for_other_sessions_to_end(watcher)
        assert partially_loaded_files(clean_raw) == []

    rerun = ingest(clean_raw, paths)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "Traceback" not in rerun.stdout + rerun.stderr
    assert raw_state(clean_raw) == reference[kind]
