{% macro postgres__drop_relation(relation) -%}
    {#- dbt replaces a view by renaming the old copy to <name>__dbt_backup and
        then dropping it with CASCADE, which also locks and drops every view
        built on it (rebuilt later in the DAG). Two threads dropping the old
        copies of views that share a downstream view lock those views in
        different orders and deadlock (dbt-core issue 9246). The feed staging
        views are such views: int_status_reports_received and
        int_field_reports_received each read two of them. A transaction-scoped
        advisory lock, taken in the drop's own transaction and released with
        its other locks, makes the drops take turns; everything else in the
        build still runs on both threads. Key 710074 is this lock's alone
        (the tracker's other advisory keys are 710071-710073). -#}
    {% call statement('drop_relation', auto_begin=False) -%}
        select pg_advisory_xact_lock(710074);
        {{ get_drop_sql(relation) }}
    {%- endcall %}
{%- endmacro %}
