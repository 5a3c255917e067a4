{% macro classify_stage(platform_status, data_status, process_integrated) -%}
    {#- The Resolution 71 stage rule (FEED_CONTRACT "Stages"), the one place it
        is written. Arguments are SQL expressions of the effective report; all
        null = no effective report = unreported = not_started. -#}
    case
        when {{ platform_status }} is null then 'not_started'
        when
            {{ platform_status }} = 'operational'
            and {{ data_status }} = 'centralized'
            and {{ process_integrated }}
            then 'centralized'
        when
            {{ platform_status }} = 'not_started'
            and {{ data_status }} = 'none'
            then 'not_started'
        else 'in_progress'
    end
{%- endmacro %}
