"""Demo status feeds: what the ministries would have sent from Resolution 71 to the latest report.

The demo must show the real 2025 picture (31 centralized, 36 in progress, 38 not started of 105 on
the latest report date, with the databases the press named in their group) and the messy parts of
real reporting: history exports, late and skipped reports, an agency that stops reporting, a
database nobody reports, centralized databases whose numbers fail the independent checks, and a
handful of bad rows for the quarantine. Agencies also send their data dictionaries (feed contract
v1.1, demo_dictionaries.py). Everything comes from `random.Random(seed)` and the
registry seed, never from the clock, so the same seed gives byte-identical files and tests can
compare the pipeline's result with `expected_final_stages()` and `EXPECTED_BAD_ROWS`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from r71_tracker.config import settings
from r71_tracker.demo_dictionaries import EXPECTED_BAD_DICTIONARY_ROWS, dictionary_files
from r71_tracker.feeds import contract

RESOLUTION_DATE = date(2025, 4, 1)
LATEST_REPORT_DATE = date(2025, 12, 15)
HISTORY_END_DATE = date(2025, 10, 31)
REPORT_INTERVAL_DAYS = 14

EXPECTED_STAGE_COUNTS: Mapping[str, int] = MappingProxyType(
    {"centralized": 31, "in_progress": 36, "not_started": 38}
)
REGISTRY_SIZE = sum(EXPECTED_STAGE_COUNTS.values())

FEED_FIELDS = contract.FIELDS  # the demo writes exactly the v1 contract

VIETNAM_TIME = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class Status:
    """The four status fields a feed row reports; the stage follows from them (feed contract)."""

    platform: str
    data: str
    process_integrated: bool
    connected_national: bool

    @property
    def stage(self) -> str:
        if (
            self.platform == "operational"
            and self.data == "centralized"
            and self.process_integrated
        ):
            return "centralized"
        if self.platform == "not_started" and self.data == "none":
            return "not_started"
        return "in_progress"


# The usual road of a database under Resolution 71, one rung per step forward.
LADDER = (
    Status("not_started", "none", False, False),
    Status("building", "none", False, False),
    Status("building", "digitized", False, False),
    Status("operational", "digitized", False, False),
    Status("operational", "partial", False, True),
    Status("operational", "partial", True, True),
    Status("operational", "centralized", True, True),
)
# Data gathered centrally but typed in, not produced by the procedures: still in progress.
ENTERED_NOT_PRODUCED = Status("operational", "centralized", False, True)

# Groups of the 2025 reporting (Nhân Dân report, registry notes) for the databases it names.
REPORTED_STAGES: Mapping[str, str] = MappingProxyType(
    {
        "MOJ-CIVIL-STATUS": "centralized",
        "MAE-LAND": "centralized",
        "SPC-JUDGMENTS": "centralized",
        "MOF-FINANCE": "centralized",
        "MOJ-SECURED-TRANSACTIONS": "centralized",
        "MPS-POPULATION": "centralized",
        "MPS-SYNTHETIC": "centralized",
        "MPS-EID": "centralized",
        "MPS-EXIT-ENTRY": "centralized",
        "VSS-INSURANCE": "centralized",
        "MOF-BUSINESS-REG": "centralized",
        "SBV-BANKING": "centralized",
        "MOC-CONSTRUCTION-ACTIVITY": "in_progress",
        "MOET-EDUCATION": "in_progress",
        "MOHA-SOCIAL-SECURITY": "in_progress",
        "GI-ASSET-INCOME": "in_progress",
        "MOIT-CHEMICALS": "in_progress",
        "MOJ-LEGAL-AID": "in_progress",
        "MOJ-CIVIL-JUDGMENT-ENF": "in_progress",
        "MOJ-NOTARIZATION": "in_progress",
        "MOJ-LEGAL-DOCS": "in_progress",
        "MOC-RAIL-INFRA": "in_progress",
        "MOC-ROAD-INFRA": "in_progress",
        "MOC-AIR-INFRA": "in_progress",
        "MOC-PRACTICE-CAPACITY": "in_progress",
        "MOC-SHIPS-SEAFARERS": "in_progress",
        "MOC-VEHICLE-INSPECTION": "in_progress",
        "MOC-WATER-DRAINAGE": "in_progress",
        "MOC-HOUSING-REALESTATE": "in_progress",
        "MOC-URBAN-DEV": "in_progress",
        "MOHA-CIVIL-SERVANTS": "in_progress",
        "MPS-LOCATION-ID": "in_progress",
        "MOF-POP-STATISTICS": "in_progress",
        "MOH-HEALTH": "not_started",
        "MAE-AGRICULTURE": "not_started",
        "MPS-ADMIN-VIOLATIONS": "not_started",
        "MERA-RELIGION": "not_started",
        "NAT-AI": "not_started",
    }
)
# "Only digitized, not created by the correct business process": the rung each one stands on.
FINAL_RUNGS: Mapping[str, int] = MappingProxyType(
    {
        "MOC-CONSTRUCTION-ACTIVITY": 4,
        "MOET-EDUCATION": 4,
        "MOHA-SOCIAL-SECURITY": 3,
        "GI-ASSET-INCOME": 5,
        "MOIT-CHEMICALS": 4,
    }
)
# Built and in use before Resolution 71: on their final rung from the first report.
ESTABLISHED = frozenset(
    {
        "MOJ-CIVIL-STATUS",
        "MOJ-SECURED-TRANSACTIONS",
        "MPS-POPULATION",
        "VSS-INSURANCE",
        "MOF-FINANCE",
        "MOF-BUSINESS-REG",
        "SBV-BANKING",
    }
)
# Record counts the sources give (or suggest) for the latest date.
RECORD_COUNTS: Mapping[str, int] = MappingProxyType(
    {
        "MOJ-CIVIL-STATUS": 27_400_000,
        "MAE-LAND": 46_070_000,
        "MOET-EDUCATION": 24_550_000,
        "SBV-BANKING": 22_000_000,
        "MOF-BUSINESS-REG": 2_050_000,
        "MOHA-CIVIL-SERVANTS": 1_091_482,
        "MOIT-CHEMICALS": 13_400,
        "MPS-POPULATION": 104_800_000,
        "VSS-INSURANCE": 93_600_000,
    }
)
# How far along an agency's unnamed databases are; orders them when the stage quotas are filled.
AGENCY_MATURITY: Mapping[str, float] = MappingProxyType(
    {
        "MPS": 9,
        "VSS": 9,
        "MOF": 8,
        "SBV": 8,
        "MOJ": 7,
        "OOG": 7,
        "MAE": 6,
        "MOC": 5,
        "GI": 5,
        "MOIT": 5,
        "MOHA": 5,
        "MOET": 4,
        "MND": 4,
        "MOST": 4,
        "MOFA": 3,
        "MOCST": 2,
        "MERA": 2,
        "MOH": 1,
    }
)
NEVER_REPORTED_COUNT = 2

# Reporting habits that make the demo look like real reporting.
AGENCY_FIRST_REPORT: Mapping[str, date] = MappingProxyType(
    {"MND": date(2025, 5, 19), "MOFA": date(2025, 6, 2), "MERA": date(2025, 7, 14)}
)
# Resolution 66.9/2025/NQ-CP (8 Dec 2025) moved it to MPS, which first reports it on the last date.
DATABASE_FIRST_REPORT: Mapping[str, date] = MappingProxyType(
    {"MPS-ADMIN-VIOLATIONS": LATEST_REPORT_DATE}
)
# An agency that stops reporting: on the latest report date it has been silent for 42 days, so
# the agency scorecard shows it RED (rule `silent`, more than 30 days).
AGENCY_LAST_REPORT: Mapping[str, date] = MappingProxyType({"OOG": date(2025, 11, 3)})
# What the independent check of a reported `centralized` stage catches (mart
# database_verified_stage): the first centralized illustrative databases of the registry, one per
# rule, report numbers that break it in their last reports; their reported stage is unchanged.
VERIFICATION_CASES = ("not_live", "no_records", "not_shared")
SKIPPED_REPORTS = frozenset(
    {
        ("MOST", date(2025, 6, 16)),
        ("MERA", date(2025, 8, 25)),
        ("MND", date(2025, 11, 3)),
        ("MOCST", date(2025, 11, 17)),
        ("MOFA", date(2025, 12, 1)),
    }
)
# (agency, report date) -> days after the report date the file arrives (the usual is one day).
LATE_REPORTS: Mapping[tuple[str, date], int] = MappingProxyType(
    {("GI", date(2025, 11, 17)): 16, ("MOHA", date(2025, 12, 1)): 17}
)
# One database briefly falls back a stage, as real systems do during an upgrade.
TEMPORARY_SETBACK = ("VSS-INSURANCE", date(2025, 8, 11))
DAILY_OMISSION_RATE = 0.03


@dataclass(frozen=True)
class FeedFormat:
    """How one agency's systems write feeds: format per file kind and CSV quirks."""

    history_suffix: str = ".csv"
    daily_suffix: str = ".csv"
    booleans: tuple[str, str] = ("true", "false")
    columns: tuple[str, ...] = FEED_FIELDS
    byte_order_mark: bool = False
    decomposed_text: bool = False


