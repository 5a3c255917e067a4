"""`make bench` (pages part): each tracker page's server time against the time of the SQL that
reads its rows, at 10 years of daily history for a 10,000-database registry.

Issue: each page's server time <= 1.5 x the time of the SQL that reads its rows (medians, same
run); the database page reads by index (EXPLAIN shows no scan of the whole history).

Inputs, in scratch database `tracker_bench_pages` (TRACKER_BENCH_PAGES_DATABASE; embedded server
unless TRACKER_DATABASE_URL is set; dropped at the end unless --keep): the demo is ingested,
built by dbt, gated and published as tests/integration/test_tracker_pages.py does, so every mart
has the columns, contract constraints and indexes dbt gives it and the audit and raw tables are
the tracker's own; then the tables the pages read are emptied and filled again at scale with
set-based SQL (generate_series; the marts stay logged tables, as built): a registry of 10,000
databases owned round-robin by the registry's real agencies, 3,652 days (10 years) to 2025-12-15,
each database reporting once a week in its agency's daily file:

- marts.stage_history: 10,000 x 3,652 rows (36.5 M), in date order as dbt's build leaves it
  (the demo's table: correlation 1.0 on status_date), its primary key built after the load;
- marts.database_reports: every weekly report (about 5.2 M rows), in database order as dbt leaves
  it, its (database_code, report_date) index dropped before the load and created again after;
- stage_summary and deadline_burndown (one row a day, aggregated from the history), the current,
  verified and risk marts per database, agency scorecard and freshness, feed_file_loads and
  database_fields (five fields per database);
- raw.feed_files (one file per agency per day, with stored chunks for the files the database and
  feed-line pages quote), raw.rejected_rows (one row in every 16th file), audit.gate_runs and
  publications (one a day), the demo's expectation results under the latest run, a file verdict
  per file (one agency's last files held) and a few operator events. VACUUM (ANALYZE) after.

Each page is timed two ways: the page function with its render (`web.pages`, what a route runs)
on a connection of the app's own pool (`web.app.reader`: the read-only auditor role), pool
checkout included; and the request through the FastAPI app (TestClient, mounted at /tracker,
no access dependency), for information. The SQL side: the statements the page executed (captured
once by a wrapper around its connection), run again alone on a connection of the same pool,
fetching every row. WARM_UP runs of each, then REPEAT alternating runs; medians. Every statement
the database page runs is EXPLAINed (ANALYZE, BUFFERS); a sequential scan of marts.stage_history
or marts.database_reports fails the bench, as does a page over the target.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from r71_tracker import database
from r71_tracker.config import PROJECT_ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gate_data  # noqa: E402  (the gate bench's generated values, shared)

BENCH_DATABASE = "tracker_bench_pages"
TARGET_RATIO = 1.5
REPEAT = 15
WARM_UP = 3
DATABASES = 10_000
YEARS = 10
LAST_DAY = date(2025, 12, 15)  # the demo's latest report date: the demo's publication is kept
DEADLINE = date(2026, 12, 31)
INPUTS_VERSION = 1  # bump when the generated data changes (a kept database is rebuilt)
LANG = "vi"  # the pages' default language (numbers and dates formatted the Vietnamese way)
# The tables emptied and filled again (the others keep the demo's rows; no page reads them).
FILLED = (
    "marts.stage_history",
    "marts.database_reports",
    "marts.stage_summary",
    "marts.deadline_burndown",
    "marts.database_current_status",
    "marts.database_verified_stage",
    "marts.database_deadline_risk",
    "marts.agency_scorecard",
    "marts.agency_feed_freshness",
    "marts.feed_file_loads",
    "marts.database_fields",
    "raw.feed_files",
    "raw.feed_file_chunks",
    "raw.rejected_rows",
    "raw.status_reports",
    "raw.field_reports",
    "audit.gate_runs",
    "audit.publications",
    "audit.expectation_results",
    "audit.file_verdicts",
    "audit.file_events",
)
REJECT_REASONS = ("unknown_database", "bad_date", "bad_enum", "missing_field", "malformed_row")
HEADER = (
    "report_date,agency_code,database_code,platform_status,data_status,process_integrated,"
    "connected_national,record_count,records_updated_30d,consumer_agencies,notes"
)

# ---------------------------------------------------------------------------------------------
# Inputs. Database n (0..N-1) is BENCH-DB-nnnnn, owned by agency n mod A; k = n / A is its rank
# in its agency. It reports on the days d (0..D-1, day 0 = the first) with d mod 7 = k mod 7,
# from day r0 on, in its agency's file of that day (file_id d * A + agency + 1) at line
# k / 7 + 2. Its stage moves from not_started to in_progress at s1 and to centralized at s2
# (days of the report in force). Everything below derives from these numbers.
# ---------------------------------------------------------------------------------------------

_DATABASES_SQL = """
create table public.bench_databases as
select
    n, database_code, agency_number, agency_code, k, mod(k, 7) as o, r0,
    r0 + mod(n * 13, %(days)s / 4) as s1,
    r0 + mod(n * 13, %(days)s / 4) + %(days)s / 12 + mod(n * 29, %(days)s * 3 / 4) as s2,
    k / 7 + 2 as line_number
