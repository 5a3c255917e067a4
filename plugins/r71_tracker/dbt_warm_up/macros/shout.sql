{% macro shout(column) %}upper({{ column }}){% endmacro %}
