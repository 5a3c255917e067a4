with

deadline_risk as (

    select * from {{ ref('database_deadline_risk') }}

),

verified_stages as (

    select * from {{ ref('database_verified_stage') }}

),

agency_freshness as (

    select * from {{ ref('agency_feed_freshness') }}

),

scorecard_rules as (

    select * from {{ ref('scorecard_rules') }}
    where is_enabled

),

databases_counted as (

    select
        deadline_risk.owner_agency_code as agency_code,
        min(deadline_risk.as_of_date) as as_of_date,
        count(*) as databases_owned,
        count(*) filter (
            where verified_stages.verified_stage = 'centralized'
        ) as databases_verified_centralized,
        count(*) filter (
            where verified_stages.is_downgraded
        ) as databases_downgraded,
        count(*) filter (where deadline_risk.is_at_risk) as databases_at_risk,
        count(*) filter (
            where deadline_risk.is_past_deadline_not_centralized
        ) as databases_past_deadline
    from deadline_risk
    inner join verified_stages
        on deadline_risk.database_code = verified_stages.database_code
    group by deadline_risk.owner_agency_code

),

agencies_measured as (

    select
        databases_counted.*,
        agency_freshness.agency_name_vi,
        agency_freshness.agency_name_en,
        agency_freshness.last_report_date,
        agency_freshness.days_since_last_report
    from databases_counted
    left join agency_freshness
        on databases_counted.agency_code = agency_freshness.agency_code

),

rules_met as (

    select
        agencies_measured.agency_code,
        scorecard_rules.rule_code,
        scorecard_rules.light,
        scorecard_rules.rule_en,
        scorecard_rules.rule_vi
    from agencies_measured
    inner join scorecard_rules
        on
            (
                scorecard_rules.rule_code = 'past_deadline'
                and agencies_measured.databases_past_deadline
                > scorecard_rules.threshold
            )
            or (
                scorecard_rules.rule_code = 'silent'
                and coalesce(
                    agencies_measured.days_since_last_report
                    > scorecard_rules.threshold,
                    true
                )
            )
            or (
                scorecard_rules.rule_code = 'database_at_risk'
                and agencies_measured.databases_at_risk
                > scorecard_rules.threshold
            )
            or (
                scorecard_rules.rule_code = 'verified_below_reported'
                and agencies_measured.databases_downgraded
                > scorecard_rules.threshold
            )

),

light_chosen as (

    select
        agency_code,
        case
            when bool_or(light = 'RED') then 'RED'
            when bool_or(light = 'YELLOW') then 'YELLOW'
        end as worst_light
    from rules_met
    group by agency_code

),

rules_listed as (

    select
        rules_met.agency_code,
        string_agg(
            rules_met.rule_code, ', ' order by rules_met.rule_code
        ) as light_reason_codes,
        string_agg(
            rules_met.rule_en, '; ' order by rules_met.rule_code
        ) as light_reason_en,
        string_agg(
            rules_met.rule_vi, '; ' order by rules_met.rule_code
        ) as light_reason_vi
    from rules_met
    inner join light_chosen
        on
            rules_met.agency_code = light_chosen.agency_code
            and rules_met.light = light_chosen.worst_light
    group by rules_met.agency_code

),

scorecard_lit as (

    select
        -- ids
        agencies_measured.agency_code,

        -- strings
        agencies_measured.agency_name_vi,
        agencies_measured.agency_name_en,
        coalesce(light_chosen.worst_light, 'GREEN') as traffic_light,
        rules_listed.light_reason_codes,
        rules_listed.light_reason_en,
        rules_listed.light_reason_vi,

        -- numerics
        agencies_measured.databases_owned,
        agencies_measured.databases_verified_centralized,
        agencies_measured.databases_downgraded,
        agencies_measured.databases_at_risk,
        agencies_measured.databases_past_deadline,
        agencies_measured.days_since_last_report,

        -- dates
        agencies_measured.last_report_date,
        agencies_measured.as_of_date

    from agencies_measured
    left join light_chosen
        on agencies_measured.agency_code = light_chosen.agency_code
    left join rules_listed
        on agencies_measured.agency_code = rules_listed.agency_code

)

select * from scorecard_lit