from (
    select
        n,
        'BENCH-DB-' || lpad(n::text, 5, '0') as database_code,
        mod(n, %(agency_count)s) as agency_number,
        (%(agencies)s::text[])[1 + mod(n, %(agency_count)s)] as agency_code,
        n / %(agency_count)s as k,
        mod(n / %(agency_count)s, 7) + 7 * mod(n, 40) as r0
    from generate_series(0, %(databases)s - 1) as n
) as numbered
order by n
"""


def _stage(day: str) -> str:
    """The stage of database `b` by its report of day number `day`."""
    return (
        f"case when {day} < b.s1 then 'not_started' when {day} < b.s2 then 'in_progress'"
        " else 'centralized' end"
    )


# A report's values from its stage `st`, the database number `b.n` and its day `d`.
_REPORT_VALUES = """
    case st when 'not_started' then 'not_started'
        when 'in_progress' then (array['building', 'operational'])[1 + mod(b.n + d, 2)]
        else 'operational' end as platform_status,
    case st when 'not_started' then 'none'
        when 'in_progress' then (array['digitized', 'partial'])[1 + mod(b.n + d, 2)]
        else 'centralized' end as data_status,
    (%(notes)s::text[])[1 + mod(b.n * 7 + d, cardinality(%(notes)s::text[]))] as notes,
    (1000 + mod(b.n * 7919 + d * 104729, 50000000))::bigint as record_count,
    ((1000 + mod(b.n * 7919 + d * 104729, 50000000)) / 3)::bigint as records_updated_30d,
    (1 + mod(b.n + d, 29))::integer as consumer_agencies,
    st <> 'not_started' as process_integrated,
    st = 'centralized' as connected_national
"""

# One (database, day) of the history: the report in force is the last weekly one (day e).
_HISTORY_SQL = f"""
insert into marts.stage_history
select
    b.database_code,
    %(first_day)s::date + d,
    case when e < b.r0 then 'not_started' else {_stage("e")} end,
    e < b.r0,
    case when e >= b.r0 then %(first_day)s::date + e end,
    case when e >= b.r0 then e * %(agency_count)s + b.agency_number + 1 end,
    case when e >= b.r0 then b.line_number end
from generate_series(%(day_from)s::integer, %(day_to)s::integer) as d
-- the day outside (the lateral reference keeps it there): rows in date order, as dbt's are
cross join lateral (
    select databases.*, d - mod(d + 7 - databases.o, 7) as e
    from public.bench_databases as databases
    where d >= 0
) as b
"""

# Every weekly report of the databases n_from..n_to, in database order (as dbt's table is).
_REPORTS_SQL = f"""
insert into marts.database_reports (
    database_code, agency_code, file_id, line_number, original_name, feed_format,
    platform_status, data_status, notes, record_count, records_updated_30d, consumer_agencies,
    process_integrated, connected_national, report_date, received_at
)
select
    b.database_code, b.agency_code, d * %(agency_count)s + b.agency_number + 1, b.line_number,
    lower(b.agency_code) || '_' || (%(first_day)s::date + d) || '.csv', 'csv',
    platform_status, data_status, notes, record_count, records_updated_30d,
    consumer_agencies, process_integrated, connected_national,
    %(first_day)s::date + d, (%(first_day)s::date + d + time '02:00') at time zone 'UTC'
from public.bench_databases as b
cross join lateral generate_series(b.r0, %(days)s - 1, 7) as d
cross join lateral (select {_stage("d")} as st) as stage
cross join lateral (select {_REPORT_VALUES}) as report
where b.n between %(n_from)s and %(n_to)s
"""

# A database's report in force on the last day (day `e`), or none yet.
_LATEST = f"""
    select b.*, e, e >= b.r0 as reported, {_stage("e")} as st, e as d
    from public.bench_databases as b
    cross join lateral (select %(days)s - 1 - mod(%(days)s - 1 + 7 - b.o, 7) as e) as last
"""

_CURRENT_SQL = f"""
insert into marts.database_current_status (
    database_code, owner_agency_code, database_name_vi, database_name_en, provenance, stage,
    platform_status, data_status, is_unreported, process_integrated, connected_national,
    record_count, records_updated_30d, consumer_agencies, effective_report_date,
    evidence_file_id, evidence_file_name, evidence_line_number, as_of_date, database_kind,
    report_notes, report_age_days, deadline_date, evidence_received_at
)
select
    b.database_code, b.agency_code, '[Minh họa] Cơ sở dữ liệu thử tải ' || b.n,
    '[Illustrative] Bench database ' || b.n, 'illustrative',
    case when b.reported then b.st else 'not_started' end,
    case when b.reported then platform_status end, case when b.reported then data_status end,
    not b.reported,
    case when b.reported then process_integrated end,
    case when b.reported then connected_national end,
    case when b.reported then record_count end, case when b.reported then records_updated_30d end,
    case when b.reported then consumer_agencies end,
    case when b.reported then %(first_day)s::date + b.e end,
    case when b.reported then b.e * %(agency_count)s + b.agency_number + 1 end,
    case when b.reported then lower(b.agency_code) || '_' || (%(first_day)s::date + b.e) || '.csv'
    end,
    case when b.reported then b.line_number end,
    %(run_date)s, 'specialized', case when b.reported then notes end,
    case when b.reported then %(run_date)s - (%(first_day)s::date + b.e) end,
    %(deadline)s,
    case when b.reported then (%(first_day)s::date + b.e + time '02:00') at time zone 'UTC' end
