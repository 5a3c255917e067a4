{% macro fill_placeholders(template, values) -%}
    {#- A rule text of the seeds with its `{name}` placeholders filled in: one
        replace() per entry of `values` (placeholder name -> SQL expression,
        cast to text; null fills in as an empty string, so one missing value
        never blanks the whole text). -#}
    {%- set filled = namespace(sql=template) -%}
    {%- for name, expression in values.items() -%}
        {%- set filled.sql = "replace(" ~ filled.sql ~ ", '{" ~ name ~ "}', "
            ~ "coalesce(cast(" ~ expression ~ " as text), ''))" -%}
    {%- endfor -%}
    {{ filled.sql }}
{%- endmacro %}