AGENCY_FORMATS: Mapping[str, FeedFormat] = MappingProxyType(
    {
        "MPS": FeedFormat(history_suffix=".json.gz", daily_suffix=".json"),
        "SBV": FeedFormat(history_suffix=".json", daily_suffix=".json"),
        "OOG": FeedFormat(history_suffix=".json"),
        "MAE": FeedFormat(history_suffix=".csv.gz"),
        "VSS": FeedFormat(daily_suffix=".csv.gz", booleans=("TRUE", "FALSE")),
        "MOF": FeedFormat(booleans=("True", "False"), byte_order_mark=True),
        "MOET": FeedFormat(
            booleans=("1", "0"),
            columns=(
                "database_code",
                "report_date",
                "agency_code",
                "data_status",
                "platform_status",
                "record_count",
                "records_updated_30d",
                "consumer_agencies",
                "process_integrated",
                "connected_national",
                "notes",
            ),
        ),
        "MOH": FeedFormat(booleans=("yes", "no"), decomposed_text=True),
        "MOC": FeedFormat(columns=(*FEED_FIELDS, "don_vi_dau_moi")),
    }
)
FOCAL_UNIT = "Trung tâm Công nghệ thông tin"


class BadRow(NamedTuple):
    """A row the quarantine must catch, placed where a later valid report supersedes it."""

    reason: str
    agency_code: str
    database_code: str
    report_date: date


