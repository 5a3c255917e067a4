"""Numbers, shares and dates as Vietnamese and English readers write them.

One place for the formatting every text the tracker shows people uses (the audit's plain words,
the pages): Vietnamese readers see "1.234,5", "93,3%" and "15/12/2025"; English readers
"1,234.5", "93.3%" and "2025-12-15" (ISO dates, as the feeds and the audit trail write them).
Numbers and shares are formatted by Babel from the Unicode CLDR data of each locale, so nothing
here hand-codes a separator.

    >>> number(1234.5, "vi"), number(1234.5, "en")
    ('1.234,5', '1,234.5')
    >>> percent(0.9333, "vi"), day(date(2025, 12, 5), "vi")
    ('93,3%', '05/12/2025')
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal, get_args

from babel import Locale
from babel.numbers import format_decimal, format_percent

Lang = Literal["en", "vi"]
LANGS: tuple[Lang, ...] = get_args(Lang)
# parsed once: Babel parsing a locale name on every call cost about 100 us a number
_LOCALES: dict[Lang, Locale] = {"en": Locale.parse("en"), "vi": Locale.parse("vi")}


def lang_of(text: str) -> Lang:
    """A language code as typed (`VI`, ` en`) checked against the ones the tracker writes."""
    wanted = text.strip().lower()
    for lang in LANGS:
        if wanted == lang:
            return lang
    raise ValueError(f"unknown language {text!r}: expected one of {', '.join(LANGS)}")


def number(value: float | int, lang: Lang, digits: int = 1) -> str:
    """A number with the locale's separators and at most `digits` decimals (none shown when
    the value is whole): 1234.5 -> "1,234.5" (en), "1.234,5" (vi). Whole counts, which pages
    list by the hundred, are grouped directly: the same text as Babel's, without its cost."""
    if type(value) is int:
        grouped = f"{value:,}"
        return grouped.replace(",", ".") if lang == "vi" else grouped
    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=_LOCALES[lang])


def percent(share: float, lang: Lang, digits: int = 1) -> str:
    """A share (0.933 is 93.3 %) as a percentage with at most `digits` decimals:
    "93.3%" (en), "93,3%" (vi)."""
    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "") + "%"
    return format_percent(share, format=pattern, locale=_LOCALES[lang])


def day(value: date, lang: Lang) -> str:
    """A calendar day: "2025-12-05" (en, ISO 8601) or "05/12/2025" (vi, dd/mm/yyyy)."""
    return value.strftime("%d/%m/%Y") if lang == "vi" else value.isoformat()


def moment(value: datetime, lang: Lang) -> str:
    """A point in time, in UTC to the second, with its zone: "2025-12-05 07:30:00 UTC" (en),
    "05/12/2025 07:30:00 UTC" (vi). A naive value is taken to be UTC already."""
    utc = value.astimezone(UTC) if value.tzinfo else value
    return f"{day(utc.date(), lang)} {utc:%H:%M:%S} UTC"
