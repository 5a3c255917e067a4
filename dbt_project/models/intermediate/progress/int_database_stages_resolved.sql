with

status_reports as (

    select * from {{ ref('int_status_reports_received') }}

),

status_dates as (

    select * from {{ ref('int_status_dates_spanned') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

reports_ranked_within_date as (

    select
        *,
        row_number() over (
            partition by database_code, report_date
            order by received_at desc, file_id desc, line_number desc
        ) as rank_within_date
    from status_reports

),

reports_last_received as (

    select * from reports_ranked_within_date
    where rank_within_date = 1

),

reports_versioned as (

    select
        *,
        lead(report_date) over (
            partition by database_code
            order by report_date
        ) as next_report_date
    from reports_last_received

),

database_days_crossed as (

    select
        registry_databases.database_code,
        status_dates.status_date,
        status_dates.is_run_date
    from registry_databases
    cross join status_dates

),

effective_reports_joined as (

    select
        database_days_crossed.database_code,
        database_days_crossed.status_date,
        database_days_crossed.is_run_date,
        reports_versioned.file_id as evidence_file_id,
        reports_versioned.line_number as evidence_line_number,
        reports_versioned.platform_status,
        reports_versioned.data_status,
        reports_versioned.notes as report_notes,
        reports_versioned.record_count,
        reports_versioned.records_updated_30d,
        reports_versioned.consumer_agencies,
        reports_versioned.process_integrated,
        reports_versioned.connected_national,
        reports_versioned.report_date as effective_report_date,
        reports_versioned.received_at as evidence_received_at
    from database_days_crossed
    left join reports_versioned
        on
            database_days_crossed.database_code
            = reports_versioned.database_code
            and database_days_crossed.status_date
            >= reports_versioned.report_date
            and (
                reports_versioned.next_report_date is null
                or database_days_crossed.status_date
                < reports_versioned.next_report_date
            )

),

stages_classified as (

    select
        -- ids
        database_code,
        evidence_file_id,
        evidence_line_number,

        -- strings
        {{ classify_stage(
            'platform_status', 'data_status', 'process_integrated'
        ) }} as stage,
        platform_status,
        data_status,
        report_notes,

        -- numerics
        record_count,
        records_updated_30d,
        consumer_agencies,

        -- booleans
        process_integrated,
        connected_national,
        effective_report_date is null as is_unreported,
        is_run_date,

        -- dates
        status_date,
        effective_report_date,

        -- timestamps
        evidence_received_at

    from effective_reports_joined

)

select * from stages_classified