BAD_ROW_PLAN = (
    BadRow("negative_count", "MOJ", "MOJ-LEGAL-AID", date(2025, 6, 2)),
    BadRow("bad_integer", "MAE", "MAE-LAND", date(2025, 11, 3)),
    BadRow("duplicate_database_in_file", "MOIT", "MOIT-CHEMICALS", date(2025, 11, 3)),
    BadRow("updated_exceeds_records", "MOF", "MOF-BUSINESS-REG", date(2025, 11, 17)),
    BadRow("bad_enum", "MOET", "MOET-EDUCATION", date(2025, 11, 17)),
    BadRow("bad_boolean", "MOJ", "MOJ-CIVIL-STATUS", date(2025, 12, 1)),
    BadRow("unknown_database", "MOH", "MOH-MEDICAL-EQUIPMENT", LATEST_REPORT_DATE),
)


@dataclass(frozen=True)
class BadRowExpectation:
    """How many rows the quarantine must hold after loading the demo, in all and by reason."""

    count: int
    by_reason: Mapping[str, int]


def _expected_bad_rows() -> BadRowExpectation:
    # A duplicated database is two rows in the file, and the contract rejects both.
    by_reason = Counter(
        {bad.reason: 2 if bad.reason == "duplicate_database_in_file" else 1 for bad in BAD_ROW_PLAN}
    )
    by_reason.update(EXPECTED_BAD_DICTIONARY_ROWS)
    return BadRowExpectation(
        sum(by_reason.values()), MappingProxyType(dict(sorted(by_reason.items())))
    )


EXPECTED_BAD_ROWS = _expected_bad_rows()

