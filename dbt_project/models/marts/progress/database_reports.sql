{{ config(indexes=[{'columns': ['database_code', 'report_date']}]) }}

with

status_reports as (

    select * from {{ ref('int_status_reports_received') }}

),

feed_files as (

    select * from {{ ref('stg_feeds__feed_files') }}

),

reports_with_file as (

    -- every report row received for a database, with the feed file and
    -- line it came from: what a database's page lists, newest first
    select
        -- ids
        status_reports.database_code,
        status_reports.agency_code,
        status_reports.file_id,
        status_reports.line_number,

        -- strings
        feed_files.original_name,
        feed_files.feed_format,
        status_reports.platform_status,
        status_reports.data_status,
        status_reports.notes,

        -- numerics
        status_reports.record_count,
        status_reports.records_updated_30d,
        status_reports.consumer_agencies,

        -- booleans
        status_reports.process_integrated,
        status_reports.connected_national,

        -- dates
        status_reports.report_date,

        -- timestamps
        status_reports.received_at
    from status_reports
    inner join feed_files
        on status_reports.file_id = feed_files.file_id

)

select * from reports_with_file
