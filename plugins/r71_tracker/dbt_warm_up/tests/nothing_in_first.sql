select code from {{ ref('first') }} where false
