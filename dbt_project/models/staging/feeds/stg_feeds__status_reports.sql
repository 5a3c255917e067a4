with

source as (

    {{ included_files_only(
        source('feeds', 'status_reports'), 'status_reports'
    ) }}

),

renamed as (

    select
        -- ids
        cast(file_id as text)
        || ':' || cast(line_number as text) as status_report_id,
        file_id,
        line_number,
        database_code,
        agency_code,

        -- strings
        platform_status,
        data_status,
        notes,

        -- numerics
        record_count,
        records_updated_30d,
        consumer_agencies,

        -- booleans (names kept: they are the feed contract's field names)
        process_integrated,
        connected_national,

        -- dates
        report_date

    from source

)

select * from renamed
