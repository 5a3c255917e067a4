{% macro normalise_field_name(column) -%}
    {#- An information field's name as a comparable key: Vietnamese letters
        folded to ASCII, lower case, every run of characters other than
        [a-z0-9] one '_', no '_' at either end; null when nothing is left.
        "Số định danh cá nhân" -> so_dinh_danh_ca_nhan,
        "Date of birth" -> date_of_birth, " ho_ten " -> ho_ten.
        The folding is translate() over the precomposed (NFC, as the ingest
        stores text) letters of both cases, never lower() on non-ASCII text:
        under the C locale lower() leaves "Đ" or "Ố" as they are. -#}
    {%- set letters = {
        'a': 'àáảãạăằắẳẵặâầấẩẫậ',
        'd': 'đ',
        'e': 'èéẻẽẹêềếểễệ',
        'i': 'ìíỉĩị',
        'o': 'òóỏõọôồốổỗộơờớởỡợ',
        'u': 'ùúủũụưừứửữự',
        'y': 'ỳýỷỹỵ',
    } -%}
    {%- set folded_from = [] -%}
    {%- set folded_to = [] -%}
    {%- for ascii_letter, vietnamese_letters in letters.items() -%}
        {%- do folded_from.append(vietnamese_letters) -%}
        {%- do folded_to.append(ascii_letter * vietnamese_letters | length) -%}
        {%- do folded_from.append(vietnamese_letters | upper) -%}
        {%- do folded_to.append(ascii_letter * vietnamese_letters | length) -%}
    {%- endfor -%}
    {%- set folded_from = folded_from | join('') -%}
    {%- set folded_to = folded_to | join('') -%}
    {%- if folded_from | length != folded_to | length -%}
        {{ exceptions.raise_compiler_error(
            "normalise_field_name: translate() lists differ in length"
        ) }}
    {%- endif -%}
    nullif(
        btrim(
            regexp_replace(
                lower(
                    translate(
                        {{ column }},
                        '{{ folded_from }}',
                        '{{ folded_to }}'
                    )
                ),
                '[^a-z0-9]+',
                '_',
                'g'
            ),
            '_'
        ),
        ''
    )
{%- endmacro %}
