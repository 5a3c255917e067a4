"""`make bench`: `tracker ingest` against the physical limit (raw COPY), same server, same run.

Cases (issue 3): a 1,000,000-row CSV history export against a 10,000-database stress registry;
two years of daily feeds from every agency (about 15,000 small files) in one call; a 100,000-row
JSON export; the history export gzip-compressed. Each ingest runs as `tracker ingest` in a
subprocess (interpreter start included) so its peak RSS is its own (os.wait4). Baselines run in
this process: one raw `COPY ... FROM STDIN` into a bare table with the feed's columns and types
(for many files: one COPY and one commit per file, on one connection).

Everything lives in database `tracker_bench` (TRACKER_BENCH_DATABASE; embedded server unless
TRACKER_DATABASE_URL is set) and under .local/bench/ (inputs are generated once and reused).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data  # noqa: E402

from r71_tracker import database  # noqa: E402
from r71_tracker.config import settings  # noqa: E402

BENCH_DATABASE = "tracker_bench"
TARGET_RATIO = 2.0
TARGET_RSS_MB = 300
CHUNK = 1024 * 1024
BARE_COLUMNS = """
    report_date date, agency_code text, database_code text, platform_status text,
    data_status text, process_integrated boolean, connected_national boolean,
    record_count bigint, records_updated_30d bigint, consumer_agencies integer, notes text
"""


@dataclass
class Inputs:
    seeds: Path
    history_csv: Path
    history_gz: Path
    history_json: Path
    daily: Path
    history_rows: int
    json_rows: int
    daily_files: int
    daily_rows: int


def prepare_inputs(root: Path) -> Inputs:
    """Generate the inputs once (a stamp records what was generated)."""
    stamp = root / "inputs.stamp"
    signature = (
        f"{bench_data.STRESS_DATABASES} {bench_data.HISTORY_DATES} {bench_data.JSON_ROWS}"
        f" {bench_data.DAILY_DAYS} {bench_data.DAILY_ROWS_MAX}"
    )
    inputs = Inputs(
        seeds=root / "seeds",
        history_csv=root / "history_1m.csv",
        history_gz=root / "history_1m.csv.gz",
        history_json=root / "history_100k.json",
        daily=root / "daily",
        history_rows=bench_data.STRESS_DATABASES * bench_data.HISTORY_DATES,
        json_rows=bench_data.JSON_ROWS,
        daily_files=0,
        daily_rows=0,
    )
    fresh = stamp.is_file() and stamp.read_text().split("\n")[0] == signature
    if not fresh:
        root.mkdir(parents=True, exist_ok=True)
        print(f"generating inputs under {root} (once) ...", flush=True)
        owners = bench_data.write_registry(inputs.seeds)
        bench_data.write_history_csv(inputs.history_csv)
        bench_data.write_gzip_copy(inputs.history_csv, inputs.history_gz)
        bench_data.write_history_json(inputs.history_json)
        files, rows = bench_data.write_daily_feeds(inputs.daily, owners)
        stamp.write_text(f"{signature}\n{files} {rows}\n")
    files, rows = stamp.read_text().split("\n")[1].split()
    inputs.daily_files, inputs.daily_rows = int(files), int(rows)
    return inputs


def reset_tables(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate raw.status_reports, raw.rejected_rows, raw.feed_files, raw.feed_file_chunks"
        )
        conn.execute("drop table if exists public.bench_bare")
        conn.execute(f"create table public.bench_bare ({BARE_COLUMNS})")
    # Every measured run starts after a checkpoint, so none pays for the previous run's WAL.
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("checkpoint")
        except psycopg.errors.InsufficientPrivilege:
            pass


def _copy_body(copy: psycopg.Copy, chunks) -> None:
    first = True
    for chunk in chunks:
        if first:
            chunk = chunk[chunk.index(b"\n") + 1 :]  # the header row
            first = False
        copy.write(chunk)


def _file_chunks(path: Path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def raw_copy(url: str, paths: list[Path]) -> float:
    """Seconds for one raw COPY (and one commit) per file into the bare table, one connection."""
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for path in paths:
            with conn.cursor().copy("copy public.bench_bare from stdin (format csv)") as copy:
                _copy_body(copy, _file_chunks(path))
            conn.commit()
        return time.perf_counter() - start


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    exit_code: int
    tail: str


# A process's peak RSS as Linux counts it starts at its parent's RSS when it was forked (the
# copied pages count until exec), so the benchmark, which holds its inputs, would lend its own to
# every `tracker ingest`. A small wrapper forks the ingest and reports that child's peak alone.
_PEAK_RSS_WRAPPER = (
    "import os, subprocess, sys;"
    " child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL);"
    " _, status, usage = os.wait4(child.pid, 0);"
    " print(usage.ru_maxrss, file=sys.stderr); sys.exit(os.waitstatus_to_exitcode(status))"
)


def tracker_ingest(url: str, seeds: Path, paths: list[Path]) -> Run:
    """`tracker ingest --json PATHS` in a subprocess: wall time and its own peak RSS."""
    env = {**os.environ, "TRACKER_DATABASE_URL": url, "TRACKER_SEEDS_DIR": str(seeds)}
    tracker = Path(sys.executable).with_name("tracker")
    command = [sys.executable, "-c", _PEAK_RSS_WRAPPER, str(tracker), "ingest", "--json"]
    start = time.perf_counter()
    process = subprocess.run(
        [*command, *map(str, paths)], env=env, stderr=subprocess.PIPE, text=True, check=False
    )
    seconds = time.perf_counter() - start
    *lines, peak_kb = process.stderr.rstrip("\n").split("\n")
    return Run(seconds, int(peak_kb) / 1024, process.returncode, "\n".join(lines)[-500:])


def _accounted(url: str) -> tuple[int, int, int, int]:
    """(files, rows loaded, rows rejected, files whose received != loaded + rejected)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0),"
            " count(*) filter (where rows_received <> rows_loaded + rows_rejected)"
            " from raw.feed_files"
        ).fetchone()


