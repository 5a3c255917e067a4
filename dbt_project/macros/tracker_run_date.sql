{% macro tracker_run_date(latest_report_date) -%}
    {#- The date the run judges, as a SQL date expression.
        Environment variable TRACKER_RUN_DATE (YYYY-MM-DD) when set; else the
        latest report_date loaded (the SQL expression passed in); else, when
        nothing is loaded yet, var resolution_start_date. The run date is not
        a dbt var: dbt re-parses the whole project when a var changes, and
        only the files that read an environment variable when it changes. -#}
    {%- set run_date = env_var('TRACKER_RUN_DATE', '') -%}
    {%- if run_date | trim != '' -%}
        cast('{{ tracker_checked_date(run_date, "TRACKER_RUN_DATE") }}' as date)
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
    {#- A setting that must be an ISO date: fail at compile time naming it,
        before any SQL runs, instead of a cast error deep inside a model. -#}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(
            var_name ~ " must be a date YYYY-MM-DD, got '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{- modules.datetime.date.fromisoformat(text).isoformat() -}}
{%- endmacro %}
