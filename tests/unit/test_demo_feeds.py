"""The demo feeds must tell the 2025 story under the feed contract, read by an independent reader.

The reader below re-implements the contract's row rules, stage rule and as-of rule on its own, so
a generator bug cannot hide behind shared code: if these tests pass, the real pipeline loading the
same files must land on 31 / 36 / 38 with the named databases in their reported groups.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest

from r71_tracker import demo_dictionaries, demo_feeds
from r71_tracker.config import settings

ENUMS = {
    "platform_status": {"not_started", "building", "operational"},
    "data_status": {"none", "digitized", "partial", "centralized"},
}
BOOLEAN_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
INTEGER_FIELDS = ("record_count", "records_updated_30d", "consumer_agencies")
REQUIRED = (
    "report_date",
    "agency_code",
    "database_code",
    "platform_status",
    "data_status",
    "process_integrated",
    "connected_national",
    *INTEGER_FIELDS,
)
DICTIONARY_REQUIRED = (
    "report_date",
    "agency_code",
    "database_code",
    "field_name",
    "field_type",
    "is_original_source",
)
STAGE_RANK = {"not_started": 0, "in_progress": 1, "centralized": 2}
NAMED = {
    "centralized": ("MOJ-CIVIL-STATUS", "MAE-LAND", "SPC-JUDGMENTS", "MOF-FINANCE"),
    "in_progress": (
        "MOC-CONSTRUCTION-ACTIVITY",
        "MOET-EDUCATION",
        "MOHA-SOCIAL-SECURITY",
        "GI-ASSET-INCOME",
        "MOIT-CHEMICALS",
    ),
    "not_started": ("MOH-HEALTH", "MAE-AGRICULTURE", "MPS-ADMIN-VIOLATIONS"),
}
LATEST = date(2025, 12, 15)


def _registry() -> tuple[dict[str, str], set[str]]:
    seeds = settings().seeds_dir
    with (seeds / "registry_databases.csv").open(encoding="utf-8-sig", newline="") as handle:
        owners = {row["database_code"]: row["owner_agency_code"] for row in csv.DictReader(handle)}
    with (seeds / "registry_agencies.csv").open(encoding="utf-8-sig", newline="") as handle:
        agencies = {row["agency_code"] for row in csv.DictReader(handle)}
    return owners, agencies


def _read_rows(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = unicodedata.normalize("NFC", raw.decode("utf-8-sig"))
    if ".json" in path.name:
        document = json.loads(text)
        entries = "fields" if "fields" in document else "databases"
        shared = {key: value for key, value in document.items() if key != entries}
        return [{**shared, **entry} for entry in document[entries]]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _is_dictionary(rows: list[dict[str, object]]) -> bool:
    return bool(rows) and "field_name" in rows[0]


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    return BOOLEAN_TEXT.get(str(value).strip().lower())


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _row_problem(row: dict[str, object], owners: dict[str, str], agencies: set[str]) -> str | None:
    """The contract's reason code for a row, or None when the row loads."""
    if any(row.get(name) in (None, "") for name in REQUIRED):
        return "missing_field"
    if row["agency_code"] not in agencies:
        return "unknown_agency"
    if row["database_code"] not in owners:
        return "unknown_database"
    if owners[str(row["database_code"])] != row["agency_code"]:
        return "agency_mismatch"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(row["report_date"])):
        return "bad_date"
    if any(row[name] not in allowed for name, allowed in ENUMS.items()):
        return "bad_enum"
    if any(_boolean(row[name]) is None for name in ("process_integrated", "connected_national")):
        return "bad_boolean"
    numbers = [_integer(row[name]) for name in INTEGER_FIELDS]
    if any(number is None for number in numbers):
        return "bad_integer"
    if any(number < 0 for number in numbers):
        return "negative_count"
    if numbers[1] > numbers[0]:
        return "updated_exceeds_records"
    return None


