with

database_fields as (

    select * from {{ ref('int_database_fields_current') }}

),

duplicated_fields as (

    select * from {{ ref('duplicated_fields') }}

),

registry_databases as (

    select * from {{ ref('registry_databases') }}

),

fields_counted as (

    select
        *,
        count(*) over (partition by field_name) as databases_collecting
    from database_fields

),

dictionary_detailed as (

    select
        -- ids
        fields_counted.database_code,
        fields_counted.agency_code as owner_agency_code,

        -- strings
        registry_databases.name_vi as database_name_vi,
        registry_databases.name_en as database_name_en,
        fields_counted.field_name,
        fields_counted.field_names_sent,
        fields_counted.field_type,
        duplicated_fields.finding,

        -- numerics
        fields_counted.times_listed,
        fields_counted.databases_collecting,

        -- booleans
        fields_counted.is_original_source,
        duplicated_fields.field_name is not null as is_duplicated,

        -- dates
        fields_counted.effective_report_date,
        fields_counted.as_of_date,

        -- evidence: the feed row behind it (its first listing)
        fields_counted.evidence_file_id,
        fields_counted.evidence_file_name,
        fields_counted.evidence_line_number,

        -- timestamps
        fields_counted.evidence_received_at

    from fields_counted
    left join duplicated_fields
        on fields_counted.field_name = duplicated_fields.field_name
    left join registry_databases
        on fields_counted.database_code = registry_databases.database_code

)

select * from dictionary_detailed
