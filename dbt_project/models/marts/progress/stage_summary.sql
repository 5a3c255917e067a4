with

stage_history as (

    select * from {{ ref('stage_history') }}

),

stages_counted as (

    select
        status_date,
        count(*) as total_count,
        count(*) filter (where stage = 'centralized') as centralized_count,
        count(*) filter (where stage = 'in_progress') as in_progress_count,
        count(*) filter (where stage = 'not_started') as not_started_count,
        count(*) filter (where is_unreported) as unreported_count
    from stage_history
    group by status_date

)

select * from stages_counted
