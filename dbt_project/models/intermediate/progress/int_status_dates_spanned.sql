with

status_reports as (

    select * from {{ ref('stg_feeds__status_reports') }}

),

report_bounds as (

    select
        min(report_date) as first_report_date,
        max(report_date) as last_report_date
    from status_reports

),

run_date_resolved as (

    select
        first_report_date,
        last_report_date,
        {{ tracker_run_date('last_report_date') }} as run_date
    from report_bounds

),

span_limited as (

    select
        run_date,
        least(
            cast('{{ tracker_resolution_start_date() }}' as date),
            first_report_date,
            run_date
        ) as first_status_date,
        greatest(run_date, last_report_date) as last_status_date
    from run_date_resolved

),

days_generated as (

    select
        span_limited.first_status_date + day_offset as status_date,
        span_limited.run_date
    from span_limited
    cross join
        generate_series(
            0, span_limited.last_status_date - span_limited.first_status_date
        ) as day_offset

),

days_flagged as (

    select
        status_date,
        run_date,
        status_date = run_date as is_run_date
    from days_generated

)

select * from days_flagged
