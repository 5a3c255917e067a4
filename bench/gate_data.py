"""Inputs of the quality gate benchmark: a 10,000-database registry and the relations the six
words' suites read, generated in PostgreSQL with set-based SQL only (generate_series).

Database n (0..9,999) is `BENCH-DB-nnnnn`, owned round-robin by the registry's real agencies; day
d (0..999) is LAST_DAY - 999 + d, LAST_DAY being the gate's run date. Every agency sends one
file a day holding one row per database it owns, so a (database, day) has one report, in file
`d * agencies + agency + 1` at line `n / agencies + 2` (line 1 is the header). Every value is
valid, so every expectation passes and both sides of the benchmark do a full pass.

The relations are tables with the columns, types, NOT NULLs and primary keys that dbt's model
contracts give the marts. In the project `staging.int_status_reports_received` is a view over
raw.status_reports and raw.feed_files; here it is a table of the same shape (with raw's NOT
NULLs), which the gate reads the same way. Everything is vacuumed and analysed once generated.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import psycopg

from r71_tracker.config import PROJECT_ROOT

DATABASES = 10_000
DAYS = 1_000
LAST_DAY = date(2025, 12, 15)
INPUTS_VERSION = 3  # bump when the generated data changes
NOTES = (
    "Đã kết nối với CSDL quốc gia về dân cư",
    "Đang xây dựng, dự kiến hoàn thành quý IV",
    "Chưa triển khai; chờ phê duyệt kinh phí",
    "Đồng bộ dữ liệu hằng ngày với Trung tâm dữ liệu quốc gia",
    "Số hoá hồ sơ giấy, đã kiểm tra 60%",
    "",
    "Hệ thống vận hành ổn định",
    "Cập nhật theo Nghị quyết 71/NQ-CP",
)
FIELD_NAMES = ("ho_ten", "ngay_sinh", "so_dinh_danh", "dia_chi", "so_dien_thoai")
FIELD_TYPES = ("text", "date", "text", "text", "text")

# One report's values as SQL expressions of the database number `n` and the day number `d`:
# `history` and `current status` take them from the same formulas, so a database's current
# status is its report of its effective day. Centralized data is operational, connected, used
# and updated (the warning words' shares pass too).
_DATA_STATUS = "mod(n + d, 4)"
VALUES = {
    "platform_status": f"(array['not_started', 'building', 'operational', 'operational'])"
    f"[1 + {_DATA_STATUS}]",
    "data_status": f"(array['none', 'digitized', 'partial', 'centralized'])[1 + {_DATA_STATUS}]",
    "stage": f"(array['not_started', 'in_progress', 'in_progress', 'centralized'])"
    f"[1 + {_DATA_STATUS}]",
    "process_integrated": f"{_DATA_STATUS} >= 2",
    "connected_national": f"{_DATA_STATUS} = 3 or mod(n + d, 5) = 0",
    "record_count": "(1000 + mod(n * 7919 + d * 104729, 50000000))::bigint",
    "records_updated_30d": "((1000 + mod(n * 7919 + d * 104729, 50000000)) / 3)::bigint",
    "consumer_agencies": "(1 + mod(n + d, 29))::integer",
    "notes": "(%(notes)s::text[])[1 + mod(n * 7 + d, cardinality(%(notes)s::text[]))]",
}


def signature(databases: int, days: int) -> str:
    return (
        f"gate bench inputs v{INPUTS_VERSION}: {databases} databases x {days} days"
        f" to {LAST_DAY.isoformat()}"
    )


def agencies() -> list[str]:
    """The real registry's agency codes, in file order."""
    path = PROJECT_ROOT / "dbt_project" / "seeds" / "registry_agencies.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["agency_code"] for row in csv.DictReader(handle)]


def database_code(number: int) -> str:
    return f"BENCH-DB-{number:05d}"


