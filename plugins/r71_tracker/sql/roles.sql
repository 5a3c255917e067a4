-- Least privilege (issues 5 and 10): six login roles, each granted exactly what its job needs in this
-- database. Runs after tracker_schema.sql, as the user of TRACKER_DATABASE_URL (the
-- administering user), in the same transaction. Idempotent.
--   tracker_loader       writes raw (insert only), reads the registry seeds
--   tracker_transformer  reads raw, owns the relations of staging, marts and the candidates (dbt);
--                        nothing in audit, so the role that builds the marts cannot forge a verdict
--   tracker_liaison      reads the published marts
--   tracker_auditor      reads audit, raw, the published marts and every candidate
--   tracker_gate         appends the gate's runs, results, file verdicts, publications and alerts
--   tracker_operator     appends withdraw/restore events (tracker files), reads the files' record
-- Roles are cluster-wide: created once (by whichever database migrates first), granted here per
-- database. No password is set: operators give one (alter role ... password) or map the role in
-- pg_hba/pg_ident. The tracker itself acts as the roles through SET ROLE on its own connection.

-- The roles, and the administering user's membership of them (SET ROLE needs it; so do the
-- hand-over of dbt's relations and the default privileges below). A superuser needs none.
do $$
declare
    tracker_role text;
    me text := current_user;
    is_super boolean;
    can_create boolean;
    v16 boolean := current_setting('server_version_num')::int >= 160000;
