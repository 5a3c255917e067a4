"""Benchmark inputs: a stress registry and feeds, generated deterministically under .local/bench/.

Written once and reused while the parameters are unchanged (a stamp file records them), so a
second `make bench` spends its time measuring, not generating.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
from datetime import date, timedelta
from pathlib import Path

from r71_tracker.config import PROJECT_ROOT
from r71_tracker.feeds import contract

STRESS_AGENCY = "BENCH-PROV"
STRESS_DATABASES = 10_000
HISTORY_DATES = 100
DAILY_DAYS = 730
DAILY_ROWS_MAX = 12
JSON_ROWS = 100_000
LAST_DAY = date(2025, 12, 15)
NOTES = (
    "Đã kết nối với CSDL quốc gia về dân cư",
    "Đang xây dựng, dự kiến hoàn thành quý IV",
    "Chưa triển khai; chờ phê duyệt kinh phí",
    "Đồng bộ dữ liệu hằng ngày với Trung tâm dữ liệu quốc gia",
    "Số hoá hồ sơ giấy, đã kiểm tra 60%",
    "",
    "",
    "Hệ thống vận hành ổn định",
)
PLATFORMS = contract.PLATFORM_STATUSES
DATAS = contract.DATA_STATUSES
BOOLS = ("true", "false", "1", "0", "yes", "no")


def stress_code(number: int) -> str:
    return f"{STRESS_AGENCY}-DB-{number:05d}"


def write_registry(seeds: Path) -> dict[str, list[str]]:
    """The real registry plus one agency owning STRESS_DATABASES databases; owners by agency."""
    real = PROJECT_ROOT / "dbt_project" / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    with (real / "registry_agencies.csv").open(encoding="utf-8", newline="") as handle:
        agencies = list(csv.DictReader(handle))
    with (real / "registry_databases.csv").open(encoding="utf-8", newline="") as handle:
        databases = list(csv.DictReader(handle))
    agencies.append({**agencies[0], "agency_code": STRESS_AGENCY, "name_en": "Bench province"})
    for number in range(STRESS_DATABASES):
        databases.append(
            {
                **databases[0],
                "database_code": stress_code(number),
                "owner_agency_code": STRESS_AGENCY,
            }
        )
    for name, rows in (("registry_agencies.csv", agencies), ("registry_databases.csv", databases)):
        with (seeds / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    shutil.copy(real / "registry_provinces.csv", seeds / "registry_provinces.csv")
    owners: dict[str, list[str]] = {}
    for row in databases:
        owners.setdefault(row["owner_agency_code"], []).append(row["database_code"])
    return owners


def _row(rng: random.Random, day: date, agency: str, code: str) -> list[str]:
    records = rng.randrange(0, 50_000_000)
    return [
        day.isoformat(),
        agency,
        code,
        rng.choice(PLATFORMS),
        rng.choice(DATAS),
        rng.choice(BOOLS),
        rng.choice(BOOLS),
        str(records),
        str(rng.randrange(0, records + 1)),
        str(rng.randrange(0, 30)),
        rng.choice(NOTES),
    ]


def write_history_csv(path: Path, dates: int = HISTORY_DATES) -> int:
    """STRESS_DATABASES databases × `dates` report dates, one agency: the large-file case."""
    rng = random.Random(71)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(contract.FIELDS)
        for step in range(dates):
            day = LAST_DAY - timedelta(days=3 * step)
            writer.writerows(
                _row(rng, day, STRESS_AGENCY, stress_code(n)) for n in range(STRESS_DATABASES)
            )
            rows += STRESS_DATABASES
    return rows


def write_history_json(path: Path, rows: int = JSON_ROWS) -> int:
    """A JSON history export of `rows` entries (report_date per entry)."""
    rng = random.Random(2025)
    entries = []
    for index in range(rows):
        day = LAST_DAY - timedelta(days=index // STRESS_DATABASES)
        values = _row(rng, day, STRESS_AGENCY, stress_code(index % STRESS_DATABASES))
        entry = dict(zip(contract.FIELDS, values, strict=True))
        del entry["agency_code"]
        entry["record_count"] = int(entry["record_count"])
        entry["records_updated_30d"] = int(entry["records_updated_30d"])
        entries.append(entry)
    document = {"agency_code": STRESS_AGENCY, "databases": entries}
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return rows


def write_gzip_copy(source: Path, target: Path) -> None:
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, 1024 * 1024)


def write_daily_feeds(
    folder: Path, owners: dict[str, list[str]], days: int = DAILY_DAYS, last_day: date = LAST_DAY
) -> tuple[int, int]:
    """`days` (default two years) of daily feeds up to `last_day` from every agency owning
    databases: (files, rows)."""
    rng = random.Random(15 + (last_day - LAST_DAY).days)
    folder.mkdir(parents=True, exist_ok=True)
    files = rows = 0
    for agency, codes in sorted(owners.items()):
        for offset in range(days):
            day = last_day - timedelta(days=offset)
            start = (offset * DAILY_ROWS_MAX) % len(codes)
            chosen = (codes[start:] + codes[:start])[: min(DAILY_ROWS_MAX, len(codes))]
            with (folder / f"{agency.lower()}_{day.isoformat()}.csv").open(
                "w", encoding="utf-8", newline=""
            ) as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(contract.FIELDS)
                writer.writerows(_row(rng, day, agency, code) for code in chosen)
            files += 1
            rows += len(chosen)
    return files, rows


def daily_history(root: Path, owners: dict[str, list[str]]) -> tuple[Path, Path]:
    """Two years of daily feeds up to LAST_DAY (`history`) and the day after (`next_day`) under
    `root`, generated once (a stamp records it): the inputs of the dbt and daily-run benches."""
    history, next_day = root / "history", root / "next_day"
    if not (root / "inputs.stamp").is_file():
        print(f"generating inputs under {root} (once) ...", flush=True)
        write_daily_feeds(history, owners)
        write_daily_feeds(next_day, owners, days=1, last_day=LAST_DAY + timedelta(1))
        (root / "inputs.stamp").write_text("ok\n")
    return history, next_day


def registry_owners() -> dict[str, list[str]]:
    """The real registry's database codes by owning agency, sorted."""
    from r71_tracker.registry import load_registry

    owners: dict[str, list[str]] = {}
    for code, owner in sorted(load_registry().database_owners.items()):
        owners.setdefault(owner, []).append(code)
    return owners