def write_seeds(seeds: Path, databases: int = DATABASES) -> None:
    """registry_databases.csv (`databases` databases owned round-robin by the real agencies) and
    the real registry_agencies.csv (and provinces, liaisons) into `seeds`."""
    real = PROJECT_ROOT / "dbt_project" / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    for name in ("registry_agencies.csv", "registry_provinces.csv", "registry_liaisons.csv"):
        if (real / name).is_file():
            shutil.copy(real / name, seeds / name)
    owners = agencies()
    with (real / "registry_databases.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    with (seeds / "registry_databases.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="")
        writer.writeheader()
        for number in range(databases):
            writer.writerow(
                {
                    "database_code": database_code(number),
                    "owner_agency_code": owners[number % len(owners)],
                    "name_vi": f"[Minh họa] Cơ sở dữ liệu thử tải {number}",
                    "name_en": f"[Illustrative] Bench database {number}",
                    "kind": "specialized",
                    "provenance": "illustrative",
                    "deadline_date": "2026-12-31",
                }
            )


def _tables_sql() -> list[str]:
    return [
        "create schema if not exists staging",
        "create schema if not exists marts",
        """create table staging.registry_databases (
            database_code text, owner_agency_code text, name_vi text, name_en text, kind text,
            provenance text, deadline_date date, deadline_note text, source text, notes text)""",
        """create table staging.int_status_reports_received (
            status_report_id text, file_id bigint not null, line_number integer not null,
            database_code text not null, agency_code text not null,
            platform_status text not null, data_status text not null, notes text,
            record_count bigint not null, records_updated_30d bigint not null,
            consumer_agencies integer not null, process_integrated boolean not null,
            connected_national boolean not null, report_date date not null,
            received_at timestamptz not null, received_date date,
            records_not_updated_30d bigint, days_from_report_to_receipt integer)""",
        """create table marts.stage_history (
            database_code text not null, status_date date not null, stage text not null,
            is_unreported boolean not null, effective_report_date date,
            evidence_file_id bigint, evidence_line_number integer)""",
        """create table marts.database_current_status (
            database_code text not null primary key, owner_agency_code text,
            database_name_vi text, database_name_en text, provenance text, stage text not null,
            platform_status text, data_status text, is_unreported boolean not null,
            process_integrated boolean, connected_national boolean, record_count bigint,
            records_updated_30d bigint, consumer_agencies integer, effective_report_date date,
            evidence_file_id bigint, evidence_file_name text, evidence_line_number integer,
            as_of_date date not null,
            database_kind text, report_notes text, report_age_days integer, deadline_date date,
            evidence_received_at timestamptz)""",
        """create table marts.agency_feed_freshness (
            agency_code text not null primary key, agency_name_vi text, agency_name_en text,
            databases_owned bigint not null, databases_reported bigint not null,
            files_received bigint not null, files_rejected bigint not null,
            rows_rejected bigint not null, days_since_last_report integer,
            freshness_max_age_days integer not null, is_late boolean not null,
            last_report_date date, as_of_date date not null,
            last_received_at timestamptz)""",
        """create table marts.feed_file_loads (
            file_id bigint not null primary key, agency_code text, original_name text,
            feed_format text, feed_kind text, file_status text not null, file_reason_code text,
            file_reason_message text, file_state text not null,
            rows_received integer, rows_loaded integer, rows_rejected integer,
            status_rows_stored bigint, field_rows_stored bigint, rejected_rows_stored bigint,
            size_bytes bigint, first_report_date date, last_report_date date,
            received_at timestamptz not null)""",
        """create table marts.database_fields (
            database_code text not null, owner_agency_code text not null,
            database_name_vi text, database_name_en text, field_name text not null,
            field_names_sent text not null, field_type text, finding text,
            times_listed bigint not null, databases_collecting bigint not null,
            is_original_source boolean not null, is_duplicated boolean not null,
            effective_report_date date not null, as_of_date date not null,
            evidence_file_id bigint, evidence_file_name text, evidence_line_number integer,
            evidence_received_at timestamptz,
            primary key (database_code, field_name))""",
    ]