NOTES_BY_RUNG = (
    (
        "Chưa triển khai; đang xây dựng đề án và dự toán kinh phí",
        "Chưa bố trí được kinh phí năm 2025",
        "Đang rà soát danh mục dữ liệu, xác định dữ liệu gốc và dữ liệu chủ",
    ),
    (
        "Đang xây dựng nền tảng, phần mềm dùng chung",
        "Đã phê duyệt chủ trương đầu tư; đang khảo sát, thiết kế mô hình dữ liệu",
        "Đang lựa chọn nhà thầu xây dựng phần mềm",
    ),
    (
        "Dữ liệu mới được số hóa, chưa được tạo lập từ quy trình nghiệp vụ",
        "Đang số hóa hồ sơ lưu trữ giấy",
    ),
    (
        "Hệ thống đã vận hành; dữ liệu chủ yếu nhập liệu, số hóa từ hồ sơ giấy",
        "Đã vận hành thử nghiệm tại một số địa phương",
    ),
    (
        "Đã kết nối với Nền tảng tích hợp, chia sẻ dữ liệu quốc gia",
        "Đang làm sạch dữ liệu theo tiêu chí đúng – đủ – sạch – sống",
    ),
    (
        "Dữ liệu phát sinh từ giải quyết thủ tục hành chính; đang đồng bộ dữ liệu địa phương",
        "Đang chuẩn hóa bộ mã dùng chung với các bộ, ngành",
    ),
    (
        "Dữ liệu được tạo lập từ giải quyết thủ tục hành chính, đồng bộ từ trung ương đến cơ sở",
        "Đã kết nối với Nền tảng tích hợp, chia sẻ dữ liệu quốc gia; dữ liệu đúng, đủ, sạch, sống",
        "Vận hành ổn định, chia sẻ dữ liệu cho các bộ, ngành và địa phương",
    ),
)
NOTES_ENTERED = (
    "Dữ liệu đã tập trung nhưng chủ yếu nhập liệu, chưa phát sinh từ quy trình nghiệp vụ"
)
NOTES_STALLED = (
    "Chờ phê duyệt kinh phí",
    "Vướng mắc về cơ chế chia sẻ dữ liệu giữa các đơn vị",
    "Chưa thống nhất bộ mã dùng chung",
)
NOTES_SETBACK = "Tạm dừng đồng bộ để nâng cấp hệ thống; dữ liệu phát sinh sẽ được cập nhật bổ sung"
NOTES_TRANSFERRED = (
    "Tiếp nhận từ Bộ Tư pháp theo Nghị quyết số 66.9/2025/NQ-CP ngày 08/12/2025; chưa triển khai"
)
UNKNOWN_DATABASE_NOTE = "Cơ sở dữ liệu trang thiết bị y tế (đề xuất bổ sung vào danh mục)"


@dataclass(frozen=True)
class RegistryDatabase:
    code: str
    agency_code: str
    kind: str
    provenance: str


@dataclass
class DatabasePlan:
    """One database's road: its rungs, the dates it is reported on and the rung on each date."""

    database: RegistryDatabase
    ladder: tuple[Status, ...]
    reported: list[date]
    rung_on: dict[date, int]


def report_dates() -> list[date]:
    """Every 14 days, ending exactly on the latest report date, from Resolution 71 on."""
    periods = (LATEST_REPORT_DATE - RESOLUTION_DATE).days // REPORT_INTERVAL_DAYS
    return [
        LATEST_REPORT_DATE - timedelta(days=REPORT_INTERVAL_DAYS * back)
        for back in range(periods, -1, -1)
    ]


def read_registry(seeds_dir: Path | None = None) -> list[RegistryDatabase]:
    """The registry databases, in the seed file's order (the operator may replace the file)."""
    path = (seeds_dir or settings().seeds_dir) / "registry_databases.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            RegistryDatabase(
                row["database_code"], row["owner_agency_code"], row["kind"], row["provenance"]
            )
            for row in csv.DictReader(handle)
        ]


def _stage_quota_order(unnamed: list[RegistryDatabase]) -> list[RegistryDatabase]:
    """Most advanced first: mature agencies, and within one agency its first-listed databases."""
    seen: Counter[str] = Counter()
    scored = []
    for position, database in enumerate(unnamed):
        score = AGENCY_MATURITY.get(database.agency_code, 3) - 0.8 * seen[database.agency_code]
        seen[database.agency_code] += 1
        scored.append((-score, position, database))
    return [database for _, _, database in sorted(scored, key=lambda item: item[:2])]