from ({_LATEST}) as b
cross join lateral (select {_REPORT_VALUES}) as report
"""

# Every tenth centralized database verified a stage lower (its records not updated).
_VERIFIED_SQL = """
insert into marts.database_verified_stage (
    database_code, owner_agency_code, reported_stage, verified_stage, downgrade_rule_codes,
    downgrade_reason_en, downgrade_reason_vi, is_downgraded, record_count, records_updated_30d,
    consumer_agencies, reports_looked_back, as_of_date, evidence_file_id, evidence_line_number
)
select
    database_code, owner_agency_code, stage, verified, rule,
    case when rule is not null then 'Records not updated in the last 30 days' end,
    case when rule is not null then 'Dữ liệu không được cập nhật trong 30 ngày qua' end,
    rule is not null, record_count, records_updated_30d, consumer_agencies, 4, as_of_date,
    evidence_file_id, evidence_line_number
from marts.database_current_status as c
cross join lateral (
    select
        case when stage = 'centralized' and right(database_code, 1) = '0'
            then 'stale_records' end as rule
) as downgrade
cross join lateral (
    select case when rule is not null then 'in_progress' else stage end as verified
) as verification
"""

_RISK_SQL = """
insert into marts.database_deadline_risk (
    database_code, owner_agency_code, reported_stage, verified_stage, risk_reason_codes,
    risk_reason_en, risk_reason_vi, is_at_risk, is_past_deadline_not_centralized, days_left,
    days_since_stage_moved, deadline_date, last_stage_move_date, as_of_date
)
select
    v.database_code, v.owner_agency_code, v.reported_stage, v.verified_stage, risk,
    case when risk is not null then 'Not centralized; stalled for more than 60 days' end,
    case when risk is not null then 'Chưa tập trung; không tiến triển hơn 60 ngày' end,
    risk is not null, false, %(deadline)s - %(run_date)s, 90, %(deadline)s,
    %(run_date)s - 90, v.as_of_date
from marts.database_verified_stage as v
cross join lateral (
    select case when v.verified_stage <> 'centralized' and right(v.database_code, 1) in ('1', '4')
        then 'stalled' end as risk
) as at_risk
"""

_SCORECARD_SQL = """
insert into marts.agency_scorecard (
    agency_code, agency_name_vi, agency_name_en, traffic_light, light_rule_code,
    light_reason_codes, light_reason_en, light_reason_vi, light_database_codes, databases_owned,
    databases_verified_centralized, databases_downgraded, databases_at_risk,
    databases_past_deadline, days_since_last_report, last_report_date, as_of_date
)
select
    a.agency_code, a.name_vi, a.name_en, light,
    case light when 'RED' then 'silent' when 'YELLOW' then 'at_risk' end,
    case light when 'RED' then 'silent' when 'YELLOW' then 'at_risk' end,
    case light when 'RED' then 'RED: no report for more than 30 days'
        when 'YELLOW' then 'YELLOW: ' || at_risk || ' databases at risk of missing the deadline'
    end,
    case light when 'RED' then 'ĐỎ: không báo cáo hơn 30 ngày'
        when 'YELLOW' then 'VÀNG: ' || at_risk || ' CSDL có nguy cơ trễ hạn'
    end,
    case when light <> 'GREEN' then codes end,
    owned, centralized, downgraded, at_risk, 0, 0, %(run_date)s, %(run_date)s
from unnest(%(agencies)s::text[], %(names_vi)s::text[], %(names_en)s::text[])
    with ordinality as a (agency_code, name_vi, name_en, number)
cross join lateral (
    select
        count(*) as owned,
        count(*) filter (where r.verified_stage = 'centralized') as centralized,
        count(*) filter (where r.verified_stage <> r.reported_stage) as downgraded,
        count(*) filter (where r.is_at_risk) as at_risk,
        string_agg(r.database_code, ', ' order by r.database_code)
            filter (where r.is_at_risk) as codes
    from marts.database_deadline_risk as r
    where r.owner_agency_code = a.agency_code
) as counts
cross join lateral (
    select (array['RED', 'YELLOW', 'GREEN'])[1 + mod(a.number::integer, 3)] as light
) as lights
"""

_FRESHNESS_SQL = """
insert into marts.agency_feed_freshness (
    agency_code, agency_name_vi, agency_name_en, databases_owned, databases_reported,
    files_received, files_rejected, rows_rejected, days_since_last_report,
    freshness_max_age_days, is_late, last_report_date, as_of_date, last_received_at
)
select
    a.agency_code, a.name_vi, a.name_en, owned, owned, %(days)s, 0,
    (select count(*) from raw.rejected_rows as r join raw.feed_files as f using (file_id)
        where f.agency_code = a.agency_code),
    0, 14, false, %(run_date)s, %(run_date)s, (%(run_date)s + time '02:00') at time zone 'UTC'
from unnest(%(agencies)s::text[], %(names_vi)s::text[], %(names_en)s::text[])
    as a (agency_code, name_vi, name_en)
cross join lateral (
    select count(*) as owned from public.bench_databases as b where b.agency_code = a.agency_code
) as counts
"""

# One file per agency per day: its rows are the reports of that weekday's databases, plus one
# rejected row in every 16th file.
_FILES_SQL = """
insert into raw.feed_files (
    file_id, sha256, original_name, size_bytes, feed_format, agency_code, file_status,
    file_reason_code, file_reason_message, rows_received, rows_loaded, rows_rejected,
    extra_columns, received_at, feed_kind, stored_bytes
) overriding system value
select
    file_id, encode(sha256(('bench file ' || file_id)::bytea), 'hex'),
    lower(w.agency_code) || '_' || (%(first_day)s::date + d) || '.csv',
    120 * (reports + rejected), 'csv', w.agency_code, 'loaded', null, null,
    reports + rejected, reports, rejected, '{}',
    (%(first_day)s::date + d + time '02:00') at time zone 'UTC', 'status',
    120 * (reports + rejected)