# The databases (n, code, owner, the owner's number, the line of its row in the owner's files).
_DATABASES_SQL = """
create table public.bench_databases as
select
    n,
    'BENCH-DB-' || lpad(n::text, 5, '0') as database_code,
    mod(n, cardinality(%(agencies)s::text[])) as agency_number,
    (%(agencies)s::text[])[1 + mod(n, cardinality(%(agencies)s::text[]))] as agency_code,
    n / cardinality(%(agencies)s::text[]) + 2 as line_number
from generate_series(0, %(databases)s - 1) as n
"""

_REGISTRY_SQL = """
insert into staging.registry_databases
select
    database_code, agency_code, '[Minh họa] Cơ sở dữ liệu thử tải ' || n,
    '[Illustrative] Bench database ' || n, 'specialized', 'illustrative', date '2026-12-31',
    null, null, null
from public.bench_databases
"""

# A report (database n, day d): its file, line and dates. {days} gives the day numbers d.
_REPORTS = """
select
    b.n, d, b.database_code, b.agency_code, b.line_number,
    d * %(agency_count)s + b.agency_number + 1 as file_id,
    %(first_day)s::date + d as report_date,
    (%(first_day)s::date + d + time '02:00') at time zone 'UTC' as received_at
from {days}
"""
_DAY_RANGE = (
    "generate_series(%(day_from)s::integer, %(day_to)s::integer) as d"
    " cross join public.bench_databases as b"
)
# A database's effective day in its current status: the run date or up to six days before.
_EFFECTIVE_DAY = (
    "public.bench_databases as b cross join lateral (select %(days)s - 1 - mod(b.n, 7) as d) as e"
)


def _history_sql(values: dict[str, str]) -> str:
    return f"""
insert into staging.int_status_reports_received
select
    file_id || ':' || line_number, file_id, line_number, database_code, agency_code,
    {values["platform_status"]}, {values["data_status"]}, {values["notes"]},
    {values["record_count"]}, {values["records_updated_30d"]}, {values["consumer_agencies"]},
    {values["process_integrated"]}, {values["connected_national"]},
    report_date, received_at, report_date,
    {values["record_count"]} - {values["records_updated_30d"]}, 0
from ({_REPORTS.format(days=_DAY_RANGE)}) as r
"""


def _stage_history_sql(values: dict[str, str]) -> str:
    return f"""
insert into marts.stage_history
select
    database_code, report_date, {values["stage"]}, false, report_date, file_id, line_number
from ({_REPORTS.format(days=_DAY_RANGE)}) as r
"""


def _current_status_sql(values: dict[str, str]) -> str:
    return f"""
insert into marts.database_current_status
select
    database_code, agency_code, '[Minh họa] Cơ sở dữ liệu thử tải ' || n,
    '[Illustrative] Bench database ' || n, 'illustrative', {values["stage"]},
    {values["platform_status"]}, {values["data_status"]}, false, {values["process_integrated"]},
    {values["connected_national"]}, {values["record_count"]}, {values["records_updated_30d"]},
    {values["consumer_agencies"]}, report_date, file_id,
    lower(agency_code) || '_' || report_date || '.csv', line_number, %(run_date)s::date,
    'specialized', {values["notes"]}, %(run_date)s::date - report_date, date '2026-12-31',
    received_at
from ({_REPORTS.format(days=_EFFECTIVE_DAY)}) as r
"""


_AGENCY_FRESHNESS_SQL = """
insert into marts.agency_feed_freshness
select
    agency_code, 'Cơ quan ' || agency_code, 'Agency ' || agency_code, count(*), count(*),
    %(days)s, 0, 0, min(mod(n, 7)), 14, false, %(run_date)s::date - min(mod(n, 7)),
    %(run_date)s::date, (%(run_date)s::date + time '02:00') at time zone 'UTC'
from public.bench_databases
group by agency_code
"""

