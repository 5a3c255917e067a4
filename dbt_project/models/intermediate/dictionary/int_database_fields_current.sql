with

field_reports as (

    select * from {{ ref('int_field_reports_received') }}

),

run_dates as (

    select distinct run_date from {{ ref('int_status_dates_spanned') }}

),

field_name_aliases as (

    select * from {{ ref('field_name_aliases') }}

),

reports_up_to_run_date as (

    -- a name with no letter or digit left cannot be compared: left out (the
    -- staging test on field_name_normalised warns about it)
    select
        field_reports.*,
        run_dates.run_date
    from field_reports
    cross join run_dates
    where
        field_reports.report_date <= run_dates.run_date
        and field_reports.field_name_normalised is not null

),

database_files_listed as (

    select distinct
        database_code,
        report_date,
        file_id,
        received_at
    from reports_up_to_run_date

),

database_files_ranked as (

    -- newest report_date first; on that date the file received last, then
    -- the higher file_id
    select
        *,
        row_number() over (
            partition by database_code
            order by report_date desc, received_at desc, file_id desc
        ) as file_rank
    from database_files_listed

),

effective_files as (

    select * from database_files_ranked
    where file_rank = 1

),

effective_rows_named as (

    select
        reports_up_to_run_date.database_code,
        reports_up_to_run_date.agency_code,
        reports_up_to_run_date.file_id,
        reports_up_to_run_date.line_number,
        reports_up_to_run_date.field_name as field_name_sent,
        coalesce(
            field_name_aliases.field_name,
            reports_up_to_run_date.field_name_normalised
        ) as field_name,
        reports_up_to_run_date.field_type,
        reports_up_to_run_date.is_original_source,
        reports_up_to_run_date.report_date,
        reports_up_to_run_date.run_date,
        reports_up_to_run_date.file_name,
        reports_up_to_run_date.received_at
    from reports_up_to_run_date
    inner join effective_files
        on
            reports_up_to_run_date.database_code = effective_files.database_code
            and reports_up_to_run_date.report_date = effective_files.report_date
            and reports_up_to_run_date.file_id = effective_files.file_id
    left join field_name_aliases
        on
            reports_up_to_run_date.field_name_normalised
            = field_name_aliases.alias

),

fields_merged as (

    -- one effective file per database, so file, report date and receipt are
    -- the same on every row of a group
    select
        -- ids
        database_code,
        min(agency_code) as agency_code,

        -- strings
        field_name,
        string_agg(
            distinct field_name_sent, ', ' order by field_name_sent
        ) as field_names_sent,
        (array_agg(field_type order by line_number))[1] as field_type,

        -- numerics
        count(*) as times_listed,

        -- booleans
        bool_or(is_original_source) as is_original_source,

        -- dates
        min(report_date) as effective_report_date,
        min(run_date) as as_of_date,

        -- evidence: the feed row behind it (its first listing)
        min(file_id) as evidence_file_id,
        min(file_name) as evidence_file_name,
        min(line_number) as evidence_line_number,

        -- timestamps
        min(received_at) as evidence_received_at

    from effective_rows_named
    group by database_code, field_name

)

select * from fields_merged
