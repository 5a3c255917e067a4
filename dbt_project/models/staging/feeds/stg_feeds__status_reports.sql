with

source as (

    -- only the rows of files this build includes (new or published): held
    -- and withdrawn files' rows stay in raw but never reach the marts
    select status_reports.*
    from {{ source('feeds', 'status_reports') }} as status_reports
    where status_reports.file_id in (
        select file_states.file_id
        from {{ source('build', 'file_states') }} as file_states
        where file_states.is_included
    )

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
