with

database_stages as (

    select * from {{ ref('int_database_stages_resolved') }}

),

run_dates as (

    select distinct run_date from {{ ref('int_status_dates_spanned') }}

),

stages_with_previous as (

    select
        database_code,
        status_date,
        is_run_date,
        stage,
        lag(stage) over (
            partition by database_code
            order by status_date
        ) as previous_stage
    from database_stages

),

moves_summarized as (

    select
        stages_with_previous.database_code,
        min(stages_with_previous.status_date) as first_judged_date,
        max(stages_with_previous.status_date) filter (
            where stages_with_previous.stage
            != stages_with_previous.previous_stage
        ) as last_stage_move_date
    from stages_with_previous
    cross join run_dates
    where stages_with_previous.status_date <= run_dates.run_date
    group by stages_with_previous.database_code

)

select * from moves_summarized