from generate_series(0, %(days)s - 1) as d
join (
    select agency_number, agency_code, o, count(*)::integer as reports
    from public.bench_databases group by agency_number, agency_code, o
) as w on w.o = mod(d, 7)
cross join lateral (select d * %(agency_count)s + w.agency_number + 1 as file_id) as ids
cross join lateral (select (mod(file_id, 16) = 0)::integer as rejected) as rejects
order by file_id
"""

_REJECTED_SQL = """
insert into raw.rejected_rows (
    file_id, line_number, reason_code, message, raw_record, raw_record_chars, raw_record_sha256
)
select
    file_id, rows_received + 1, reason, 'Row rejected: ' || reason,
    (received_at::date)::text || ',' || agency_code || ',NOT-A-DATABASE,operational,,x,,1,1,1,',
    60, null
from raw.feed_files
cross join lateral (
    select (%(reasons)s::text[])[1 + mod(file_id / 16, cardinality(%(reasons)s::text[]))]
        as reason
) as reasons
where rows_rejected > 0
"""

_FILE_LOADS_SQL = """
insert into marts.feed_file_loads (
    file_id, agency_code, original_name, feed_format, feed_kind, file_status, file_reason_code,
    file_reason_message, file_state, rows_received, rows_loaded, rows_rejected,
    status_rows_stored, field_rows_stored, rejected_rows_stored, size_bytes, first_report_date,
    last_report_date, received_at
)
select
    f.file_id, f.agency_code, f.original_name, f.feed_format, f.feed_kind, f.file_status, null,
    null, coalesce(v.verdict, 'new'), f.rows_received, f.rows_loaded, f.rows_rejected,
    f.rows_loaded, 0, f.rows_rejected, f.size_bytes, f.received_at::date, f.received_at::date,
    f.received_at
from raw.feed_files as f
left join audit.file_verdicts as v using (file_id)
"""

_FIELDS_SQL = """
insert into marts.database_fields (
    database_code, owner_agency_code, database_name_vi, database_name_en, field_name,
    field_names_sent, field_type, finding, times_listed, databases_collecting,
    is_original_source, is_duplicated, effective_report_date, as_of_date, evidence_file_id,
    evidence_file_name, evidence_line_number, evidence_received_at
)
select
    b.database_code, b.agency_code, '[Minh họa] Cơ sở dữ liệu thử tải ' || b.n,
    '[Illustrative] Bench database ' || b.n, (%(field_names)s::text[])[f],
    (%(field_names)s::text[])[f], (%(field_types)s::text[])[f],
    case when f = 1 then 'several_original_sources' end, 1,
    case when f = 1 then %(databases)s else 1 end, f in (1, 3), f = 1, %(run_date)s,
    %(run_date)s, (%(days)s - 1) * %(agency_count)s + b.agency_number + 1,
    'fields_' || lower(b.agency_code) || '.csv', b.k + 2,
    (%(run_date)s + time '02:00') at time zone 'UTC'
from public.bench_databases as b
cross join generate_series(1, cardinality(%(field_names)s::text[])) as f
"""

# One gate run a day (every 97th failed, not published), each passing run published.
_GATE_RUNS_SQL = """
insert into audit.gate_runs (
    run_id, dag_run_id, run_date, code_version, started_at, finished_at, success,
    blocking_failures, warnings, data_docs_path, candidate_schema, held_agencies,
    national_failures
)
select
    'bench__gate_' || day, 'scheduled__' || day, day, 'bench',
    (day + time '03:00') at time zone 'UTC', (day + time '03:01') at time zone 'UTC',
    not failed, failed::integer, mod(d, 3), null,
    'build__candidate_' || to_char(day, 'YYYYMMDD'),
    case when d = %(days)s - 1 then array[%(held_agency)s] else '{}' end,
    failed::integer
from generate_series(0, %(days)s - 1) as d
cross join lateral (select %(first_day)s::date + d as day) as days
cross join lateral (select mod(d, 97) = 48 and d < %(days)s - 1 as failed) as verdicts
order by d
"""

_PUBLICATIONS_SQL = """
insert into audit.publications (
    gate_run_id, dag_run_id, run_date, candidate_schema, files_first_published, held_agencies,
    published_at, inputs_sha256
)
select
    run_id, dag_run_id, run_date, candidate_schema, %(agency_count)s, held_agencies,
    finished_at + interval '1 minute', encode(sha256(run_id::bytea), 'hex')
from audit.gate_runs where success order by run_date
"""

# Every file published by its day's run, except the held agency's last-day file.
_VERDICTS_SQL = """
insert into audit.file_verdicts (
    file_id, verdict, agency_code, gate_run_id, dag_run_id, rule, reason, failing_rows,
    decided_at
)
select
    f.file_id, verdict, f.agency_code, 'bench__gate_' || day, 'scheduled__' || day,
    case when verdict = 'held' then 'file_mostly_quarantined' end,
    case when verdict = 'held' then 'more than half of its rows rejected' end,
    case when verdict = 'held' then f.rows_rejected end,
    (day + time '03:01') at time zone 'UTC'