def _plan_stages(registry: list[RegistryDatabase]) -> dict[str, str]:
    if len(registry) != REGISTRY_SIZE:
        raise ValueError(
            f"the demo reproduces {dict(EXPECTED_STAGE_COUNTS)} of {REGISTRY_SIZE} databases; "
            f"the registry holds {len(registry)}"
        )
    stages = {db.code: REPORTED_STAGES[db.code] for db in registry if db.code in REPORTED_STAGES}
    quotas = Counter(EXPECTED_STAGE_COUNTS)
    quotas.subtract(Counter(stages.values()))
    unnamed = _stage_quota_order([db for db in registry if db.code not in stages])
    for stage in ("centralized", "in_progress", "not_started"):
        for database in unnamed[: quotas[stage]]:
            stages[database.code] = stage
        unnamed = unnamed[quotas[stage] :]
    return {db.code: stages[db.code] for db in registry}


def expected_final_stages(seeds_dir: Path | None = None) -> dict[str, str]:
    """database_code -> stage on LATEST_REPORT_DATE, for every registry database, for any seed."""
    return _plan_stages(read_registry(seeds_dir))


def _never_reported(registry: list[RegistryDatabase], stages: dict[str, str]) -> set[str]:
    candidates = [
        db
        for db in registry
        if stages[db.code] == "not_started"
        and db.provenance == "illustrative"
        and db.agency_code not in AGENCY_FIRST_REPORT
    ]
    return {db.code for db in _stage_quota_order(candidates)[-NEVER_REPORTED_COUNT:]}


def _agency_dates(agency_code: str) -> list[date]:
    first = AGENCY_FIRST_REPORT.get(agency_code, RESOLUTION_DATE)
    last = AGENCY_LAST_REPORT.get(agency_code, LATEST_REPORT_DATE)
    return [
        day
        for day in report_dates()
        if first <= day <= last and (agency_code, day) not in SKIPPED_REPORTS
    ]


def verification_cases(seeds_dir: Path | None = None) -> dict[str, str]:
    """database_code -> the verification rule its last reports break (VERIFICATION_CASES)."""
    return _verification_cases(read_registry(seeds_dir))


def _verification_cases(registry: list[RegistryDatabase]) -> dict[str, str]:
    stages = _plan_stages(registry)
    spoiled = {bad.database_code for bad in BAD_ROW_PLAN}
    candidates = [
        db.code
        for db in registry
        if stages[db.code] == "centralized"
        and db.provenance == "illustrative"
        and db.code not in spoiled
        and db.agency_code not in AGENCY_LAST_REPORT
    ]
    return dict(zip(candidates, VERIFICATION_CASES, strict=False))


def _break_verification(rows: list[dict[str, object]], cases: dict[str, str]) -> None:
    """Make each case's last reports break its rule (in place; the stage fields stay)."""
    for code, rule in cases.items():
        own = sorted(
            (row for row in rows if row["database_code"] == code),
            key=lambda row: str(row["report_date"]),
        )
        if rule == "not_live":  # nothing updated in the last two reports
            for row in own[-2:]:
                row["records_updated_30d"] = 0
        elif rule == "no_records":  # a centralized database that holds nothing
            own[-1]["record_count"] = own[-1]["records_updated_30d"] = 0
        elif rule == "not_shared":  # connected to the national platform, used by nobody
            own[-1]["consumer_agencies"] = 0


def _choose_ladder(
    database: RegistryDatabase, stage: str, rng: random.Random
) -> tuple[tuple[Status, ...], int]:
    if stage == "centralized":
        return LADDER, len(LADDER) - 1
    if stage == "not_started":
        return LADDER, 0
    if database.code in FINAL_RUNGS:
        return LADDER, FINAL_RUNGS[database.code]
    if rng.random() < 0.15:
        return (*LADDER[:5], ENTERED_NOT_PRODUCED), 5
    return LADDER, rng.choices((1, 2, 3, 4, 5), weights=(15, 20, 20, 25, 20))[0]


def _climb(start: int, final: int, dates: list[date], rng: random.Random) -> dict[date, int]:
    """Rung on each date: mostly steady steps forward, some databases stalled for months."""
    last = len(dates) - 1
    if last == 0 or start == final:
        return dict.fromkeys(dates, final)
    window = range(1, last + 1)
    if rng.random() < 0.2:
        window = (
            range(1, min(4, last) + 1) if rng.random() < 0.5 else range(max(1, last - 2), last + 1)
        )
    steps = sorted(rng.choices(window, k=final - start))
    return {
        day: start + sum(1 for step in steps if step <= index) for index, day in enumerate(dates)
    }


