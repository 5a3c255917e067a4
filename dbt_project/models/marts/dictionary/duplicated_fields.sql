with

database_fields as (

    select * from {{ ref('int_database_fields_current') }}

),

fields_counted as (

    select
        field_name,
        string_agg(
            database_code, ', ' order by database_code
        ) as collecting_database_codes,
        string_agg(
            database_code, ', ' order by database_code
        ) filter (where is_original_source) as original_source_database_codes,
        string_agg(
            distinct field_type, ', ' order by field_type
        ) as field_types,
        count(*) as databases_collecting,
        count(distinct agency_code) as agencies_collecting,
        count(*) filter (where is_original_source) as original_source_claims,
        max(as_of_date) as as_of_date
    from database_fields
    group by field_name

),

findings_judged as (

    select
        *,
        case
            when original_source_claims = 0 then 'no_original_source'
            else 'several_original_sources'
        end as finding
    from fields_counted
    where
        databases_collecting > 1
        and original_source_claims != 1

),

findings_worded as (

    select
        -- ids
        field_name,

        -- strings
        finding,
        'Trường thông tin này được '
        || databases_collecting || ' cơ sở dữ liệu của '
        || agencies_collecting || ' cơ quan thu thập'
        || case
            when finding = 'no_original_source'
                then ' nhưng không cơ sở dữ liệu nào nhận là'
            else
                ' và ' || original_source_claims
                || ' cơ sở dữ liệu cùng nhận là'
        end
        || ' nguồn dữ liệu gốc.' as finding_vi,
        'This field is collected by '
        || databases_collecting || ' databases of '
        || agencies_collecting
        || case
            when agencies_collecting = 1 then ' agency' else ' agencies'
        end
        || case
            when finding = 'no_original_source'
                then ' and none of them claims'
            else ' and ' || original_source_claims || ' of them claim'
        end
        || ' to be its original source.' as finding_en,
        collecting_database_codes,
        original_source_database_codes,
        field_types,

        -- numerics
        databases_collecting,
        agencies_collecting,
        original_source_claims,

        -- dates
        as_of_date

    from findings_judged

)

select * from findings_worded
