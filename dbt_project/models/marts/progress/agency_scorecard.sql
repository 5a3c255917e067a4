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
        ) as databases_past_deadline,
        string_agg(
            deadline_risk.database_code, ', '
            order by deadline_risk.database_code
        ) as owned_database_codes,
        string_agg(
            deadline_risk.database_code, ', '
            order by deadline_risk.database_code
        ) filter (
            where verified_stages.is_downgraded
        ) as downgraded_database_codes,
        string_agg(
            deadline_risk.database_code, ', '
            order by deadline_risk.database_code
        ) filter (where deadline_risk.is_at_risk) as at_risk_database_codes,
        string_agg(
            deadline_risk.database_code, ', '
            order by deadline_risk.database_code
        ) filter (
            where deadline_risk.is_past_deadline_not_centralized
        ) as past_deadline_database_codes
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
        agencies_measured.databases_owned,
        agencies_measured.days_since_last_report,
        agencies_measured.last_report_date,
        scorecard_rules.rule_code,
        scorecard_rules.light,
        scorecard_rules.threshold,
        scorecard_rules.reason_en,
        scorecard_rules.reason_vi,
        -- the databases the rule is about (none: the agency's silence)
        case scorecard_rules.rule_code
            when 'past_deadline' then agencies_measured.databases_past_deadline
            when 'never_reported' then agencies_measured.databases_owned
            when 'database_at_risk' then agencies_measured.databases_at_risk
            when
                'verified_below_reported'
                then agencies_measured.databases_downgraded
        end as database_count,
        case scorecard_rules.rule_code
            when
                'past_deadline'
                then agencies_measured.past_deadline_database_codes
            when 'never_reported' then agencies_measured.owned_database_codes
            when
                'database_at_risk'
                then agencies_measured.at_risk_database_codes
            when
                'verified_below_reported'
                then agencies_measured.downgraded_database_codes
        end as database_codes
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
                and agencies_measured.days_since_last_report
                > scorecard_rules.threshold
            )
            or (
                scorecard_rules.rule_code = 'never_reported'
                and agencies_measured.days_since_last_report is null
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

rules_explained as (

    {#- each rule's reason with its parameters, counts and databases filled in
        (the placeholders of seed scorecard_rules) -#}
    select
        agency_code,
        rule_code,
        light,
        database_codes,
        {{ fill_placeholders('reason_en', {
            'threshold': 'threshold',
            'count': 'database_count',
            'databases_owned': 'databases_owned',
            'database_codes': 'database_codes',
            'days_since_last_report': 'days_since_last_report',
            'last_report_date': "to_char(last_report_date, 'YYYY-MM-DD')",
        }) }} as reason_en,
        {{ fill_placeholders('reason_vi', {
            'threshold': 'threshold',
            'count': 'database_count',
            'databases_owned': 'databases_owned',
            'database_codes': 'database_codes',
            'days_since_last_report': 'days_since_last_report',
            'last_report_date': "to_char(last_report_date, 'DD/MM/YYYY')",
        }) }} as reason_vi
    from rules_met

),

light_chosen as (

    select
        agency_code,
        case
            when bool_or(light = 'RED') then 'RED'
            when bool_or(light = 'YELLOW') then 'YELLOW'
        end as worst_light
    from rules_explained
    group by agency_code

),

rules_listed as (

    select
        rules_explained.agency_code,
        min(rules_explained.rule_code) as light_rule_code,
        string_agg(
            rules_explained.rule_code, ', ' order by rules_explained.rule_code
        ) as light_reason_codes,
        light_chosen.worst_light || ': ' || string_agg(
            rules_explained.reason_en, '; ' order by rules_explained.rule_code
        ) as light_reason_en,
        case light_chosen.worst_light
            when 'RED' then 'ĐỎ'
            when 'YELLOW' then 'VÀNG'
        end || ': ' || string_agg(
            rules_explained.reason_vi, '; ' order by rules_explained.rule_code
        ) as light_reason_vi,
        string_agg(
            rules_explained.database_codes, ', '
            order by rules_explained.rule_code
        ) as database_code_lists
    from rules_explained
    inner join light_chosen
        on
            rules_explained.agency_code = light_chosen.agency_code
            and rules_explained.light = light_chosen.worst_light
    group by rules_explained.agency_code, light_chosen.worst_light

),

light_databases as (

    {#- the databases behind the light, each once, in code order -#}
    select
        rules_listed.agency_code,
        string_agg(
            distinct listed.database_code, ', ' order by listed.database_code
        ) as light_database_codes
    from rules_listed
    cross join
        lateral unnest(
            string_to_array(rules_listed.database_code_lists, ', ')
        ) as listed (database_code)
    group by rules_listed.agency_code

),

scorecard_lit as (

    select
        -- ids
        agencies_measured.agency_code,

        -- strings
        agencies_measured.agency_name_vi,
        agencies_measured.agency_name_en,
        coalesce(light_chosen.worst_light, 'GREEN') as traffic_light,
        rules_listed.light_rule_code,
        rules_listed.light_reason_codes,
        rules_listed.light_reason_en,
        rules_listed.light_reason_vi,
        light_databases.light_database_codes,

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
    left join light_databases
        on agencies_measured.agency_code = light_databases.agency_code

)

select * from scorecard_lit