def _line(label: str, rows: int, files: int, base: float | None, run: Run, url: str) -> bool:
    files_in, loaded, rejected, unbalanced = _accounted(url)
    ok = run.exit_code == 0 and unbalanced == 0 and loaded + rejected == rows
    against = f"raw COPY {base:7.2f} s" if base else f"{'(no raw baseline)':<18}"
    ratio = f"{run.seconds / base:5.2f}" if base else "    -"
    print(
        f"{label:<28} {against} | tracker ingest {run.seconds:7.2f} s"
        f" | ratio {ratio} | {rows / run.seconds:9,.0f} rows/s"
        f" | {files / run.seconds:7,.1f} files/s | peak RSS {run.peak_rss_mb:6.0f} MB"
        f" | files {files_in}, loaded {loaded:,}, rejected {rejected:,}"
        f"{'' if ok else ' | NOT ACCOUNTED / FAILED: ' + run.tail.strip()[-200:]}",
        flush=True,
    )
    return ok


def measure(
    url: str, seeds: Path, paths: list[Path], baseline_paths: list[Path] | None, repeat: int
) -> tuple[float | None, Run]:
    """Median seconds of the raw COPY baseline and of `tracker ingest`, run alternately `repeat`
    times from empty tables (so both see the same machine; the VM's noise is ±15 %)."""
    bases: list[float] = []
    runs: list[Run] = []
    for _ in range(repeat):
        if baseline_paths is not None:
            reset_tables(url)
            bases.append(raw_copy(url, baseline_paths))
        reset_tables(url)
        runs.append(tracker_ingest(url, seeds, paths))
    run = sorted(runs, key=lambda item: item.seconds)[len(runs) // 2]
    run.peak_rss_mb = max(item.peak_rss_mb for item in runs)
    run.exit_code = max(item.exit_code for item in runs)
    return (statistics.median(bases) if bases else None), run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", default="large,many,json,gzip", help="comma-separated: large,many,json,gzip"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case; medians are reported (default 3)"
    )
    args = parser.parse_args(argv)
    cases = set(args.cases.split(","))
    inputs = prepare_inputs(settings().local_dir / "bench")
    name = os.environ.get("TRACKER_BENCH_DATABASE", BENCH_DATABASE)
    url = database.ensure_database(database.tracker_url(), name)
    database.ensure_tracker_schema(url)
    print(
        f"database {database.split_url(url).dbname}; registry {inputs.seeds};"
        f" medians of {args.repeat} alternating runs",
        flush=True,
    )
    verdicts: list[str] = []
    if "large" in cases:
        paths = [inputs.history_csv]
        base, run = measure(url, inputs.seeds, paths, paths, args.repeat)
        ok = _line("large CSV (1,000,000 rows)", inputs.history_rows, 1, base, run, url)
        assert base is not None
        ratio_ok = run.seconds / base <= TARGET_RATIO
        rss_ok = run.peak_rss_mb <= TARGET_RSS_MB
        verdicts.append(
            f"large file: ratio {'OK' if ratio_ok else 'OVER'} (<= {TARGET_RATIO}),"
            f" peak RSS {'OK' if rss_ok else 'OVER'} (<= {TARGET_RSS_MB} MB)"
            f"{'' if ok else ', NOT ACCOUNTED'}"
        )
    if "many" in cases:
        daily = sorted(inputs.daily.iterdir())
        base, run = measure(url, inputs.seeds, [inputs.daily], daily, args.repeat)
        label = f"many files ({inputs.daily_files:,})"
        ok = _line(label, inputs.daily_rows, inputs.daily_files, base, run, url)
        assert base is not None
        verdicts.append(
            f"many files: ratio {'OK' if run.seconds / base <= TARGET_RATIO else 'OVER'}"
            f" (<= {TARGET_RATIO}){'' if ok else ', NOT ACCOUNTED'}"
        )
    if "json" in cases:
        _, run = measure(url, inputs.seeds, [inputs.history_json], None, args.repeat)
        _line("JSON (100,000 rows)", inputs.json_rows, 1, None, run, url)
    if "gzip" in cases:
        paths = [inputs.history_gz]
        base, run = measure(url, inputs.seeds, paths, paths, args.repeat)
        _line("gzip CSV (1,000,000 rows)", inputs.history_rows, 1, base, run, url)
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