def _field_problem(
    row: dict[str, object], owners: dict[str, str], agencies: set[str]
) -> str | None:
    """The contract's reason code for a data-dictionary row (v1.1), or None when it loads."""
    if any(row.get(name) in (None, "") for name in DICTIONARY_REQUIRED):
        return "missing_field"
    if row["agency_code"] not in agencies:
        return "unknown_agency"
    if row["database_code"] not in owners:
        return "unknown_database"
    if owners[str(row["database_code"])] != row["agency_code"]:
        return "agency_mismatch"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(row["report_date"])):
        return "bad_date"
    if _boolean(row["is_original_source"]) is None:
        return "bad_boolean"
    return None


def _normalised(name: str) -> str:
    """A field name folded to ASCII snake case, written independently of the dbt macro."""
    folded = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", ascii_only.lower()).strip("_")


def _stage(row: dict[str, object]) -> str:
    if (
        row["platform_status"] == "operational"
        and row["data_status"] == "centralized"
        and _boolean(row["process_integrated"])
    ):
        return "centralized"
    if row["platform_status"] == "not_started" and row["data_status"] == "none":
        return "not_started"
    return "in_progress"


class LoadedFeeds:
    """Every file read back in arrival order: the rows that load and the rows quarantined."""

    def __init__(self, paths: list[Path]) -> None:
        self.owners, agencies = _registry()
        self.paths: list[Path] = []  # status feeds
        self.dictionary_paths: list[Path] = []
        self.loaded: list[tuple[int, dict[str, object]]] = []
        self.fields: list[tuple[int, dict[str, object]]] = []
        self.rejected: Counter[str] = Counter()
        self.loaded_per_file: Counter[str] = Counter()
        for order, path in enumerate(paths):
            rows = _read_rows(path)
            if _is_dictionary(rows):
                self.dictionary_paths.append(path)
                self._read_dictionary(order, path, rows, agencies)
                continue
            self.paths.append(path)
            keys = Counter((row.get("database_code"), row.get("report_date")) for row in rows)
            for row in rows:
                problem = _row_problem(row, self.owners, agencies)
                if problem is None and keys[(row["database_code"], row["report_date"])] > 1:
                    problem = "duplicate_database_in_file"
                if problem:
                    self.rejected[problem] += 1
                else:
                    self.loaded.append((order, row))
                    self.loaded_per_file[path.name] += 1

    def _read_dictionary(
        self, order: int, path: Path, rows: list[dict[str, object]], agencies: set[str]
    ) -> None:
        keys = Counter(
            (row.get("database_code"), row.get("report_date"), str(row.get("field_name")).lower())
            for row in rows
        )
        for row in rows:
            problem = _field_problem(row, self.owners, agencies)
            key = (row["database_code"], row["report_date"], str(row["field_name"]).lower())
            if problem is None and keys[key] > 1:
                problem = "duplicate_field_in_file"
            if problem:
                self.rejected[problem] += 1
            else:
                self.fields.append((order, row))
                self.loaded_per_file[path.name] += 1

    def dictionaries(self, as_of: date) -> dict[str, list[dict[str, object]]]:
        """Per database: the rows of its latest dictionary <= as_of (the last file on that day)."""
        latest: dict[str, tuple[str, int]] = {}
        for order, row in self.fields:
            day = str(row["report_date"])
            code = str(row["database_code"])
            if day <= as_of.isoformat() and (day, order) >= latest.get(code, ("", -1)):
                latest[code] = (day, order)
        current: dict[str, list[dict[str, object]]] = defaultdict(list)
        for order, row in self.fields:
            code = str(row["database_code"])
            if latest.get(code) == (str(row["report_date"]), order):
                current[code].append(row)
        return dict(current)

    def effective_rows(self, as_of: date) -> dict[str, dict[str, object]]:
        """Per database: the loaded row with the latest report_date <= as_of, last file wins."""
        best: dict[str, tuple[str, int, dict[str, object]]] = {}
        for order, row in self.loaded:
            day = str(row["report_date"])
            if day > as_of.isoformat():
                continue
            code = str(row["database_code"])
            if code not in best or (day, order) >= best[code][:2]:
                best[code] = (day, order, row)
        return {code: entry[2] for code, entry in best.items()}

    def stages(self, as_of: date) -> dict[str, str]:
        effective = self.effective_rows(as_of)
        return {
            code: _stage(effective[code]) if code in effective else "not_started"
            for code in self.owners
        }


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> LoadedFeeds:
    return LoadedFeeds(demo_feeds.write_demo_feeds(tmp_path_factory.mktemp("feeds")))


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    first = demo_feeds.write_demo_feeds(tmp_path / "first", seed=71)
    second = demo_feeds.write_demo_feeds(tmp_path / "second", seed=71)
    assert [path.name for path in first] == [path.name for path in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    other = demo_feeds.write_demo_feeds(tmp_path / "other", seed=2026)
    assert [path.read_bytes() for path in other] != [path.read_bytes() for path in first]


@pytest.mark.parametrize("seed", [71, 2026])
def test_latest_date_gives_31_36_38_with_named_databases_in_their_group(
    tmp_path: Path, seed: int
) -> None:
    loaded = LoadedFeeds(demo_feeds.write_demo_feeds(tmp_path, seed=seed))
    stages = loaded.stages(LATEST)
    assert Counter(stages.values()) == {"centralized": 31, "in_progress": 36, "not_started": 38}
    assert dict(demo_feeds.EXPECTED_STAGE_COUNTS) == dict(Counter(stages.values()))
    assert stages == demo_feeds.expected_final_stages()
    for stage, codes in NAMED.items():
        assert {code: stages[code] for code in codes} == dict.fromkeys(codes, stage)
    effective = loaded.effective_rows(LATEST)
    for code in NAMED["in_progress"]:
        assert effective[code]["data_status"] in {"digitized", "partial"}


def test_quarantine_catches_the_planned_bad_rows_and_never_a_whole_file(
    feeds: LoadedFeeds,
) -> None:
    assert dict(feeds.rejected) == dict(demo_feeds.EXPECTED_BAD_ROWS.by_reason)
    assert sum(feeds.rejected.values()) == demo_feeds.EXPECTED_BAD_ROWS.count
    assert 8 <= demo_feeds.EXPECTED_BAD_ROWS.count <= 11
    paths = feeds.paths + feeds.dictionary_paths
    assert all(feeds.loaded_per_file[path.name] > 0 for path in paths)


def _aliases() -> dict[str, str]:
    seed = settings().seeds_dir / "field_name_aliases.csv"
    with seed.open(encoding="utf-8", newline="") as handle:
        return {row["alias"]: row["field_name"] for row in csv.DictReader(handle)}


def test_dictionaries_show_duplicated_collection_of_citizen_data(feeds: LoadedFeeds) -> None:
    """Read independently: who collects each field and who claims to be its original source."""
    aliases = _aliases()
    collectors: dict[str, set[str]] = defaultdict(set)
    claims: dict[str, set[str]] = defaultdict(set)
    for code, rows in feeds.dictionaries(LATEST).items():
        for row in rows:
            name = _normalised(str(row["field_name"]))
            name = aliases.get(name, name)
            collectors[name].add(code)
            if _boolean(row["is_original_source"]):
                claims[name].add(code)
    findings = {
        name: "no_original_source" if not claims[name] else "several_original_sources"
        for name, codes in collectors.items()
        if len(codes) > 1 and len(claims[name]) != 1
    }
    assert findings == dict(demo_dictionaries.EXPECTED_DUPLICATED_FIELDS)
    # citizen ID, full name: many collectors, one original source (the population database)
    for name in ("so_dinh_danh_ca_nhan", "ho_va_ten"):
        assert len(collectors[name]) >= 10 and claims[name] == {"MPS-POPULATION"}, name
    # only the latest dictionary counts: VSS's first one also claimed full name
    first = feeds.dictionaries(demo_dictionaries.DICTIONARY_REPORT_DATE)["VSS-INSURANCE"]
    assert any(
        row["field_name"] == "Họ và tên" and _boolean(row["is_original_source"]) for row in first
    )


def test_every_agency_owning_a_database_sends_files_in_every_format(feeds: LoadedFeeds) -> None:
    names = [path.name for path in feeds.paths]
    senders = {name.split("_", 1)[0] for name in names}
    dictionary = re.compile(r"[A-Z]+_fields_(\d{4}-\d{2}-\d{2})\.(csv|json)(\.gz)?")
    assert feeds.dictionary_paths
    assert all(dictionary.fullmatch(path.name) for path in feeds.dictionary_paths)
    assert senders == set(feeds.owners.values())
    assert any(name.endswith(".csv.gz") for name in names)
    assert any(name.endswith(".json.gz") for name in names)
    assert any(name.endswith(".json") for name in names)
    history = re.compile(r"[A-Z]+_history_2025-04-01_2025-10-31\.(csv|json)(\.gz)?")
    daily = re.compile(r"[A-Z]+_(\d{4}-\d{2}-\d{2})\.(csv|json)(\.gz)?")
    assert sum(1 for name in names if history.fullmatch(name)) == len(senders)
    assert all(history.fullmatch(name) or daily.fullmatch(name) for name in names)


def test_report_dates_follow_the_fortnightly_cadence(feeds: LoadedFeeds) -> None:
    cadence = set(demo_feeds.report_dates())
    assert min(cadence) >= date(2025, 4, 1) and max(cadence) == LATEST
    for path in feeds.paths:
        days = {date.fromisoformat(str(row["report_date"])) for row in _read_rows(path)}
        assert days <= cadence
        if "_history_" in path.name:
            assert max(days) <= date(2025, 10, 31)
        else:
            assert days == {date.fromisoformat(path.name.split("_")[1][:10])}
            assert min(days) > date(2025, 10, 31)


def test_some_reports_arrive_late_and_some_are_skipped(feeds: LoadedFeeds) -> None:
    latest_seen: dict[str, str] = {}
    late = []
    for path in feeds.paths:
        agency, rest = path.name.split("_", 1)
        if rest.startswith("history"):
            continue
        day = rest[:10]
        if day < latest_seen.get(agency, ""):
            late.append(path.name)
        latest_seen[agency] = max(day, latest_seen.get(agency, ""))
    assert late
    dailies = Counter(
        path.name.split("_", 1)[0] for path in feeds.paths if "_history_" not in path.name
    )
    assert min(dailies.values()) < max(dailies.values())


def test_a_database_never_reported_still_counts_as_not_started(feeds: LoadedFeeds) -> None:
    reported = {str(row["database_code"]) for _, row in feeds.loaded}
    never = set(feeds.owners) - reported
    assert never
    stages = feeds.stages(LATEST)
    assert {stages[code] for code in never} == {"not_started"}


def test_stages_move_forward_with_few_setbacks_and_some_stalls(feeds: LoadedFeeds) -> None:
    history: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _, row in feeds.loaded:
        history[str(row["database_code"])].append((str(row["report_date"]), _stage(row)))
    setbacks = 0
    moved = 0
    for reports in history.values():
        ranks = [STAGE_RANK[stage] for _, stage in sorted(reports)]
        setbacks += sum(1 for before, after in pairwise(ranks) if after < before)
        moved += ranks[-1] > ranks[0]
    assert setbacks <= 3
    assert moved >= 20
    summary = [Counter(feeds.stages(day).values()) for day in demo_feeds.report_dates()]
    assert summary[0]["centralized"] < summary[-1]["centralized"]
    assert summary[0]["not_started"] > summary[-1]["not_started"]


def test_rows_look_like_real_databases(feeds: LoadedFeeds) -> None:
    national = {"MOJ-CIVIL-STATUS", "MAE-LAND", "MOF-FINANCE", "MPS-POPULATION"}
    effective = feeds.effective_rows(LATEST)
    assert all(int(effective[code]["record_count"]) > 1_000_000 for code in national)
    for _, row in feeds.loaded:
        if row["platform_status"] == "not_started":
            assert int(row["record_count"]) == 0 and int(row["consumer_agencies"]) == 0
    notes = " ".join(str(row.get("notes", "")) for _, row in feeds.loaded)
    assert "Đã kết nối với Nền tảng tích hợp, chia sẻ dữ liệu quốc gia" in notes