_FILE_LOADS_SQL = """
insert into marts.feed_file_loads
select
    d * %(agency_count)s + a.agency_number + 1, a.agency_code,
    lower(a.agency_code) || '_' || (%(first_day)s::date + d) || '.csv', 'csv', 'status',
    'loaded', null, null, 'new', a.databases, a.databases, 0, a.databases, 0, 0,
    120 * a.databases,
    %(first_day)s::date + d, %(first_day)s::date + d,
    (%(first_day)s::date + d + time '02:00') at time zone 'UTC'
from generate_series(0, %(days)s - 1) as d
cross join (
    select agency_number, agency_code, count(*)::integer as databases
    from public.bench_databases group by agency_number, agency_code
) as a
"""

_FIELDS_SQL = """
insert into marts.database_fields
select
    b.database_code, b.agency_code, '[Minh họa] Cơ sở dữ liệu thử tải ' || b.n,
    '[Illustrative] Bench database ' || b.n, (%(field_names)s::text[])[f],
    (%(field_names)s::text[])[f], (%(field_types)s::text[])[f], null, 1,
    %(databases)s, f = 3, false, %(run_date)s::date, %(run_date)s::date,
    %(files)s + b.n + 1, 'fields_' || b.agency_code || '.csv', f + 1,
    (%(run_date)s::date + time '02:00') at time zone 'UTC'
from public.bench_databases as b
cross join generate_series(1, cardinality(%(field_names)s::text[])) as f
"""


def generate(url: str, databases: int = DATABASES, days: int = DAYS) -> None:
    """Create and fill the relations (the caller gives a database with the tracker schema);
    history in two halves on two connections (both cores)."""
    from concurrent.futures import ThreadPoolExecutor

    owners = agencies()
    params = {
        "agencies": owners,
        "agency_count": len(owners),
        "databases": databases,
        "days": days,
        "first_day": LAST_DAY - timedelta(days=days - 1),
        "run_date": LAST_DAY,
        "notes": list(NOTES),
        "field_names": list(FIELD_NAMES),
        "field_types": list(FIELD_TYPES),
        "files": days * len(owners),
    }
    with psycopg.connect(url) as conn:
        for statement in _tables_sql():
            conn.execute(statement)
        conn.execute("drop table if exists public.bench_databases")
        conn.execute(_DATABASES_SQL, params)
        for statement in (
            _REGISTRY_SQL,
            _current_status_sql(VALUES),
            _AGENCY_FRESHNESS_SQL,
            _FILE_LOADS_SQL,
            _FIELDS_SQL,
        ):
            conn.execute(statement, params)

    def fill(statement: str, day_from: int, day_to: int) -> None:
        with psycopg.connect(url) as conn:
            conn.execute(statement, {**params, "day_from": day_from, "day_to": day_to})

    half = days // 2
    jobs = [
        (_history_sql(VALUES), 0, half - 1),
        (_history_sql(VALUES), half, days - 1),
        (_stage_history_sql(VALUES), 0, half - 1),
        (_stage_history_sql(VALUES), half, days - 1),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(fill, *job) for job in jobs]:
            future.result()
    with psycopg.connect(url, autocommit=True) as conn:
        # The history's primary key, as dbt's contract declares it (built once, after the load).
        conn.execute("alter table marts.stage_history add primary key (database_code, status_date)")
        conn.execute("drop table public.bench_databases")
        # Hint bits set, visibility map and statistics in place: no timed run pays for them.
        conn.execute("vacuum (freeze, analyze)")
        conn.execute(f"comment on schema marts is '{signature(databases, days)}'")


def generated(url: str, databases: int = DATABASES, days: int = DAYS) -> bool:
    """True when `url` holds these inputs already (generation completed)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = 'marts'"
        ).fetchone()
    return bool(row) and row[0] == signature(databases, days)