from raw.feed_files as f
cross join lateral (select f.received_at::date as day) as days
cross join lateral (
    select case when day = %(run_date)s and f.agency_code = %(held_agency)s then 'held'
        else 'published' end as verdict
) as verdicts
where exists (select from audit.gate_runs as g where g.run_date = day and g.success)
"""

_EVENTS_SQL = """
insert into audit.file_events (file_id, action, reason, actor, acted_at)
select file_id, action, reason, 'bench-operator', acted_at
from (
    select
        f.file_id, 'withdraw' as action, 'sent twice by the agency' as reason,
        f.received_at + interval '1 day' as acted_at
    from raw.feed_files as f where f.file_id %% 997 = 0
    union all
    select
        f.file_id, 'restore', 'withdrawn by mistake', f.received_at + interval '2 days'
    from raw.feed_files as f where f.file_id %% 997 = 0
) as events
order by acted_at, action desc
"""

_SUMMARY_SQL = """
insert into marts.stage_summary (
    status_date, total_count, centralized_count, in_progress_count, not_started_count,
    unreported_count
)
select
    status_date, count(*), count(*) filter (where stage = 'centralized'),
    count(*) filter (where stage = 'in_progress'), count(*) filter (where stage = 'not_started'),
    count(*) filter (where is_unreported)
from marts.stage_history
group by status_date
"""

_BURNDOWN_SQL = """
insert into marts.deadline_burndown (
    status_date, deadline_date, databases_total, databases_not_centralized, days_to_deadline,
    ideal_not_centralized
)
select
    s.status_date, %(deadline)s, s.total_count, s.total_count - s.centralized_count,
    %(deadline)s - s.status_date,
    round(first.not_centralized * (%(deadline)s - s.status_date)::numeric
        / (%(deadline)s - %(first_day)s::date), 1)
from marts.stage_summary as s
cross join (
    select total_count - centralized_count as not_centralized
    from marts.stage_summary order by status_date limit 1
) as first
"""


@dataclass(frozen=True)
class Scale:
    databases: int
    days: int

    @property
    def first_day(self) -> date:
        return LAST_DAY - timedelta(days=self.days - 1)

    def signature(self) -> str:
        return f"page bench inputs v{INPUTS_VERSION}: {self.databases} x {self.days} days"


def _agencies() -> list[dict[str, str]]:
    path = PROJECT_ROOT / "dbt_project" / "seeds" / "registry_agencies.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _parameters(scale: Scale) -> dict[str, Any]:
    agencies = _agencies()
    return {
        "agencies": [a["agency_code"] for a in agencies],
        "names_vi": [a["name_vi"] for a in agencies],
        "names_en": [a["name_en"] for a in agencies],
        "agency_count": len(agencies),
        "held_agency": agencies[1]["agency_code"],
        "databases": scale.databases,
        "days": scale.days,
        "first_day": scale.first_day,
        "run_date": LAST_DAY,
        "deadline": DEADLINE,
        "notes": list(gate_data.NOTES),
        "field_names": list(gate_data.FIELD_NAMES),
        "field_types": list(gate_data.FIELD_TYPES),
        "reasons": list(REJECT_REASONS),
    }


def publish_demo(url: str, scratch: Path) -> None:
    """The demo ingested, built, gated and published (as the pages' integration test does):
    the marts as dbt builds them, with their contracts and indexes."""
    from r71_tracker import pipeline
    from r71_tracker.demo_feeds import LATEST_REPORT_DATE, write_demo_feeds
    from r71_tracker.feeds.ingest import ingest_paths

    assert LATEST_REPORT_DATE == LAST_DAY
    feeds = scratch / "feeds"
    write_demo_feeds(feeds)
    ingest_paths([feeds], url, progress=False)
    candidate = pipeline.build_models(LATEST_REPORT_DATE, "pages__bench")
    result = pipeline.run_quality_gate(candidate, dag_run_id="manual__page_bench")
    pipeline.publish(candidate, result.run_id, dag_run_id="manual__page_bench")


@contextmanager
def _step(label: str) -> Iterator[None]:
    print(f"  {label} ...", end="", flush=True)
    began = time.perf_counter()
    yield
    print(f" {time.perf_counter() - began:.1f} s", flush=True)


def _indexes(conn: psycopg.Connection, table: str) -> tuple[list[str], list[str]]:
    """A table's indexes that no constraint owns (their CREATE INDEX) and its primary key
    (ALTER TABLE ... ADD CONSTRAINT), as dbt built them."""
    indexes = [
        row[0]
        for row in conn.execute(
            "select pg_get_indexdef(i.indexrelid) from pg_index i where i.indrelid = %s::regclass"
            " and not exists (select from pg_constraint c where c.conindid = i.indexrelid)",
            (table,),
        )
    ]
    keys = [
        f"alter table {table} add constraint {name} {definition}"
        for name, definition in conn.execute(
            "select quote_ident(conname), pg_get_constraintdef(oid) from pg_constraint"
            " where conrelid = %s::regclass and contype = 'p'",
            (table,),
        )
    ]
    return indexes, keys


def _empty_and_fill_small(
    url: str, params: dict[str, Any]
) -> dict[str, tuple[list[str], list[str]]]:
    """The tables emptied (the large ones' indexes dropped: returned, to build again after the
    load) and the registry, files, rejected rows and audit trail filled."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set maintenance_work_mem = '512MB'")
        demo_results = conn.execute(
            "select suite_name, expectation_type, expectation_kwargs::text, success,"
            " observed_value::text, unexpected_count, code_version, word, severity,"
            " expectation_notes, unexpected_rows::text"
            " from audit.expectation_results order by result_id"
        ).fetchall()
        rebuilt: dict[str, tuple[list[str], list[str]]] = {}
        with _step("tables emptied, the history's key and the reports' index dropped"):
            conn.execute(f"truncate {', '.join(FILLED)} restart identity")
            for table in ("marts.stage_history", "marts.database_reports"):
                rebuilt[table] = indexes, keys = _indexes(conn, table)
                for definition in indexes:
                    name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
                    conn.execute(f"drop index marts.{name}")
                for key in keys:
                    name = key.split(" add constraint ", 1)[1].split(" ", 1)[0]
                    conn.execute(f"alter table {table} drop constraint {name}")
            conn.execute("drop table if exists public.bench_databases")
            conn.execute(_DATABASES_SQL, params)
        with _step("raw.feed_files, rejected rows, gate runs, publications, verdicts, events"):
            for statement in (
                _FILES_SQL,
                _REJECTED_SQL,
                _GATE_RUNS_SQL,
                _PUBLICATIONS_SQL,
                _VERDICTS_SQL,
                _EVENTS_SQL,
                _FILE_LOADS_SQL,
            ):
                conn.execute(statement, params)
            last_run = f"bench__gate_{LAST_DAY.isoformat()}"
            with conn.cursor() as cursor:
                cursor.executemany(
                    "insert into audit.expectation_results (run_id, suite_name,"
                    " expectation_type, expectation_kwargs, success, observed_value,"
                    " unexpected_count, run_date, validated_at, dag_run_id, code_version, word,"
                    " severity, expectation_notes, unexpected_rows) values (%s, %s, %s,"
                    " %s::jsonb, %s, %s::jsonb, %s, %s, now(), %s, %s, %s, %s, %s, %s::jsonb)",
                    [
                        (last_run, *row[:6], LAST_DAY, f"scheduled__{LAST_DAY}", *row[6:])
                        for row in demo_results
                    ],
                )
    return rebuilt


