with

database_stages as (

    select * from {{ ref('int_database_stages_resolved') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

feed_files as (

    select * from {{ ref('stg_feeds__feed_files') }}

),

run_date_stages as (

    select * from database_stages
    where is_run_date

),

registry_details_joined as (

    select
        -- ids
        run_date_stages.database_code,
        registry_databases.owner_agency_code,

        -- strings
        registry_databases.name_vi as database_name_vi,
        registry_databases.name_en as database_name_en,
        registry_databases.provenance,
        run_date_stages.stage,
        run_date_stages.platform_status,
        run_date_stages.data_status,

        -- booleans
        run_date_stages.is_unreported,
        run_date_stages.process_integrated,
        run_date_stages.connected_national,

        -- numerics
        run_date_stages.record_count,
        run_date_stages.records_updated_30d,
        run_date_stages.consumer_agencies,

        -- dates
        run_date_stages.effective_report_date,

        -- evidence: the feed row the stage came from
        run_date_stages.evidence_file_id,
        feed_files.original_name as evidence_file_name,
        run_date_stages.evidence_line_number,
        run_date_stages.status_date as as_of_date,

        -- more than the fixed interface
        registry_databases.kind as database_kind,
        run_date_stages.report_notes,
        run_date_stages.status_date
        - run_date_stages.effective_report_date as report_age_days,
        registry_databases.deadline_date,
        run_date_stages.evidence_received_at

    from run_date_stages
    inner join registry_databases
        on run_date_stages.database_code = registry_databases.database_code
    left join feed_files
        on run_date_stages.evidence_file_id = feed_files.file_id

)

select * from registry_details_joined
