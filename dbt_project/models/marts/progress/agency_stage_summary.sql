with

stage_history as (

    select * from {{ ref('stage_history') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

stages_counted as (

    select
        registry_databases.owner_agency_code as agency_code,
        stage_history.status_date,
        count(*) as total_count,
        count(*) filter (
            where stage_history.stage = 'centralized'
        ) as centralized_count,
        count(*) filter (
            where stage_history.stage = 'in_progress'
        ) as in_progress_count,
        count(*) filter (
            where stage_history.stage = 'not_started'
        ) as not_started_count,
        count(*) filter (where stage_history.is_unreported) as unreported_count
    from stage_history
    inner join registry_databases
        on stage_history.database_code = registry_databases.database_code
    group by registry_databases.owner_agency_code, stage_history.status_date

)

select * from stages_counted
