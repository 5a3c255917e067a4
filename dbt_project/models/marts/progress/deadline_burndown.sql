with

stage_history as (

    select * from {{ ref('stage_history') }}

),

days_counted as (

    select
        status_date,
        count(*) as databases_total,
        count(*) filter (
            where stage != 'centralized'
        ) as databases_not_centralized
    from stage_history
    group by status_date

),

burndown_framed as (

    select
        -- dates
        status_date,
        cast('{{ var("default_deadline_date") }}' as date) as deadline_date,

        -- numerics
        databases_total,
        databases_not_centralized,
        cast('{{ var("default_deadline_date") }}' as date)
        - status_date as days_to_deadline,
        -- the straight line from the first day's count to none at the deadline
        round(
            first_value(databases_not_centralized) over (order by status_date)
            * greatest(
                cast('{{ var("default_deadline_date") }}' as date)
                - status_date,
                0
            )::numeric
            / nullif(
                cast('{{ var("default_deadline_date") }}' as date)
                - first_value(status_date) over (order by status_date),
                0
            ),
            1
        ) as ideal_not_centralized
    from days_counted

)

select * from burndown_framed
