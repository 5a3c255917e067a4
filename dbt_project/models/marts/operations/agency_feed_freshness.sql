{#- The age a last report may reach before its agency counts as late; checked
    here so a bad var fails the compilation naming it, not a cast deep in SQL. -#}
{%- set max_age_text = var('freshness_max_age_days') | string | trim -%}
{%- if not max_age_text.isdigit() -%}
    {{ exceptions.raise_compiler_error(
        "var freshness_max_age_days must be a whole number of days >= 0, got '"
        ~ max_age_text ~ "'"
    ) }}
{%- endif -%}

with

database_stages as (

    select * from {{ ref('int_database_stages_resolved') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

registry_agencies as (

    select * from {{ ref('registry_agencies') }}

),

feed_file_loads as (

    select * from {{ ref('feed_file_loads') }}

),

run_date_stages as (

    select * from database_stages
    where is_run_date

),

owned_databases_counted as (

    -- the as-of rule already picked each database's effective report: its
    -- date is the latest report_date <= run date, null when never reported
    select
        registry_databases.owner_agency_code as agency_code,
        count(*) as databases_owned,
        count(
            run_date_stages.effective_report_date
        ) as databases_reported,
        max(run_date_stages.effective_report_date) as last_report_date,
        max(run_date_stages.status_date) as as_of_date
    from run_date_stages
    inner join registry_databases
        on run_date_stages.database_code = registry_databases.database_code
    group by registry_databases.owner_agency_code

),

feed_file_loads_counted as (

    select
        agency_code,
        count(*) as files_received,
        count(*) filter (
            where file_status = 'rejected'
        ) as files_rejected,
        sum(rows_rejected) as rows_rejected,
        max(received_at) as last_received_at
    from feed_file_loads
    where agency_code is not null
    group by agency_code

),

lateness_judged as (

    select
        -- ids
        owned_databases_counted.agency_code,

        -- strings
        registry_agencies.name_vi as agency_name_vi,
        registry_agencies.name_en as agency_name_en,

        -- numerics
        owned_databases_counted.databases_owned,
        owned_databases_counted.databases_reported,
        coalesce(feed_file_loads_counted.files_received, 0) as files_received,
        coalesce(feed_file_loads_counted.files_rejected, 0) as files_rejected,
        coalesce(feed_file_loads_counted.rows_rejected, 0) as rows_rejected,
        owned_databases_counted.as_of_date
        - owned_databases_counted.last_report_date as days_since_last_report,
        {{ max_age_text }} as freshness_max_age_days,

        -- booleans
        coalesce(
            owned_databases_counted.as_of_date
            - owned_databases_counted.last_report_date
            > {{ max_age_text }},
            true
        ) as is_late,

        -- dates
        owned_databases_counted.last_report_date,
        owned_databases_counted.as_of_date,

        -- timestamps
        feed_file_loads_counted.last_received_at

    from owned_databases_counted
    left join registry_agencies
        on owned_databases_counted.agency_code = registry_agencies.agency_code
    left join feed_file_loads_counted
        on
            owned_databases_counted.agency_code
            = feed_file_loads_counted.agency_code

)

select * from lateness_judged
