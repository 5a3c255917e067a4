{% test expression_is_true(model, expression) %}
    {#- Rows for which the boolean SQL expression is not true (false or null)
        fail; a small stand-in for dbt_utils, which cannot be downloaded here.
        Narrow the rows with the standard `config: where:`. -#}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
