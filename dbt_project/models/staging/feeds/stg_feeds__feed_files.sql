with

source as (

    select * from {{ source('feeds', 'feed_files') }}

),

file_states as (

    -- the files received when the build started, with their state: files
    -- committed later wait for the next build
    select * from {{ source('build', 'file_states') }}

),

renamed as (

    select
        -- ids
        source.file_id,
        source.sha256,
        source.agency_code,

        -- strings
        source.original_name,
        source.feed_format,
        source.feed_kind,
        source.file_status,
        source.file_reason_code,
        source.file_reason_message,
        source.extra_columns,
        file_states.file_state,

        -- numerics
        source.size_bytes,
        source.rows_received,
        source.rows_loaded,
        source.rows_rejected,

        -- booleans
        file_states.is_included,

        -- timestamps
        source.received_at

    from source
    inner join file_states
        on source.file_id = file_states.file_id

)

select * from renamed
