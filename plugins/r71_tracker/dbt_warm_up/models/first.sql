select
    code,
    {{ shout('name') }} as name
from {{ source('raw', 'things') }}
