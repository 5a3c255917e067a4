with

current_status as (

    select * from {{ ref('database_current_status') }}

),

recent_reports as (

    select * from {{ ref('int_database_reports_recent') }}

),

verification_rules as (

    select * from {{ ref('verification_rules') }}
    where is_enabled

),

liveness_looked_back as (

    select
        recent_reports.database_code,
        count(*) as reports_looked_back,
        max(recent_reports.records_updated_30d) as max_records_updated_30d
    from recent_reports
    inner join verification_rules
        on
            verification_rules.rule_code = 'not_live'
            and recent_reports.recency_rank <= verification_rules.threshold
    group by recent_reports.database_code

),

rules_broken as (

    select
        current_status.database_code,
        verification_rules.rule_code,
        {{ fill_placeholders(
            'verification_rules.rule_en',
            {'threshold': 'verification_rules.threshold'}
        ) }} as rule_en,
        {{ fill_placeholders(
            'verification_rules.rule_vi',
            {'threshold': 'verification_rules.threshold'}
        ) }} as rule_vi
    from current_status
    inner join verification_rules
        on current_status.stage = 'centralized'
    left join liveness_looked_back
        on current_status.database_code = liveness_looked_back.database_code
    where
        (
            verification_rules.rule_code = 'not_live'
            and coalesce(liveness_looked_back.max_records_updated_30d, 0) = 0
        )
        or (
            verification_rules.rule_code = 'no_records'
            and current_status.record_count <= verification_rules.threshold
        )
        or (
            verification_rules.rule_code = 'not_shared'
            and current_status.connected_national
            and current_status.consumer_agencies <= verification_rules.threshold
        )

),

rules_broken_listed as (

    select
        database_code,
        string_agg(rule_code, ', ' order by rule_code) as downgrade_rule_codes,
        string_agg(rule_en, '; ' order by rule_code) as downgrade_reason_en,
        string_agg(rule_vi, '; ' order by rule_code) as downgrade_reason_vi
    from rules_broken
    group by database_code

),

stages_verified as (

    select
        -- ids
        current_status.database_code,
        current_status.owner_agency_code,

        -- strings
        current_status.stage as reported_stage,
        case
            when rules_broken_listed.database_code is not null
                then 'in_progress'
            else current_status.stage
        end as verified_stage,
        rules_broken_listed.downgrade_rule_codes,
        rules_broken_listed.downgrade_reason_en,
        rules_broken_listed.downgrade_reason_vi,

        -- booleans
        rules_broken_listed.database_code is not null as is_downgraded,

        -- numerics
        current_status.record_count,
        current_status.records_updated_30d,
        current_status.consumer_agencies,
        liveness_looked_back.reports_looked_back,

        -- dates
        current_status.as_of_date,

        -- evidence: the feed row the reported stage came from
        current_status.evidence_file_id,
        current_status.evidence_line_number

    from current_status
    left join rules_broken_listed
        on current_status.database_code = rules_broken_listed.database_code
    left join liveness_looked_back
        on current_status.database_code = liveness_looked_back.database_code

)

select * from stages_verified
