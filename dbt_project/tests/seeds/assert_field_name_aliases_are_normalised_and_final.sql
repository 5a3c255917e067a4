{#- The alias seed is usable as one lookup: both columns are spelled as
    normalise_field_name spells them (else no feed row ever matches), and no
    canonical field_name is itself an alias (no chains to follow). -#}
with

field_name_aliases as (

    select * from {{ ref('field_name_aliases') }}

),

problems_found as (

    select
        alias,
        field_name,
        'alias is not normalised' as problem
    from field_name_aliases
    where alias != coalesce({{ normalise_field_name('alias') }}, '')

    union all

    select
        alias,
        field_name,
        'field_name is not normalised' as problem
    from field_name_aliases
    where field_name != coalesce({{ normalise_field_name('field_name') }}, '')

    union all

    select
        field_name_aliases.alias,
        field_name_aliases.field_name,
        'field_name is itself an alias' as problem
    from field_name_aliases
    inner join field_name_aliases as aliases_of_aliases
        on field_name_aliases.field_name = aliases_of_aliases.alias

)

select * from problems_found
