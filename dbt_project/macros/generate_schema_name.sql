{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- Write-audit-publish: with var candidate_schema set (the pipeline's
        builds), the models are written to the candidate, never to what
        people read: marts models to the candidate schema, staging and
        intermediate models to its work schema (`<candidate>__work`). Seeds
        (the registry) and the snapshot (what each publication showed) keep
        their fixed schemas; the snapshot runs after a publication. -#}
    {%- set candidate = var('candidate_schema', none) -%}
    {%- set schema = (custom_schema_name or target.schema) | trim -%}
    {%- if candidate and node.resource_type == 'model' -%}
        {%- if schema == 'marts' -%}
            {{ candidate | trim }}
        {%- else -%}
            {{ candidate | trim }}__work
        {%- endif -%}
    {%- else -%}
        {#- +schema configured per folder: used as-is (staging, marts), never
            prefixed with the target schema, so the names are fixed -#}
        {{ schema }}
    {%- endif -%}
{%- endmacro %}
