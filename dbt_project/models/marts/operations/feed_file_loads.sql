with

feed_files as (

    select * from {{ ref('stg_feeds__feed_files') }}

),

status_reports as (

    select * from {{ ref('stg_feeds__status_reports') }}

),

field_reports as (

    select * from {{ ref('stg_feeds__field_reports') }}

),

rejected_rows as (

    select * from {{ ref('stg_feeds__rejected_rows') }}

),

status_reports_counted as (

    select
        file_id,
        count(*) as status_rows_stored,
        min(report_date) as first_report_date,
        max(report_date) as last_report_date
    from status_reports
    group by file_id

),

field_reports_counted as (

    select
        file_id,
        count(*) as field_rows_stored,
        min(report_date) as first_report_date,
        max(report_date) as last_report_date
    from field_reports
    group by file_id

),

rejected_rows_counted as (

    select
        file_id,
        count(*) as rejected_rows_stored
    from rejected_rows
    group by file_id

),

row_counts_joined as (

    select
        -- ids
        feed_files.file_id,
        feed_files.agency_code,

        -- strings
        feed_files.original_name,
        feed_files.feed_format,
        feed_files.feed_kind,
        feed_files.file_status,
        feed_files.file_reason_code,
        feed_files.file_reason_message,
        feed_files.file_state,

        -- numerics
        feed_files.rows_received,
        feed_files.rows_loaded,
        feed_files.rows_rejected,
        coalesce(
            status_reports_counted.status_rows_stored, 0
        ) as status_rows_stored,
        coalesce(
            field_reports_counted.field_rows_stored, 0
        ) as field_rows_stored,
        coalesce(
            rejected_rows_counted.rejected_rows_stored, 0
        ) as rejected_rows_stored,
        feed_files.size_bytes,

        -- dates (a file is one feed: status or fields rows, not both)
        coalesce(
            status_reports_counted.first_report_date,
            field_reports_counted.first_report_date
        ) as first_report_date,
        coalesce(
            status_reports_counted.last_report_date,
            field_reports_counted.last_report_date
        ) as last_report_date,

        -- timestamps
        feed_files.received_at

    from feed_files
    left join status_reports_counted
        on feed_files.file_id = status_reports_counted.file_id
    left join field_reports_counted
        on feed_files.file_id = field_reports_counted.file_id
    left join rejected_rows_counted
        on feed_files.file_id = rejected_rows_counted.file_id

)

select * from row_counts_joined