begin
    select rolsuper, rolcreaterole into is_super, can_create from pg_roles where rolname = me;
    foreach tracker_role in array array[
        'tracker_loader', 'tracker_transformer', 'tracker_liaison', 'tracker_auditor',
        'tracker_gate', 'tracker_operator'
    ] loop
        if not exists (select from pg_roles where rolname = tracker_role) then
            if not (is_super or can_create) then
                raise exception using
                errcode = 'insufficient_privilege',
                message = format(
                    'role %s does not exist and user %s lacks CREATEROLE to create it'
                    ' (grant it CREATEROLE, or have a superuser run the migration once)',
                    tracker_role, me
                );
            end if;
            begin
                -- LOGIN: operators and tests log in as the role; no password here.
                execute format('create role %I login', tracker_role);
            exception when duplicate_object or unique_violation then
                null;  -- another database's migration created it meanwhile
            end;
        end if;
        -- Needed: its privileges (INHERIT) and SET ROLE to it (PostgreSQL 16 tells them apart;
        -- a CREATEROLE user's own new role comes with ADMIN OPTION only).
        if not is_super and not (
            pg_has_role(me, tracker_role, 'USAGE')
            and pg_has_role(me, tracker_role, case when v16 then 'SET' else 'MEMBER' end)
        ) then
            begin
                if v16 then
                    execute format(
                        'grant %I to %I with inherit true, set true', tracker_role, me
                    );
                else
                    execute format('grant %I to %I', tracker_role, me);
                end if;
            exception when insufficient_privilege or invalid_grant_operation then
                raise exception using
                errcode = 'insufficient_privilege',
                message = format(
                    'user %s is not a member of role %s and cannot grant it to itself'
                    ' (a superuser must run: grant %s to %s)',
                    me, tracker_role, tracker_role, me
                );
            end;
        end if;
    end loop;
end
$$;

-- dbt's schemas exist before dbt first runs, owned by the administering user; dbt only creates
-- relations in them.
create schema if not exists staging;
create schema if not exists marts;

-- Start from nothing, so what follows is exactly what each role holds here (re-runs included);
-- the transformer keeps its owner's rights on the relations it owns in staging and marts.
revoke all on schema raw, staging, marts, audit
from tracker_loader, tracker_transformer, tracker_liaison, tracker_auditor, tracker_gate,
tracker_operator;
revoke all on all tables in schema raw, audit
from tracker_loader, tracker_transformer, tracker_liaison, tracker_auditor, tracker_gate,
tracker_operator;
revoke all on all sequences in schema raw, audit
from tracker_loader, tracker_transformer, tracker_liaison, tracker_auditor, tracker_gate,
tracker_operator;
revoke all on all tables in schema staging, marts
from tracker_loader, tracker_liaison, tracker_auditor, tracker_gate, tracker_operator;

-- The database: every role connects; only the loader (set-based path) and dbt (snapshots) make
-- TEMP tables, so PUBLIC loses its default TEMP. Only the database's owner (or a superuser) may
-- change this; otherwise PUBLIC's defaults (CONNECT, TEMP) stay and a notice says so.
do $$
begin
    if pg_has_role(
        current_user,
        (select datdba from pg_database where datname = current_database()),
        'USAGE'
    ) then
        execute format(
            'grant connect on database %I to tracker_loader, tracker_transformer,'
            ' tracker_liaison, tracker_auditor, tracker_gate, tracker_operator',
            current_database()
        );
        execute format(
            'revoke temporary on database %I'
            ' from public, tracker_liaison, tracker_auditor, tracker_gate, tracker_operator',
            current_database()
        );
        execute format(
            'grant temporary on database %I to tracker_loader, tracker_transformer',
            current_database()
        );
    else
        raise notice 'not the owner of database %: CONNECT and TEMP stay as PUBLIC has them',
        current_database();
    end if;
end
$$;

-- tracker_transformer: dbt. Creates (and so owns) every relation in staging and marts. Relations
-- an earlier dbt run made as another user are handed over, or dbt could not replace them.
grant usage, create on schema staging, marts to tracker_transformer;
do $$
declare
    relation record;
begin
    for relation in
        select
            c.oid::regclass as name,
            case c.relkind
                when 'v' then 'view'
                when 'm' then 'materialized view'
                when 'f' then 'foreign table'
                else 'table'
            end as kind
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        where
            n.nspname in ('staging', 'marts')
            and c.relkind in ('r', 'p', 'v', 'm', 'f')
            and c.relowner <> 'tracker_transformer'::regrole
    loop
        execute format('alter %s %s owner to tracker_transformer', relation.kind, relation.name);
    end loop;
end
$$;
grant usage on schema raw to tracker_transformer;
grant select on all tables in schema raw to tracker_transformer;
-- Nothing in audit: the role that builds the marts must not be able to write (or forge) the
-- gate's verdict on them (the revokes above took away what schema 7 granted).

-- tracker_loader: inserts into raw (never updates, deletes or truncates it), reserves file ids
-- from raw.feed_files' identity sequence, reads the registry seeds. dbt re-grants the seeds'
-- SELECT whenever it recreates them (+grants in dbt_project.yml); existing ones are granted here.
grant usage on schema raw to tracker_loader;
grant select, insert on all tables in schema raw to tracker_loader;
grant usage on all sequences in schema raw to tracker_loader;
grant usage on schema staging to tracker_loader;
do $$
declare
    seed text;
begin
    foreach seed in array array[
        'staging.registry_databases', 'staging.registry_agencies', 'staging.registry_provinces'
    ] loop
        if to_regclass(seed) is not null then
            execute format('grant select on %s to tracker_loader', seed);
        end if;
    end loop;
end
$$;

-- tracker_liaison and tracker_auditor: every marts relation, now and whatever dbt creates later.
grant usage on schema marts to tracker_liaison, tracker_auditor;
grant select on all tables in schema marts to tracker_liaison, tracker_auditor;
alter default privileges for role tracker_transformer in schema marts
revoke all on tables from tracker_loader, tracker_liaison, tracker_auditor;
alter default privileges for role tracker_transformer in schema marts
grant select on tables to tracker_liaison, tracker_auditor;

-- tracker_auditor: the audit trail, read only (this migration re-grants new audit tables), and
-- every candidate the transformer builds (the pipeline grants USAGE on each candidate schema to
-- the auditor only; the liaison gets a candidate only when it is published as marts).
grant usage on schema audit to tracker_auditor;
grant select on all tables in schema audit to tracker_auditor;
-- The raw feed rows and files too, read only: the tracker's pages (which read as this role) show
-- a report or an offending row with its file and its line as received.
grant usage on schema raw to tracker_auditor;
grant select on all tables in schema raw to tracker_auditor;
alter default privileges for role tracker_transformer
grant select on tables to tracker_auditor;

-- tracker_gate: the gate's record. It appends gate runs, expectation results, file verdicts,
-- publications and alerts, and reads the audit trail and the files' record (to name files); no
-- other role may write these tables, and no role may update or delete them (triggers).
grant usage on schema audit to tracker_gate;
grant select on all tables in schema audit to tracker_gate;
grant insert on audit.gate_runs, audit.expectation_results, audit.file_verdicts,
audit.publications, audit.alerts to tracker_gate;
grant usage on all sequences in schema audit to tracker_gate;
grant usage on schema raw to tracker_gate;
grant select on raw.feed_files to tracker_gate;

-- tracker_operator: operators' recourse on received files (tracker files withdraw / restore),
-- an appended event each; reads the files' record, their quarantined rows and the audit trail.
grant usage on schema audit to tracker_operator;
grant select on all tables in schema audit to tracker_operator;
grant insert on audit.file_events to tracker_operator;
grant usage on all sequences in schema audit to tracker_operator;
grant usage on schema raw to tracker_operator;
grant select on raw.feed_files, raw.rejected_rows, raw.refused_files to tracker_operator;
