"""SQL the suites run as unexpected-rows queries, kept free of GX imports so the benchmark's
hand-written pass can run the very same statement."""

# One stage per database per day: the history's primary key must be in place ({batch} is the
# checked relation, filled in by GX; `stage_history` resolves through the search path to the
# relation judged: the candidate's, or the published one).
STAGE_HISTORY_KEY_MISSING = """
select 'stage_history has no primary key on (database_code, status_date)' as problem
from (select 1 from {batch} limit 1) as history_has_rows
where not exists (
    select
    from pg_catalog.pg_constraint as key
    where key.contype = 'p'
        and key.conrelid = 'stage_history'::regclass
        and (
            select array_agg(attribute.attname::text order by attribute.attname)
            from pg_catalog.pg_attribute as attribute
            where attribute.attrelid = key.conrelid and attribute.attnum = any(key.conkey)
        ) = array['database_code', 'status_date']
)
"""
