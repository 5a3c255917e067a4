-- The current status (one row per database on run_date) and the summary row
-- of the same day count the same stages: a mismatching stage is returned.
with

database_current_status as (

    select * from {{ ref('database_current_status') }}

),

stage_summary as (

    select * from {{ ref('stage_summary') }}

),

current_counted as (

    select
        as_of_date,
        count(*) filter (where stage = 'centralized') as centralized_count,
        count(*) filter (where stage = 'in_progress') as in_progress_count,
        count(*) filter (where stage = 'not_started') as not_started_count,
        count(*) filter (where is_unreported) as unreported_count
    from database_current_status
    group by as_of_date

),

counts_compared as (

    select
        current_counted.as_of_date,
        stage_summary.status_date
    from current_counted
    left join stage_summary
        on current_counted.as_of_date = stage_summary.status_date
    where
        stage_summary.status_date is null
        or current_counted.centralized_count
        != stage_summary.centralized_count
        or current_counted.in_progress_count
        != stage_summary.in_progress_count
        or current_counted.not_started_count
        != stage_summary.not_started_count
        or current_counted.unreported_count
        != stage_summary.unreported_count

)

select * from counts_compared
