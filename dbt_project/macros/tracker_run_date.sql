{% macro tracker_run_date(latest_report_date) -%}
    {#- The date the run judges, as a SQL date expression.
        var run_date (YYYY-MM-DD) when given; else the latest report_date
        loaded (the SQL expression passed in); else, when nothing is loaded
        yet, var resolution_start_date. -#}
    {%- set run_date = var('run_date', none) -%}
    {%- if run_date is not none and run_date | string | trim != '' -%}
        cast('{{ tracker_checked_date(run_date, "run_date") }}' as date)
    {%- else -%}
        coalesce(
            {{ latest_report_date }},
            cast('{{ tracker_resolution_start_date() }}' as date)
        )
    {%- endif -%}
{%- endmacro %}


{% macro tracker_resolution_start_date() -%}
    {{- tracker_checked_date(
        var('resolution_start_date', '2025-04-01'), 'resolution_start_date'
    ) -}}
{%- endmacro %}


{% macro tracker_checked_date(value, var_name) -%}
    {#- A var that must be an ISO date: fail at compile time naming the var,
        before any SQL runs, instead of a cast error deep inside a model. -#}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ var_name ~ " must be a date YYYY-MM-DD, got '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{- modules.datetime.date.fromisoformat(text).isoformat() -}}
{%- endmacro %}
