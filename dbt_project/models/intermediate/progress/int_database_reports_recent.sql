with

database_stages as (

    select * from {{ ref('int_database_stages_resolved') }}

),

run_dates as (

    select distinct run_date from {{ ref('int_status_dates_spanned') }}

),

effective_reports as (

    select distinct
        database_stages.database_code,
        database_stages.effective_report_date,
        database_stages.evidence_file_id,
        database_stages.evidence_line_number,
        database_stages.records_updated_30d
    from database_stages
    cross join run_dates
    where
        not database_stages.is_unreported
        and database_stages.status_date <= run_dates.run_date

),

effective_reports_ranked as (

    select
        *,
        row_number() over (
            partition by database_code
            order by effective_report_date desc
        ) as recency_rank
    from effective_reports

)

select * from effective_reports_ranked