def _plan_database(
    database: RegistryDatabase,
    stage: str,
    bad_dates: set[date],
    rng: random.Random,
) -> DatabasePlan:
    first = DATABASE_FIRST_REPORT.get(database.code, RESOLUTION_DATE)
    reported = [
        day
        for day in _agency_dates(database.agency_code)
        if day >= first
        and (
            day <= HISTORY_END_DATE
            or day in bad_dates
            or day == LATEST_REPORT_DATE
            or rng.random() >= DAILY_OMISSION_RATE
        )
    ]
    valid = [day for day in reported if day not in bad_dates]
    ladder, final = _choose_ladder(database, stage, rng)
    if database.code in ESTABLISHED:
        start = final
    elif stage == "not_started":
        start = 0
    elif stage == "centralized":
        start = rng.randint(1, final - 1)
    else:
        start = rng.randint(0, max(0, final - 2))
    rung_on = _climb(start, final, valid, rng)
    for day in bad_dates:
        earlier = [rung_on[valid_day] for valid_day in valid if valid_day < day]
        rung_on[day] = earlier[-1] if earlier else start
    if database.code == TEMPORARY_SETBACK[0] and TEMPORARY_SETBACK[1] in rung_on:
        rung_on[TEMPORARY_SETBACK[1]] = final - 1
    return DatabasePlan(database, ladder, reported, rung_on)


def _plan_all(registry: list[RegistryDatabase], rng: random.Random) -> list[DatabasePlan]:
    stages = _plan_stages(registry)
    never = _never_reported(registry, stages)
    bad_dates: dict[str, set[date]] = {}
    for bad in BAD_ROW_PLAN:
        bad_dates.setdefault(bad.database_code, set()).add(bad.report_date)
    plans = []
    for database in registry:
        if database.code in never:
            continue
        plan = _plan_database(
            database, stages[database.code], bad_dates.get(database.code, set()), rng
        )
        _check_superseded(plan, bad_dates.get(database.code, set()))
        plans.append(plan)
    return plans


def _check_superseded(plan: DatabasePlan, bad_dates: set[date]) -> None:
    """A bad row must never decide the final stage: a later valid report has to follow it."""
    valid = [day for day in plan.reported if day not in bad_dates]
    for day in bad_dates:
        if day not in plan.reported or not valid or valid[-1] <= day:
            raise ValueError(f"bad row for {plan.database.code} on {day} is not superseded")


class _Metrics:
    """Record counts and use that grow with the rung: the database's own size, consumers, pace."""

    DATA_SHARE = {"none": 0.0, "digitized": 0.4, "partial": 0.75, "centralized": 1.0}
    CONSUMER_SHARE = {0: 0.0, 1: 0.0, 2: 0.1, 3: 0.25, 4: 0.5, 5: 0.75, 6: 1.0}

    def __init__(self, database: RegistryDatabase, rng: random.Random) -> None:
        if database.code in RECORD_COUNTS:
            self.size = RECORD_COUNTS[database.code]
        elif database.kind == "national":
            self.size = int(10 ** rng.uniform(6.0, 7.8))
        else:
            self.size = int(10 ** rng.uniform(4.3, 6.5))
        self.consumers = rng.randint(6, 14) if database.kind == "national" else rng.randint(2, 8)
        self.rng = rng

    def row_values(self, status: Status, rung: int, day: date) -> dict[str, int]:
        elapsed = (day - RESOLUTION_DATE).days / (LATEST_REPORT_DATE - RESOLUTION_DATE).days
        share = self.DATA_SHARE[status.data] * (0.9 + 0.1 * elapsed)
        records = round(self.size * share * self.rng.uniform(0.995, 1.0))
        if status.process_integrated:
            pace = self.rng.uniform(0.008, 0.03)
        elif status.data != "none":
            pace = self.rng.uniform(0.001, 0.01)
        else:
            pace = 0.0
        return {
            "record_count": records,
            "records_updated_30d": round(records * pace),
            "consumer_agencies": round(self.consumers * self.CONSUMER_SHARE[rung]),
        }


