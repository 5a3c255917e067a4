{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {#- no +schema configured: the profile's schema (staging) -#}
        {{ target.schema }}
    {%- else -%}
        {#- +schema configured per folder: used as-is (staging, marts), never
            prefixed with the target schema, so the names are fixed -#}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
