with

status_reports as (

    select * from {{ ref('stg_feeds__status_reports') }}

),

feed_files as (

    select * from {{ ref('stg_feeds__feed_files') }}

),

reports_with_receipt as (

    select
        status_reports.*,
        feed_files.received_at
    from status_reports
    inner join feed_files
        on status_reports.file_id = feed_files.file_id

)

select * from reports_with_receipt