def _note(plan: DatabasePlan, day: date, rng: random.Random) -> str:
    rung = plan.rung_on[day]
    if plan.database.code in DATABASE_FIRST_REPORT:
        return NOTES_TRANSFERRED
    if (plan.database.code, day) == TEMPORARY_SETBACK:
        return NOTES_SETBACK
    if rng.random() < 0.2:
        return ""
    earlier = [plan.rung_on[other] for other in plan.reported if other < day][-4:]
    stalled = 0 < rung < len(plan.ladder) - 1 and len(earlier) == 4 and set(earlier) == {rung}
    if stalled and rng.random() < 0.5:
        return rng.choice(NOTES_STALLED)
    if plan.ladder[rung] == ENTERED_NOT_PRODUCED:
        return NOTES_ENTERED
    return rng.choice(NOTES_BY_RUNG[rung])


def _rows_for(plan: DatabasePlan, rng: random.Random) -> list[dict[str, object]]:
    metrics = _Metrics(plan.database, rng)
    rows = []
    for day in plan.reported:
        rung = plan.rung_on[day]
        status = plan.ladder[rung]
        rows.append(
            {
                "report_date": day.isoformat(),
                "agency_code": plan.database.agency_code,
                "database_code": plan.database.code,
                "platform_status": status.platform,
                "data_status": status.data,
                "process_integrated": status.process_integrated,
                "connected_national": status.connected_national,
                **metrics.row_values(status, rung, day),
                "notes": _note(plan, day, rng),
            }
        )
    return rows


def _count(row: Mapping[str, object], name: str) -> int:
    """A count of a generated row (_Metrics.row_values): always an int before it is spoiled."""
    value = row[name]
    if not isinstance(value, int):
        raise TypeError(f"{name} of a generated row is {value!r}, not a count")
    return value


