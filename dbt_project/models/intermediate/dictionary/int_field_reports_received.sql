with

field_reports as (

    select * from {{ ref('stg_feeds__field_reports') }}

),

feed_files as (

    select * from {{ ref('stg_feeds__feed_files') }}

),

reports_with_receipt as (

    select
        field_reports.*,
        feed_files.original_name as file_name,
        feed_files.received_at
    from field_reports
    inner join feed_files
        on field_reports.file_id = feed_files.file_id

)

select * from reports_with_receipt
