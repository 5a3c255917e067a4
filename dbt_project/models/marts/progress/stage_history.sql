with

database_stages as (

    select * from {{ ref('int_database_stages_resolved') }}

),

history_columns_selected as (

    select
        database_code,
        status_date,
        stage,
        is_unreported,
        effective_report_date,
        evidence_file_id,
        evidence_line_number
    from database_stages

)

select * from history_columns_selected
