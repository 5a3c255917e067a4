"""`make bench` (hostile part): what a sender can make within the size limit, against a valid file.

Issue 12: for any file up to the size limit, `tracker ingest` stays within 300 MB of peak RSS and
its time is at most linear in the file's size. Each hostile class below is generated once under
.local/bench_hostile/ and ingested alone, as `tracker ingest` in a subprocess of its own (its own
peak RSS, measured as ingest_bench.tracker_ingest does), into a fresh database; its seconds per
MB (of content: a gzip file's expanded bytes; beyond the cost of any call, a one-row file's) are
compared with those of a valid file of the same format measured in the same run: the ingest
benchmark's 1,000,000-row CSV and 100,000-row JSON history exports. The bound on time: at most
TARGET_TIME_RATIO times what the valid file takes for the same MB or for as many rows, whichever
is more (every rejected row is stored as a row: two-byte lines are measured by their rows). The
last line gives the worst peak RSS and the worst time ratio over the classes.

Everything lives in database `tracker_bench_hostile` (embedded server unless TRACKER_DATABASE_URL
is set); the registry is the ingest benchmark's stress registry (.local/bench/seeds).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_bench  # noqa: E402

from r71_tracker import database  # noqa: E402
from r71_tracker.config import settings  # noqa: E402

BENCH_DATABASE = "tracker_bench_hostile"
TARGET_RSS_MB = 300
TARGET_TIME_RATIO = 4.0  # against a valid file of the same size or as many rows
MB = 1024 * 1024
HEADER = (
    "report_date,agency_code,database_code,platform_status,data_status,process_integrated,"
    "connected_national,record_count,records_updated_30d,consumer_agencies,notes\n"
)
ROW = "2025-12-15,MOJ,MOJ-CIVIL-STATUS,operational,centralized,true,true,100,10,3,"


def _bad_lines(path: Path) -> None:
    path.write_text(HEADER + "x\n" * 1_000_000, encoding="utf-8")


def _bad_lines_gzip(path: Path) -> None:
    path.write_bytes(gzip.compress((HEADER + "x\n" * 2_000_000).encode(), 9))


def _unknown_databases(path: Path) -> None:
    """Well-formed rows that every rule but one passes: each is judged by the Python rules."""
    rows = (ROW.replace("CIVIL-STATUS", f"NOT-{number}") + "\n" for number in range(500_000))
    path.write_text(HEADER + "".join(rows), encoding="utf-8")


def _huge_field(path: Path) -> None:
    path.write_text(f'{HEADER}{ROW}"{"a" * 50_000_000}"\n', encoding="utf-8")


def _wide_header(path: Path) -> None:
    extra = ",".join(f"c{number}" for number in range(1_000_000))  # 7.9 MB: measurable
    path.write_text(f"{HEADER.rstrip()},{extra}\n{ROW}\n", encoding="utf-8")


def _long_numbers(path: Path) -> None:
    digits = "9" * 5_000
    row = ROW.replace(",100,10,3,", f",{digits},{digits},3,")
    path.write_text(HEADER + (row + "\n") * 5_000, encoding="utf-8")


def _wide_json(path: Path) -> None:
    entry = json.dumps(
        {
            "database_code": "MOJ-CIVIL-STATUS",
            "report_date": "2025-12-15",
            "platform_status": "operational",
            "data_status": "centralized",
            "process_integrated": True,
            "connected_national": True,
            "record_count": 100,
            "records_updated_30d": 10,
            "consumer_agencies": 3,
        }
    )
    count = 200 * MB // (len(entry) + 1)  # the size limit: once parsed whole (about 700 MB)
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"agency_code": "MOJ", "databases": [' + entry)
        for _ in range(count - 1):
            handle.write("," + entry)
        handle.write("]}")


def _deep_json(path: Path) -> None:
    depth = 1_000_000
    path.write_text(
        '{"agency_code": "MOJ", "databases": [' + "[" * depth + "]" * depth + "]}",
        encoding="utf-8",
    )


CLASSES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "1,000,000 one-character bad lines": ("MOJ_bad_lines.csv", _bad_lines),
    "2,000,000 bad lines in a 20 KB gzip": ("MOJ_bad_lines.csv.gz", _bad_lines_gzip),
    "500,000 rows of unknown databases": ("MOJ_unknown_databases.csv", _unknown_databases),
    "one quoted 50 MB field": ("MOJ_huge_field.csv", _huge_field),
    "a header of 1,000,000 columns (over a line)": ("MOJ_wide_header_1m.csv", _wide_header),
    "5,000 rows of 5,000-digit counts": ("MOJ_long_numbers.csv", _long_numbers),
    "a 200 MB JSON list of entries": ("MOJ_wide_200mb.json", _wide_json),
    "JSON nested 1,000,000 deep": ("MOJ_deep.json", _deep_json),
}


def _content(path: Path) -> tuple[float, int]:
    """A file's content: its MB (a gzip file's expanded bytes) and, for a CSV, its data lines."""
    opener = gzip.open if path.name.endswith(".gz") else open
    size = lines = 0
    with opener(path, "rb") as handle:
        while chunk := handle.read(MB):
            size += len(chunk)
            lines += chunk.count(b"\n")
    return size / MB, (lines - 1 if ".csv" in path.name else 0)


def main() -> int:
    bench_inputs = ingest_bench.prepare_inputs(settings().local_dir / "bench")
    root = settings().local_dir / "bench_hostile"
    root.mkdir(parents=True, exist_ok=True)
    url = database.ensure_database(database.tracker_url(), BENCH_DATABASE)
    database.ensure_tracker_schema(url)

    def ingest(path: Path) -> ingest_bench.Run:
        ingest_bench.reset_tables(url)
        return ingest_bench.tracker_ingest(url, bench_inputs.seeds, [path])

    # Seconds per MB are counted beyond the cost of any call (the interpreter, the registry, the
    # connection): the ingest of a one-row file, which the small classes would otherwise measure.
    one_row = root / "MOJ_one_row.csv"
    one_row.write_text(HEADER + ROW + "\n", encoding="utf-8")
    startup = min(ingest(one_row).seconds for _ in range(3))
    # The valid files of each format, in the same run: seconds per MB and per row beyond a call.
    rates: dict[str, tuple[float, float]] = {}
    for feed_format, valid_path, valid_rows in (
        ("csv", bench_inputs.history_csv, _content(bench_inputs.history_csv)[1]),
        ("json", bench_inputs.history_json, bench_inputs.json_rows),
    ):
        # the median of three: a single run of the valid file moved the ratios by a third
        valid = sorted((ingest(valid_path) for _ in range(3)), key=lambda run: run.seconds)[1]
        valid_mb = _content(valid_path)[0]
        rates[feed_format] = (
            (valid.seconds - startup) / valid_mb,
            (valid.seconds - startup) / valid_rows,
        )
        print(
            f"hostile files: any call {startup:.2f} s; valid {valid_rows:,}-row {feed_format}"
            f" {valid.seconds:.1f} s ({rates[feed_format][0]:.3f} s/MB,"
            f" {rates[feed_format][1] * 1e6:.2f} µs/row beyond it), peak RSS"
            f" {valid.peak_rss_mb:.0f} MB"
        )
    print(
        "  the bound: beyond any call's cost, at most"
        f" {TARGET_TIME_RATIO:g} x what a valid file of the same format and size, or of as many"
        " rows, takes, whichever is more (every rejected row is stored as a row, so a file of"
        " two-byte lines is measured by its rows)"
    )
    worst_rss = (0.0, "")
    worst_rate = (0.0, "")
    ok = True
    for label, (name, write) in CLASSES.items():
        path = root / name
        if not path.is_file():
            write(path)
        run = ingest(path)
        size, rows = _content(path)
        seconds = max(run.seconds - startup, 0.0)
        mb_rate, row_rate = rates["json" if ".json" in name else "csv"]
        ratio = seconds / max(mb_rate * size, row_rate * rows)
        verdict = (
            "ok"
            if run.peak_rss_mb <= TARGET_RSS_MB
            and ratio <= TARGET_TIME_RATIO
            and run.exit_code in (0, 1)
            else "OVER"
        )
        ok &= verdict == "ok"
        print(
            f"  {label:38} {size:7.1f} MB {rows:>10,} rows {run.seconds:7.1f} s"
            f" {seconds / size:7.3f} s/MB = {ratio:6.1f} x valid | peak RSS"
            f" {run.peak_rss_mb:5.0f} MB | exit {run.exit_code} {verdict}"
        )
        worst_rss = max(worst_rss, (run.peak_rss_mb, label))
        worst_rate = max(worst_rate, (ratio, label))
    print(
        f"hostile: worst peak RSS {worst_rss[0]:.0f} MB ({worst_rss[1]}; target <="
        f" {TARGET_RSS_MB} MB), worst time {worst_rate[0]:.1f} x a valid file's"
        f" ({worst_rate[1]}; target <= {TARGET_TIME_RATIO:g})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
