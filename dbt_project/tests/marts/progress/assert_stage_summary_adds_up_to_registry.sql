-- Every day, the three stages add up to the registry's total (105 for the
-- Resolution 71 list): a day that fails is returned.
with

stage_summary as (

    select * from {{ ref('stage_summary') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

registry_counted as (

    select count(*) as registry_count
    from registry_databases

),

days_not_adding_up as (

    select
        stage_summary.status_date,
        stage_summary.total_count,
        stage_summary.centralized_count,
        stage_summary.in_progress_count,
        stage_summary.not_started_count,
        registry_counted.registry_count
    from stage_summary
    cross join registry_counted
    where
        stage_summary.total_count != registry_counted.registry_count
        or stage_summary.centralized_count
        + stage_summary.in_progress_count
        + stage_summary.not_started_count
        != registry_counted.registry_count

)

select * from days_not_adding_up
