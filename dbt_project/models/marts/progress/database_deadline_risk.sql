with

verified_stages as (

    select * from {{ ref('database_verified_stage') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

stage_moves as (

    select * from {{ ref('int_database_stage_moves') }}

),

risk_rules as (

    select * from {{ ref('risk_rules') }}
    where is_enabled

),

deadlines_counted as (

    select
        verified_stages.database_code,
        verified_stages.owner_agency_code,
        verified_stages.reported_stage,
        verified_stages.verified_stage,
        verified_stages.as_of_date,
        coalesce(
            registry_databases.deadline_date,
            cast('{{ var("default_deadline_date") }}' as date)
        ) as deadline_date,
        coalesce(
            stage_moves.last_stage_move_date, stage_moves.first_judged_date
        ) as last_stage_move_date
    from verified_stages
    inner join registry_databases
        on verified_stages.database_code = registry_databases.database_code
    left join stage_moves
        on verified_stages.database_code = stage_moves.database_code

),

days_counted as (

    select
        *,
        deadline_date - as_of_date as days_left,
        as_of_date - last_stage_move_date as days_since_stage_moved
    from deadlines_counted

),

rules_broken as (

    select
        days_counted.database_code,
        risk_rules.rule_code,
        {{ fill_placeholders(
            'risk_rules.rule_en', {'threshold': 'risk_rules.threshold'}
        ) }} as rule_en,
        {{ fill_placeholders(
            'risk_rules.rule_vi', {'threshold': 'risk_rules.threshold'}
        ) }} as rule_vi
    from days_counted
    inner join risk_rules
        on days_counted.verified_stage != 'centralized'
    where
        (
            risk_rules.rule_code = 'past_deadline'
            and days_counted.days_left < risk_rules.threshold
        )
        or (
            risk_rules.rule_code = 'not_started_near_deadline'
            and days_counted.verified_stage = 'not_started'
            and days_counted.days_left <= risk_rules.threshold
        )
        or (
            risk_rules.rule_code = 'stalled'
            and days_counted.days_since_stage_moved >= risk_rules.threshold
        )

),

rules_broken_listed as (

    select
        database_code,
        string_agg(rule_code, ', ' order by rule_code) as risk_reason_codes,
        string_agg(rule_en, '; ' order by rule_code) as risk_reason_en,
        string_agg(rule_vi, '; ' order by rule_code) as risk_reason_vi,
        bool_or(rule_code = 'past_deadline') as is_past_deadline
    from rules_broken
    group by database_code

),

risk_judged as (

    select
        -- ids
        days_counted.database_code,
        days_counted.owner_agency_code,

        -- strings
        days_counted.reported_stage,
        days_counted.verified_stage,
        rules_broken_listed.risk_reason_codes,
        rules_broken_listed.risk_reason_en,
        rules_broken_listed.risk_reason_vi,

        -- booleans
        rules_broken_listed.database_code is not null as is_at_risk,
        coalesce(
            rules_broken_listed.is_past_deadline, false
        ) as is_past_deadline_not_centralized,

        -- numerics
        days_counted.days_left,
        days_counted.days_since_stage_moved,

        -- dates
        days_counted.deadline_date,
        days_counted.last_stage_move_date,
        days_counted.as_of_date

    from days_counted
    left join rules_broken_listed
        on days_counted.database_code = rules_broken_listed.database_code

)

select * from risk_judged
