with

source as (

    {{ included_files_only(source('feeds', 'field_reports'), 'field_reports') }}

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
