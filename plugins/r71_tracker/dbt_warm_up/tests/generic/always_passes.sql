{% test always_passes(model) %}
select 1 as failure from {{ model }} where false
{% endtest %}
