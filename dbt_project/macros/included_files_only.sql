{% macro included_files_only(source_relation, alias) -%}
    {#- The rows of `source_relation` whose files this build includes (new or
        published): held and withdrawn files' rows stay in raw but never
        reach the marts. -#}
    select {{ alias }}.*
    from {{ source_relation }} as {{ alias }}
    where {{ alias }}.file_id in (
        select file_states.file_id
        from {{ source('build', 'file_states') }} as file_states
        where file_states.is_included
    )
{%- endmacro %}