def _spoil(row: dict[str, object], reason: str) -> list[dict[str, object]]:
    """The row as a careless export would write it; each breaks exactly one contract rule."""
    bad = dict(row)
    records = _count(row, "record_count")
    if reason == "negative_count":
        bad["records_updated_30d"] = -abs(_count(row, "records_updated_30d")) - 12
    elif reason == "bad_integer":
        bad["record_count"] = f"{max(records, 1_000):,}"
    elif reason == "updated_exceeds_records":
        bad["records_updated_30d"] = records + max(records // 20, 1)
    elif reason == "bad_enum":
        bad["platform_status"] = "in_progress"
    elif reason == "bad_boolean":
        bad["process_integrated"] = "có"
    elif reason == "duplicate_database_in_file":
        second = dict(row, record_count=records + 37, notes="Xuất lại do lỗi đồng bộ")
        return [bad, second]
    else:
        raise ValueError(f"no way to spoil a row for {reason}")
    return [bad]


def _unknown_database_row(bad: BadRow) -> dict[str, object]:
    return {
        "report_date": bad.report_date.isoformat(),
        "agency_code": bad.agency_code,
        "database_code": bad.database_code,
        "platform_status": "building",
        "data_status": "digitized",
        "process_integrated": False,
        "connected_national": False,
        "record_count": 182_400,
        "records_updated_30d": 3_150,
        "consumer_agencies": 1,
        "notes": UNKNOWN_DATABASE_NOTE,
    }


def _apply_bad_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    plan = {(bad.database_code, bad.report_date.isoformat()): bad.reason for bad in BAD_ROW_PLAN}
    out: list[dict[str, object]] = []
    for row in rows:
        reason = plan.get((str(row["database_code"]), str(row["report_date"])))
        out.extend(_spoil(row, reason) if reason else [row])
    out.extend(
        _unknown_database_row(bad) for bad in BAD_ROW_PLAN if bad.reason == "unknown_database"
    )
    return out


@dataclass
class FeedFile:
    name: str
    agency_code: str
    report_date: date | None
    rows: list[dict[str, object]]
    delivered_at: datetime
    kind: contract.FeedKind = contract.STATUS_FEED


def _dictionary_feeds(registry: list[RegistryDatabase]) -> list[FeedFile]:
    """The data dictionaries (demo_dictionaries.py), written in each agency's daily format."""
    owners = {database.code: database.agency_code for database in registry}
    feeds = []
    for order, dictionary in enumerate(dictionary_files(owners)):
        agency = dictionary.agency_code
        suffix = AGENCY_FORMATS.get(agency, FeedFormat()).daily_suffix
        sent = datetime.combine(dictionary.delivered_on, time(10), VIETNAM_TIME)
        feeds.append(
            FeedFile(
                f"{agency}_fields_{dictionary.report_date.isoformat()}{suffix}",
                agency,
                dictionary.report_date,
                dictionary.rows,
                sent + timedelta(minutes=3 * order),
                contract.DICTIONARY_FEED,
            )
        )
    return feeds


def _group_files(rows: list[dict[str, object]], agencies: list[str]) -> list[FeedFile]:
    history_name = f"history_{RESOLUTION_DATE.isoformat()}_{HISTORY_END_DATE.isoformat()}"
    files: list[FeedFile] = []
    for order, agency in enumerate(agencies):
        feed_format = AGENCY_FORMATS.get(agency, FeedFormat())
        mine = [row for row in rows if row["agency_code"] == agency]
        history = [
            row for row in mine if date.fromisoformat(str(row["report_date"])) <= HISTORY_END_DATE
        ]
        if history:
            joined = datetime.combine(HISTORY_END_DATE + timedelta(days=1), time(8), VIETNAM_TIME)
            files.append(
                FeedFile(
                    f"{agency}_{history_name}{feed_format.history_suffix}",
                    agency,
                    None,
                    sorted(history, key=lambda row: str(row["report_date"])),
                    joined + timedelta(minutes=7 * order),
                )
            )
        for day in sorted({date.fromisoformat(str(row["report_date"])) for row in mine}):
            if day <= HISTORY_END_DATE:
                continue
            lag = LATE_REPORTS.get((agency, day), 1)
            sent = datetime.combine(day + timedelta(days=lag), time(9), VIETNAM_TIME)
            files.append(
                FeedFile(
                    f"{agency}_{day.isoformat()}{feed_format.daily_suffix}",
                    agency,
                    day,
                    [row for row in mine if row["report_date"] == day.isoformat()],
                    sent + timedelta(minutes=11 * order),
                )
            )
    return sorted(files, key=lambda feed: (feed.delivered_at, feed.name))


def _csv_bytes(feed: FeedFile, feed_format: FeedFormat) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = feed_format.columns if feed.kind is contract.STATUS_FEED else feed.kind.fields
    writer.writerow(columns)
    true_text, false_text = feed_format.booleans
    for row in feed.rows:
        values = dict(row, don_vi_dau_moi=FOCAL_UNIT)
        writer.writerow(
            true_text if value is True else false_text if value is False else value
            for value in (values[column] for column in columns)
        )
    text = buffer.getvalue()
    if feed_format.decomposed_text:
        text = unicodedata.normalize("NFD", text)
    return (("\ufeff" if feed_format.byte_order_mark else "") + text).encode("utf-8")


def _json_bytes(feed: FeedFile) -> bytes:
    # A daily file states its date once; a history export dates each entry (feed contract).
    skip = {"agency_code"} if feed.report_date is None else {"agency_code", "report_date"}
    document: dict[str, object] = {"agency_code": feed.agency_code}
    if feed.report_date is not None:
        document["report_date"] = feed.report_date.isoformat()
    document[feed.kind.entries_key] = [
        {key: value for key, value in row.items() if key not in skip} for row in feed.rows
    ]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _file_bytes(feed: FeedFile) -> bytes:
    feed_format = AGENCY_FORMATS.get(feed.agency_code, FeedFormat())
    plain = _json_bytes(feed) if ".json" in feed.name else _csv_bytes(feed, feed_format)
    return gzip.compress(plain, compresslevel=9, mtime=0) if feed.name.endswith(".gz") else plain


def write_demo_feeds(out_dir: Path, seed: int = 71) -> list[Path]:
    """Write every agency's demo feeds into out_dir; return the paths in the order they arrive.

    Files sharing a database and report date never occur, so the final stages do not depend on
    the order files are loaded in; the order (also set as each file's modification time) only
    shows late reports arriving after later ones.
    """
    rng = random.Random(seed)
    registry = read_registry()
    rows = [row for plan in _plan_all(registry, rng) for row in _rows_for(plan, rng)]
    _break_verification(rows, _verification_cases(registry))
    agencies = list(dict.fromkeys(db.agency_code for db in registry))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    feeds = _group_files(_apply_bad_rows(rows), agencies) + _dictionary_feeds(registry)
    for feed in sorted(feeds, key=lambda feed: (feed.delivered_at, feed.name)):
        path = out_dir / feed.name
        path.write_bytes(_file_bytes(feed))
        stamp = feed.delivered_at.timestamp()
        os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths
