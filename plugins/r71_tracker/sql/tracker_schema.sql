-- Tables the tracker's Python owns: the verbatim raw store (schema raw) and the audit trail
-- (schema audit). dbt owns staging and marts. Idempotent: safe to run before every command.
create schema if not exists raw;
create schema if not exists audit;

-- One row per received feed file, inserted once, with its final counts, in the same transaction
-- as its rows and its bytes. Append-only: the loader never updates or deletes raw.* rows.
create table if not exists raw.feed_files (
    file_id bigint generated always as identity primary key,
    sha256 text not null unique,
    original_name text not null,
    size_bytes bigint not null,
    feed_format text,
    agency_code text,
    file_status text not null check (file_status in ('loaded', 'rejected')),
    file_reason_code text,
    file_reason_message text,
    rows_received integer not null check (rows_received >= 0),
    rows_loaded integer not null check (rows_loaded >= 0),
    rows_rejected integer not null check (rows_rejected >= 0),
    extra_columns text [] not null default '{}',
    received_at timestamptz not null default now(),
    feed_kind text check (feed_kind in ('status', 'fields')),
    constraint rows_accounted check (rows_received = rows_loaded + rows_rejected),
    constraint rejected_file_has_reason check (
        file_status = 'loaded' or file_reason_code is not null
    )
);


-- Which feed a file is (v1.1): `status` or `fields` (the data dictionary); null when the file was
-- rejected before its kind could be read. Files received before v1.1 are status feeds.
alter table raw.feed_files add column if not exists feed_kind text default 'status'
check (feed_kind in ('status', 'fields'));
alter table raw.feed_files alter column feed_kind drop default;

-- A file received over the size limit is not read whole: only its first bytes are kept (issue 12:
-- bounded evidence of what was refused). stored_bytes and stored_sha256 are the length and SHA-256
-- of the bytes kept when they are not the whole file; both null when the whole file is kept.
alter table raw.feed_files
    add column if not exists stored_bytes bigint check (stored_bytes >= 0),
    add column if not exists stored_sha256 text;

-- One row per path an ingest refused before receiving anything of it: a symbolic link (never
-- followed), a FIFO, socket or device (never opened), an unreadable file, or a file an internal
-- error stopped (its id finds the traceback in the log). No bytes were received, so there is no
-- sha256 and no raw.feed_files row; each attempt is its own row (append-only): a link left in the
-- landing folder is refused again by every run, and each refusal is on record.
create table if not exists raw.refused_files (
    refused_at timestamptz not null default now(),
    original_name text not null,
    reason_code text not null,
    message text not null
);

-- A received file's bytes, verbatim, addressed by content: chunk_number 0, 1, ... each an
-- independent gzip member (level 1) of up to 1 MiB of the file, so the file is the concatenation
-- of the decompressed chunks. Keyed by sha256, so the same bytes are never stored twice.
create table if not exists raw.feed_file_chunks (
    sha256 text not null,
    chunk_number integer not null check (chunk_number >= 0),
    compressed bytea not null,
    primary key (sha256, chunk_number)
);
-- Compressed already: store out of line without a second (pglz) compression attempt.
alter table raw.feed_file_chunks alter column compressed set storage external;

-- One row per loaded status row, exactly as validated (NFC text, typed values). When the row
-- was received is its file's received_at. No index: (file_id, line_number) is unique by
-- construction (one transaction per file, one row per line) and `tracker audit-ingest` checks
-- it; a primary key cost a third of a large file's load (even a BRIN index costs 5 %), and every
-- reader (dbt, the audit) scans the table whole.
create table if not exists raw.status_reports (
    file_id bigint not null,
    line_number integer not null,
    report_date date not null,
    agency_code text not null,
    database_code text not null,
    platform_status text not null,
    data_status text not null,
    process_integrated boolean not null,
    connected_national boolean not null,
    record_count bigint not null,
    records_updated_30d bigint not null,
    consumer_agencies integer not null,
    notes text
);

