with

source as (

    select * from {{ source('feeds', 'feed_files') }}

),

renamed as (

    select
        -- ids
        file_id,
        sha256,
        agency_code,

        -- strings
        original_name,
        feed_format,
        feed_kind,
        file_status,
        file_reason_code,
        file_reason_message,
        extra_columns,

        -- numerics
        size_bytes,
        rows_received,
        rows_loaded,
        rows_rejected,

        -- timestamps
        received_at

    from source

)

select * from renamed
