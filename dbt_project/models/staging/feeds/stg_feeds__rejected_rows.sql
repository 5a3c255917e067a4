with

source as (

    select * from {{ source('feeds', 'rejected_rows') }}

),

renamed as (

    select
        -- ids
        cast(file_id as text)
        || ':' || cast(line_number as text) as rejected_row_id,
        file_id,
        line_number,

        -- strings
        reason_code,
        message as reason_message,
        raw_record

    from source

)

select * from renamed