-- Feed contract v1.1: one row per loaded data-dictionary row (the `fields` feed): an information
-- field a database collects, as of report_date, and whether that database is its original source.
-- Same guarantees and same shape as raw.status_reports (no index, one transaction per file).
create table if not exists raw.field_reports (
    file_id bigint not null,
    line_number integer not null,
    report_date date not null,
    agency_code text not null,
    database_code text not null,
    field_name text not null,
    field_type text not null,
    is_original_source boolean not null
);

-- One row per quarantined row: the file, the line (CSV line or JSON array index), the reason.
create table if not exists raw.rejected_rows (
    file_id bigint not null,
    line_number integer not null,
    reason_code text not null,
    message text not null,
    raw_record text,
    primary key (file_id, line_number)
);
-- raw_record keeps the first 4,096 characters of the row's raw text (issue 12: bounded evidence);
-- these are the whole text's length and SHA-256 (of its UTF-8), null for rows stored before them.
alter table raw.rejected_rows
    add column if not exists raw_record_chars integer,
    add column if not exists raw_record_sha256 text;

-- No foreign keys to raw.feed_files (a per-row check costs more than the load itself): each file
-- commits with its rows in one transaction, and `tracker audit-ingest` checks that nothing is
-- orphaned and every count adds up.
alter table raw.status_reports drop constraint if exists status_reports_file_id_fkey;
alter table raw.rejected_rows drop constraint if exists rejected_rows_file_id_fkey;

-- (A first release kept the bytes in raw.feed_files.content; database.ensure_tracker_schema
-- moves them into raw.feed_file_chunks and drops that column, once.)

-- One row per quality-gate run: what an auditor lists first (tracker audit, the quality run pages).
create table if not exists audit.gate_runs (
    run_id text primary key,
    dag_run_id text,
    run_date date not null,
    code_version text not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    success boolean not null,
    blocking_failures integer not null,
    warnings integer not null,
    data_docs_path text  -- GX Data Docs index of runs before Data Docs were dropped; null since
);

-- One row per expectation evaluated by a quality gate run; kept forever for auditors. run_date is
-- the run's logical date (the day the data is judged as of), code_version the git commit of the
-- code that judged it. unexpected_rows: a sample of the offending rows, each with the raw feed
-- file and line it came from.
create table if not exists audit.expectation_results (
    result_id bigint generated always as identity primary key,
    run_id text not null,
    suite_name text not null,
    expectation_type text not null,
    expectation_kwargs jsonb not null,
    success boolean not null,
    observed_value jsonb,
    unexpected_count bigint,
    run_date date not null,
    validated_at timestamptz not null default now()
);
create index if not exists expectation_results_run_idx on audit.expectation_results (run_id);
alter table audit.expectation_results
add column if not exists dag_run_id text,
add column if not exists code_version text,
add column if not exists word text,
add column if not exists severity text check (severity in ('blocking', 'warning')),
add column if not exists expectation_notes text,
add column if not exists unexpected_rows jsonb;

-- The expectation's notes in Vietnamese (schema 13), beside the English expectation_notes: what the
-- Vietnamese pages and `tracker audit --lang vi` show as why. Only the gate's insert writes it (the
-- table is append-only); rows recorded before schema 13 keep it null and are shown in English.
alter table audit.expectation_results
add column if not exists expectation_notes_vi text;

-- One row per alert raised (a failing blocking suite, a late agency feed, a failed DAG run): who it
-- was addressed to and how it was delivered (always the log; e-mail or webhook when configured).
create table if not exists audit.alerts (
    alert_id bigint generated always as identity primary key,
    raised_at timestamptz not null default now(),
    alert_kind text not null,
    agency_code text,
    recipient text not null,
    subject text not null,
    body text not null,
    run_id text,
    dag_run_id text,
    run_date date,
    delivered_via text [] not null default '{}'
);

-- Write-audit-publish (schema 8). Which gate run judged which candidate, and what it held back.
alter table audit.gate_runs
add column if not exists candidate_schema text,
add column if not exists held_agencies text [] not null default '{}',
add column if not exists national_failures integer not null default 0;