def fill(url: str, scale: Scale) -> None:
    """Empty the tables the pages read and fill them at scale (see the module's docstring)."""
    params = _parameters(scale)
    rebuilt = _empty_and_fill_small(url, params)

    def run(statement: str, extra: dict[str, Any]) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement, {**params, **extra})

    half_days, half_databases = scale.days // 2, scale.databases // 2
    with (
        _step(f"marts.stage_history ({scale.databases * scale.days:,} rows, two connections)"),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        for future in [
            pool.submit(run, _HISTORY_SQL, {"day_from": 0, "day_to": half_days - 1}),
            pool.submit(run, _HISTORY_SQL, {"day_from": half_days, "day_to": scale.days - 1}),
        ]:
            future.result()
    with (
        _step("marts.database_reports (weekly reports, two connections)"),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        for future in [
            pool.submit(run, _REPORTS_SQL, {"n_from": 0, "n_to": half_databases - 1}),
            pool.submit(run, _REPORTS_SQL, {"n_from": half_databases, "n_to": scale.databases - 1}),
        ]:
            future.result()

    def rebuild(table: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("set maintenance_work_mem = '512MB'")
            indexes, keys = rebuilt[table]
            for statement in [*keys, *indexes]:
                conn.execute(statement)

    with (
        _step("the history's primary key and the reports' index built again"),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        for future in [pool.submit(rebuild, table) for table in rebuilt]:
            future.result()
    with psycopg.connect(url, autocommit=True) as conn:
        with _step("summary, burndown, current status, verified, risk, scorecard, fields"):
            for statement in (
                _SUMMARY_SQL,
                _BURNDOWN_SQL,
                _CURRENT_SQL,
                _VERIFIED_SQL,
                _RISK_SQL,
                _SCORECARD_SQL,
                _FRESHNESS_SQL,
                _FIELDS_SQL,
            ):
                conn.execute(statement, params)
        with _step("stored chunks of the files the pages quote"):
            store_quoted_files(conn, scale, params)
        with _step("VACUUM (ANALYZE)"):
            conn.execute("drop table public.bench_databases")
            for table in FILLED:
                conn.execute(f"vacuum (analyze) {table}")
        conn.execute(f"comment on schema marts is '{scale.signature()}'")


def store_quoted_files(conn: psycopg.Connection, scale: Scale, params: dict[str, Any]) -> None:
    """The bytes of the benchmarked database's last five report files, as the feed chunks store
    them: the header, then one line per database of the agency reporting that weekday."""
    code = bench_database_code(scale)
    files = conn.execute(
        "select file_id, report_date from marts.database_reports where database_code = %s"
        " order by report_date desc limit 5",
        (code,),
    ).fetchall()
    for file_id, report_date in files:
        d = (report_date - scale.first_day).days
        lines = conn.execute(
            f"""
            select concat_ws(',', %(day)s::date, b.agency_code, b.database_code,
                platform_status, data_status, process_integrated, connected_national,
                record_count, records_updated_30d, consumer_agencies, notes)
            from public.bench_databases as b
            cross join lateral (select %(d)s::integer as d) as day
            cross join lateral (select {_stage("d")} as st) as stage
            cross join lateral (select {_REPORT_VALUES}) as report
            where b.agency_number = %(file_id)s - 1 - d * %(agency_count)s and b.o = mod(d, 7)
            order by b.k
            """,
            {**params, "d": d, "day": report_date, "file_id": file_id},
        ).fetchall()
        content = "\n".join([HEADER, *(line for (line,) in lines)]) + "\n"
        sha256 = database.scalar(
            conn, "select sha256 from raw.feed_files where file_id = %s", (file_id,)
        )
        conn.execute(
            "insert into raw.feed_file_chunks (sha256, chunk_number, compressed)"
            " values (%s, 0, %s)",
            (sha256, gzip.compress(content.encode("utf-8"))),
        )


def bench_database_code(scale: Scale) -> str:
    return f"BENCH-DB-{scale.databases // 2:05d}"


def prepare(server: str, name: str, scale: Scale, keep: bool, scratch: Path) -> str:
    if name in (database.TRACKER_DATABASE, database.AIRFLOW_DATABASE):
        raise SystemExit(f"refusing to use database {name!r} for the benchmark's scratch data")
    if keep:
        url = database.ensure_database(server, name)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select obj_description(oid, 'pg_namespace') from pg_namespace"
                " where nspname = 'marts'"
            ).fetchone()
        if row and row[0] == scale.signature():
            print(f"database {name}: inputs already generated ({scale.signature()}), kept")
            return url
    url = database.recreate_database(server, name)
    os.environ["TRACKER_DATABASE_URL"] = url
    database.ensure_tracker_schema(url)
    began = time.perf_counter()
    print(f"database {name}: the demo published (ingest, dbt build, gate, publish) ...", flush=True)
    publish_demo(url, scratch)
    print(f"  demo published in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    print(f"filling at scale ({scale.databases:,} databases x {scale.days:,} days):", flush=True)
    fill(url, scale)
    print(f"inputs generated in {time.perf_counter() - began:.1f} s", flush=True)
    return url


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


class Recording:
    """A connection that records the statements a page executes (and passes them on)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self.statements: list[tuple[Any, Any]] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        self.statements.append((query, params))
        return self._conn.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@dataclass
class Page:
    name: str
    path: str
    call: Callable[..., tuple[int, str]]
    args: tuple[Any, ...]
    statements: list[tuple[Any, Any]] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    page: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    rows: int = 0
    html_bytes: int = 0


def the_pages(url: str, scale: Scale) -> list[Page]:
    from r71_tracker.web import pages

    code = bench_database_code(scale)
    agency = _parameters(scale)["agencies"][0]
    with psycopg.connect(url) as conn:
        file_id, line = conn.execute(
            "select evidence_file_id, evidence_line_number from marts.database_current_status"
            " where database_code = %s",
            (code,),
        ).fetchone() or (None, None)
    run_id = f"bench__gate_{LAST_DAY.isoformat()}"
    return [
        Page("overview", "/", pages.overview, ()),
        Page(f"agency ({agency})", f"/agencies/{agency}", pages.agency, (agency,)),
        Page(f"database ({code})", f"/databases/{code}", pages.database, (code,)),
        Page(
            f"feed line ({file_id}, {line})",
            f"/files/{file_id}/lines/{line}",
            pages.feed_line,
            (file_id, line),
        ),
        Page("quality runs", "/quality-runs", pages.quality_runs, ()),
        Page("quality run (latest)", f"/quality-runs/{run_id}", pages.quality_run, (run_id,)),
    ]


def _links(path: str) -> Any:
    from r71_tracker.web.links import PAGES_PREFIX
    from r71_tracker.web.render import Links

    return Links(PAGES_PREFIX, LANG, path)


def time_page(url: str, page: Page) -> tuple[float, int, str]:
    """The page function with its render, on a pooled reader connection (checkout included)."""
    from r71_tracker.web.app import reader

    links = _links(page.path)
    began = time.perf_counter()
    with reader(url) as conn:
        status, html = page.call(conn, LANG, links, *page.args)
    return time.perf_counter() - began, status, html


def time_sql(url: str, page: Page) -> tuple[float, int]:
    """The page's statements alone, every row fetched, on a pooled reader connection."""
    from r71_tracker.web.app import reader

    rows = 0
    began = time.perf_counter()
    with reader(url) as conn:
        for query, params in page.statements:
            fetched = conn.execute(query, params).fetchall()
            rows += sum(_rows_in(row) for row in fetched)
    return time.perf_counter() - began, rows


def _rows_in(row: tuple) -> int:
    """Rows a fetched row stands for: a listed table comes as one row, its JSON and its length
    (web.queries.Table), which stands for that many rows."""
    if len(row) == 2 and isinstance(row[0], str) and row[0][:1] == "[" and type(row[1]) is int:
        return row[1]
    return 1


def capture(url: str, page: Page) -> None:
    from r71_tracker.web.app import reader

    with reader(url) as conn:
        recording = Recording(conn)
        status, html = page.call(recording, LANG, _links(page.path), *page.args)
    if status != 200:
        raise SystemExit(f"{page.name}: status {status}, the inputs lack what it shows")
    page.statements = recording.statements
    page.html_bytes = len(html.encode("utf-8"))


def measure(url: str, pages: list[Page], repeat: int) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from r71_tracker.web import app as web_app

    root = FastAPI()
    root.mount(web_app.PREFIX, web_app.create_app(url=url))
    with TestClient(root) as client:

        def http(page: Page) -> float:
            began = time.perf_counter()
            response = client.get(f"{web_app.PREFIX}{page.path}?lang={LANG}")
            seconds = time.perf_counter() - began
            if response.status_code != 200:
                raise SystemExit(f"{page.name}: HTTP {response.status_code}")
            return seconds

        for page in pages:
            capture(url, page)
            for _ in range(WARM_UP):
                time_sql(url, page)
                time_page(url, page)
                http(page)
            for _ in range(repeat):
                seconds, page.rows = time_sql(url, page)
                page.sql.append(seconds)
                page.page.append(time_page(url, page)[0])
                page.http.append(http(page))
            print(
                f"  {page.name}: {len(page.statements)} statements, {page.rows:,} rows;"
                f" SQL {statistics.median(page.sql) * 1000:.1f} ms,"
                f" page {statistics.median(page.page) * 1000:.1f} ms",
                flush=True,
            )


def explain_database_page(url: str, page: Page) -> bool:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement the database page runs; False when one
    reads marts.stage_history or marts.database_reports by a sequential scan."""
    ok = True
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the database page's {len(page.statements)} statements:")
    with psycopg.connect(url) as conn:
        for number, (query, params) in enumerate(page.statements, 1):
            cursor = psycopg.ClientCursor(conn)
            plan = [
                row[0]
                for row in cursor.execute(f"explain (analyze, buffers) {query}", params).fetchall()
            ]
            tables = [t for t in ("stage_history", "database_reports") if t in str(query)]
            scans = [line for line in plan if "Seq Scan on" in line]
            bad = [line for line in scans if any(t in line for t in tables)]
            ok = ok and not bad
            text = " ".join(str(query).split())
            print(f"\n{number}. {text[:150]}{'…' if len(text) > 150 else ''}")
            shown = [
                line
                for line in plan
                if "Scan" in line or "Execution Time" in line or "Buffers" in line and ">" in line
            ]
            for line in shown or plan[:3]:
                print(f"   {line.rstrip()}")
            if tables:
                verdict = "SEQ SCAN of the history" if bad else "by index, no sequential scan"
                print(f"   -> {', '.join('marts.' + t for t in tables)}: {verdict}")
    return ok


def report(pages: list[Page]) -> bool:
    ok = True
    print(
        f"\nmedians of {len(pages[0].sql)} alternating runs after {WARM_UP} warm-up runs"
        f" (language {LANG}); page = the page function with its render on a pooled connection;"
        " HTTP = the same through the FastAPI app (TestClient), for information\n"
    )
    print("| page | statements | rows read | SQL | page | ratio | HTTP | HTML | verdict |")
    # rows read: a listed table's rows are counted inside the JSON its statement returns
    print("|---|---|---|---|---|---|---|---|---|")
    for page in pages:
        sql, server = statistics.median(page.sql), statistics.median(page.page)
        ratio = server / sql
        passed = ratio <= TARGET_RATIO
        ok = ok and passed
        print(
            f"| {page.name} | {len(page.statements)} | {page.rows:,} | {sql * 1000:.1f} ms"
            f" | {server * 1000:.1f} ms | **{ratio:.2f}** |"
            f" {statistics.median(page.http) * 1000:.1f} ms | {page.html_bytes / 1024:.0f} KB"
            f" | {'PASS' if passed else 'FAIL'} (<= {TARGET_RATIO}) |"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=DATABASES, help="registry size")
    parser.add_argument("--years", type=float, default=YEARS, help="years of daily history")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs of each side")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database (and reuse it when it holds the same inputs)",
    )
    args = parser.parse_args(argv)
    scale = Scale(args.databases, round(args.years * 365.25))
    began = time.perf_counter()
    server = database.tracker_url()  # before TRACKER_LOCAL_DIR moves (the embedded server)
    name = os.environ.get("TRACKER_BENCH_PAGES_DATABASE", BENCH_DATABASE)
    with tempfile.TemporaryDirectory(prefix="page_bench_") as scratch:
        os.environ["TRACKER_LOCAL_DIR"] = str(Path(scratch) / "local")
        os.environ["TRACKER_PUBLISHED_DIR"] = str(Path(scratch) / "published")
        url = prepare(server, name, scale, args.keep, Path(scratch))
        os.environ["TRACKER_DATABASE_URL"] = url
        try:
            pages = the_pages(url, scale)
            print(f"timing {len(pages)} pages ({args.repeat} runs each) ...", flush=True)
            measure(url, pages, args.repeat)
            fast = report(pages)
            indexed = explain_database_page(url, pages[2])
        finally:
            from r71_tracker.web.app import _pool

            for pool in [_pool(url)] if _pool.cache_info().currsize else []:
                pool.close()
            if not args.keep:
                with psycopg.connect(server, autocommit=True) as conn:
                    conn.execute(f'drop database if exists "{name}" with (force)')
                print(f"\ndatabase {name} dropped")
    print(
        f"\npages: {'every page within' if fast else 'a page OVER'} {TARGET_RATIO} x its SQL;"
        f" database page {'reads by index' if indexed else 'SCANS THE HISTORY'}"
        f" (bench {time.perf_counter() - began:.0f} s)"
    )
    return 0 if fast and indexed else 1


if __name__ == "__main__":
    sys.exit(main())
