"""Concurrent `tracker ingest` processes and duplicate deliveries end as one sequential run.

Black-box: the command runs as separate processes on overlapping file sets, including the same
bytes under other names. Whatever order they race in, each sha256 is recorded once, its rows once,
every process exits 0, and every delivery but one of the same bytes is reported `duplicate`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import FEED_HEADER, databases_by_agency, fresh_database, raw_state
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.integration

TRACKER = Path(sys.executable).parent / "tracker"
FILES, ROWS_PER_FILE, PROCESSES, WINDOW, STEP = 40, 30, 4, 19, 7
RESENT = (0, 7, 14, 21, 28, 35)  # these files are also delivered again under another name


def daily_feed(agency: str, databases: list[str], start: date, k: int) -> str:
    """A small valid history file; every 11th row is quarantined (bad_boolean)."""
    lines = [FEED_HEADER]
    for n in range(ROWS_PER_FILE):
        day = start + timedelta(days=n // len(databases))
        flag = "perhaps" if n % 11 == 10 else ("true", "false")[n % 2]
        lines.append(
            f"{day},{agency},{databases[n % len(databases)]},building,partial,{flag},false,"
            f"{5000 + n},{n},{n % 4},Tệp {k} dòng {n}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory) -> list[Path]:
    """40 feed files from several agencies, then 6 of them again under other names."""
    folder = tmp_path_factory.mktemp("concurrent_feeds")
    owned = databases_by_agency()
    agencies = sorted(agency for agency, codes in owned.items() if len(codes) >= 3)
    files = []
    for k in range(FILES):
        agency = agencies[k % len(agencies)]
        path = folder / f"{agency.lower()}_{k:02d}.csv"
        path.write_text(
            daily_feed(agency, owned[agency], date(2025, 1, 1) + timedelta(days=3 * k), k),
            encoding="utf-8",
        )
        files.append(path)
    for k in RESENT:
        copy = folder / f"resent_{k:02d}_{files[k].name}"
        copy.write_bytes(files[k].read_bytes())
        files.append(copy)
    return files


def run_env(url: str) -> dict[str, str]:
    environment = {**os.environ, "TRACKER_DATABASE_URL": url}
    environment.pop("TRACKER_DEBUG", None)
    return environment


def ingest(url: str, paths: list[Path], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TRACKER), "ingest", *map(str, paths), *extra],
        capture_output=True,
        text=True,
        env=run_env(url),
        timeout=120,
        check=False,
    )


def names_by_sha(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select sha256, original_name from raw.feed_files").fetchall())


@pytest.fixture(scope="module")
def sequential_state(server_url, tracker_db_url, deliveries):
    """The state of one sequential run of every delivery, in a database of its own."""
    name = f"{conninfo_to_dict(tracker_db_url)['dbname']}_concref"
    url = fresh_database(server_url, name)
    done = ingest(url, deliveries)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    yield raw_state(url, names=False)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.mark.parametrize("min_bytes", ["1048576", "0"], ids=["small-files", "large-file-path"])
def test_four_concurrent_ingests_on_overlapping_sets_equal_one_sequential_run(
    tracker_env, clean_raw, deliveries, sequential_state, min_bytes
):
    """Small files (one statement each, pipelined) and the large-file path (Arrow, digest
    checked last under the lock) both end like one sequential run."""
    originals, copies = deliveries[:FILES], deliveries[FILES:]
    work = []
    for i in range(PROCESSES):
        paths = originals[i * STEP : i * STEP + WINDOW] + copies[i::PROCESSES]
        paths += [originals[FILES // 2]]  # one file every process delivers
        work.append(paths[::-1] if i % 2 else paths)  # opposite ends meet in the middle
    assert set().union(*work) == set(deliveries)
    processes = [
        subprocess.Popen(
            [str(TRACKER), "ingest", "--json", *map(str, paths)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**run_env(clean_raw), "TRACKER_SET_BASED_MIN_BYTES": min_bytes},
        )
        for paths in work
    ]
    results = [process.communicate(timeout=120) for process in processes]

    outcomes: dict[str, list[str]] = defaultdict(list)
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err[-2000:]
        assert "Traceback" not in out + err
        for report in json.loads(out)["files"]:
            outcomes[report["sha256"]].append(report["outcome"])
    assert len(outcomes) == FILES
    for sha, seen in outcomes.items():
        assert (seen.count("loaded"), seen.count("duplicate")) == (1, len(seen) - 1), (sha, seen)
    assert sum(len(seen) for seen in outcomes.values()) == sum(len(paths) for paths in work)

    assert raw_state(clean_raw, names=False) == sequential_state
    names = defaultdict(set)
    for path in deliveries:
        names[_sha(path)].add(path.name)
    assert all(name in names[sha] for sha, name in names_by_sha(clean_raw).items())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _full_state(url: str) -> tuple:
    """Everything, ids and times included: a duplicate delivery must not change a thing."""
    with psycopg.connect(url) as conn:
        return (
            conn.execute(
                "select file_id, sha256, original_name, received_at, file_status,"
                " rows_received, rows_loaded, rows_rejected from raw.feed_files order by file_id"
            ).fetchall(),
            conn.execute(
                "select file_id, line_number, notes from raw.status_reports order by 1, 2"
            ).fetchall(),
            conn.execute(
                "select file_id, line_number, reason_code from raw.rejected_rows order by 1, 2"
            ).fetchall(),
        )


def test_same_bytes_under_another_name_is_a_duplicate_and_changes_nothing(
    tracker_env, clean_raw, deliveries, tmp_path
):
    first = deliveries[3]
    loaded = ingest(clean_raw, [first])
    assert loaded.returncode == 0, loaded.stderr
    before = _full_state(clean_raw)
    assert len(before[0]) == 1 and before[1]

    renamed = tmp_path / "moj_resent_after_lunch.csv"
    renamed.write_bytes(first.read_bytes())
    again = ingest(clean_raw, [renamed, first], "--json")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    reports = json.loads(again.stdout)["files"]
    assert [(r["original_name"], r["outcome"]) for r in reports] == [
        (renamed.name, "duplicate"),
        (first.name, "duplicate"),
    ]
    assert first.name in reports[0]["message"]  # points to the file already received
    assert _full_state(clean_raw) == before

    text = ingest(clean_raw, [renamed])
    assert text.returncode == 0 and "duplicate" in text.stdout and first.name in text.stdout
    assert _full_state(clean_raw) == before