-- One row per publication: a candidate that passed the gate became `marts` (a schema rename, in
-- one transaction with this row). What liaisons read is always the latest publication.
create table if not exists audit.publications (
    publication_id bigint generated always as identity primary key,
    gate_run_id text not null,
    dag_run_id text,
    run_date date not null,
    candidate_schema text not null,
    files_first_published integer not null,
    held_agencies text [] not null default '{}',
    published_at timestamptz not null default now()
);

-- Schema 9: what the publication was built from (a hash of its run date, dbt project, vars and
-- included files), so a run that would build exactly the same marts again publishes nothing.
alter table audit.publications
add column if not exists inputs_sha256 text;

-- Each received file's verdict, decided once, by the gate run that first judges it: `published`
-- (its rows are part of every later publication) or `held` (an agency rule failed on it: its
-- rows stay out of every build; its agency is held until a later file of its own is published or
-- this file is withdrawn). A file-level rule never judges a file again in a later run.
create table if not exists audit.file_verdicts (
    file_id bigint primary key,
    verdict text not null check (verdict in ('published', 'held')),
    agency_code text,
    gate_run_id text not null,
    dag_run_id text,
    rule text,
    reason text,
    failing_rows bigint,
    decided_at timestamptz not null default now(),
    constraint held_file_has_reason check (verdict = 'published' or reason is not null)
);

-- Operators' recourse: `tracker files withdraw ID --reason` takes a file's rows out of every later
-- build, `restore` undoes it. Nothing is deleted: the file's bytes and rows stay in raw, and the
-- latest event of a file decides. Who acted is the OS user (or the Airflow user), with why.
create table if not exists audit.file_events (
    event_id bigint generated always as identity primary key,
    file_id bigint not null,
    action text not null check (action in ('withdraw', 'restore')),
    reason text not null check (btrim(reason) <> ''),
    actor text not null check (btrim(actor) <> ''),
    acted_at timestamptz not null default now()
);
create index if not exists file_events_file_idx on audit.file_events (file_id, event_id);

-- The audit trail is append-only for everyone, its owner included: an update or a delete raises.
-- (TRUNCATE is not granted to any tracker role; only the database owner can empty a test database.)
create or replace function audit.refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'audit.% is append-only: % refused', tg_table_name, tg_op;
end;
$$;
do $$
declare
    audit_table text;
begin
    foreach audit_table in array array[
        'expectation_results', 'gate_runs', 'alerts', 'publications', 'file_verdicts',
        'file_events'
    ] loop
        execute format(
            'create or replace trigger %I before update or delete on audit.%I'
            ' for each row execute function audit.refuse_change()',
            audit_table || '_append_only', audit_table
        );
    end loop;
end
$$;

-- What the next build reads (schema 8): every received file with its state. `new` (not judged
-- yet), `published` (part of every publication since its verdict), `held` (an agency rule failed
-- on it), `withdrawn` (an operator's latest event on it is a withdrawal). Only new and published
-- files' rows reach the marts. A build copies this view once, when it starts, into its
-- candidate's work schema, so files committed while it runs wait for the next build.
create or replace view raw.file_states as
with

latest_events as (
    select distinct on (file_id)
        file_id,
        action
    from audit.file_events
    order by file_id asc, event_id desc
)

select
    feed_files.file_id,
    feed_files.agency_code,
    case
        when latest_events.action = 'withdraw' then 'withdrawn'
        when file_verdicts.verdict = 'held' then 'held'
        when file_verdicts.verdict = 'published' then 'published'
        else 'new'
    end as file_state,
    coalesce(latest_events.action, 'restore') <> 'withdraw'
    and coalesce(file_verdicts.verdict, 'published') <> 'held' as is_included
from raw.feed_files
left join audit.file_verdicts on feed_files.file_id = file_verdicts.file_id
left join latest_events on feed_files.file_id = latest_events.file_id;
