{{ config(materialized='view') }}

select first_model.code
from {{ ref('first') }} as first_model
inner join {{ ref('codes') }} as codes on first_model.code = codes.code
