with

status_reports as (

    select * from {{ ref('stg_feeds__status_reports') }}

),

feed_files as (

    select * from {{ ref('stg_feeds__feed_files') }}

),

reports_with_receipt as (

    -- received_date: the day the file was received as the ministries
    -- live it (Vietnam, UTC+7, no daylight saving): the contract's "not
    -- after the day the file is received"
    select
        status_reports.*,
        feed_files.received_at,
        cast(
            (feed_files.received_at at time zone 'UTC') + interval '7 hours'
            as date
        ) as received_date,
        -- the contract's cross-field rules as plain columns, so the quality
        -- gate checks them in the same single scan as every other value
        status_reports.record_count
        - status_reports.records_updated_30d as records_not_updated_30d,
        cast(
            (feed_files.received_at at time zone 'UTC') + interval '7 hours'
            as date
        ) - status_reports.report_date as days_from_report_to_receipt
    from status_reports
    inner join feed_files
        on status_reports.file_id = feed_files.file_id

)

select * from reports_with_receipt
