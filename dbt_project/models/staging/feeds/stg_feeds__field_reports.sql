with

source as (

    -- only the rows of files this build includes (new or published): held
    -- and withdrawn files' rows stay in raw but never reach the marts
    select field_reports.*
    from {{ source('feeds', 'field_reports') }} as field_reports
    where field_reports.file_id in (
        select file_states.file_id
        from {{ source('build', 'file_states') }} as file_states
        where file_states.is_included
    )

),

renamed as (

    select
        -- ids
        cast(file_id as text)
        || ':' || cast(line_number as text) as field_report_id,
        file_id,
        line_number,
        agency_code,
        database_code,

        -- strings
        field_name,
        {{ normalise_field_name('field_name') }} as field_name_normalised,
        field_type,

        -- booleans
        is_original_source,

        -- dates
        report_date

    from source

)

select * from renamed
