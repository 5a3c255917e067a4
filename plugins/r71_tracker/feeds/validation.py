"""Row rules of feed contract v1.1: pure functions from one raw record to a typed row or a reason.

No I/O here, so every rule is unit-tested without files or a database. A row is rejected for the
first rule it breaks, in contract.ROW_CHECK_ORDER.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from r71_tracker.feeds import contract
from r71_tracker.registry import Registry

_ISO_DATE = re.compile(contract.ISO_DATE_PATTERN)
_PLAIN_DIGITS = re.compile(contract.PLAIN_DIGITS_PATTERN)
# PostgreSQL's bigint holds 19 digits: a longer count is bad_integer, whatever its value.
MAX_INTEGER_DIGITS = 19
_NEGATIVE_DIGITS = re.compile(r"-[0-9]+")


class RowProblem(Exception):
    """A row breaks a rule: the reason code and a short detail naming the field and value."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail


@dataclass(frozen=True)
class RawRecord:
    """One record as read from a file, before any rule is applied.

    `values` is None when the record could not be read as one record (`problem` says why).
    `line_number` is the CSV physical line where the record starts, or the JSON array index.
    """

    line_number: int
    location: str
    values: Mapping[str, object] | None
    raw_text: str  # the whole record, or its first RAW_EXCERPT_CHARS when it is longer
    problem: str | None = None
    problem_code: str = "malformed_row"  # the reason when `problem` is set
    raw_chars: int | None = None  # the whole record's length, when raw_text is an excerpt
    raw_sha256: str | None = None  # the whole record's hash (UTF-8), when raw_text is an excerpt


@dataclass(frozen=True)
class ValidRow:
    """A row that passed every rule, typed and NFC-normalised, ready for raw.status_reports."""

    line_number: int
    report_date: date
    agency_code: str
    database_code: str
    platform_status: str
    data_status: str
    process_integrated: bool
    connected_national: bool
    record_count: int
    records_updated_30d: int
    consumer_agencies: int
    notes: str | None

    @property
    def duplicate_key(self) -> str:
        return f"{self.database_code}\x1f{self.report_date.isoformat()}"


@dataclass(frozen=True)
class ValidFieldRow:
    """A data-dictionary row that passed every rule, ready for raw.field_reports."""

    line_number: int
    report_date: date
    agency_code: str
    database_code: str
    field_name: str
    field_type: str
    is_original_source: bool

    @property
    def duplicate_key(self) -> str:
        return _field_key(self.database_code, self.report_date, self.field_name)


LoadedRow = ValidRow | ValidFieldRow


def _field_key(database: str, report_date: date, field_name: str) -> str:
    """Field names compare without regard to case: `Họ tên` twice is one field listed twice."""
    return f"{database}\x1f{report_date.isoformat()}\x1f{field_name.casefold()}"


@dataclass(frozen=True)
class RowRejection:
    """A quarantined row: where it is, which rule it broke, and its raw text."""

    line_number: int
    location: str
    reason_code: str
    detail: str
    raw_text: str
    raw_chars: int | None = None  # as in RawRecord: set when raw_text is an excerpt
    raw_sha256: str | None = None


@dataclass
class AgencyContext:
    """The file's reporting agency: fixed for JSON, set by the first registered agency in CSV."""

    file_agency: str | None = None
    set_at: str | None = None
    fixed: bool = False


def normalise_text(value: str) -> str:
    """NFC and trimmed: NFD input from some systems must compare equal to NFC (ASCII text is
    its own NFC: only trimmed, which is most of a file's text, at a fraction of the cost)."""
    if value.isascii():
        return value.strip()
    return unicodedata.normalize("NFC", value).strip()


def text_value(value: object, name: str) -> str | None:
    """A field as normalised text; None when absent or blank."""
    if value is None:
        return None
    if type(value) is str:  # CSV fields: the common case first
        return normalise_text(value) or None
    if isinstance(value, dict | list):
        raise RowProblem(
            "malformed_row", f"{name} must be a single value, not a JSON {_kind(value)}"
        )
    text = value if isinstance(value, str) else json.dumps(value)
    text = normalise_text(text)
    return text or None


def _kind(value: object) -> str:
    return "object" if isinstance(value, dict) else "array"


def _shown(value: object) -> str:
    """A value as quoted in a message, kept short so the message stays one readable line."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", " ").replace("\r", " ")
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_date(text: str) -> date | None:
    """An ISO date written exactly YYYY-MM-DD, else None."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_boolean(value: object, name: str) -> bool:
    """true/false, 1/0, yes/no in any case (JSON true/false and 1/0 too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        spelled = normalise_text(value).lower()
        if spelled in contract.TRUE_SPELLINGS:
            return True
        if spelled in contract.FALSE_SPELLINGS:
            return False
    raise RowProblem("bad_boolean", f"{name} {_shown(value)} is not true/false, 1/0 or yes/no")


def parse_integer(value: object, name: str) -> int:
    """Plain digits (or a JSON integer) within the column's range; negatives get their own code."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = normalise_text(value)
        if _PLAIN_DIGITS.fullmatch(text) or _NEGATIVE_DIGITS.fullmatch(text):
            digits = len(text.lstrip("-").lstrip("0"))
            if digits > MAX_INTEGER_DIGITS:  # before int(): Python refuses 4,300+ digits
                raise RowProblem(
                    "bad_integer", f"{name} has {digits} digits: too large for any count"
                )
            number = int(text)
    if number is None:
        raise RowProblem(
            "bad_integer", f"{name} {_shown(value)} is not a whole number written in plain digits"
        )
    if number < 0:
        raise RowProblem("negative_count", f"{name} {number} is negative")
    if number > contract.INTEGER_LIMITS[name]:
        raise RowProblem("bad_integer", f"{name} {number} is too large")
    return number


def _required_texts(
    values: Mapping[str, object], kind: contract.FeedKind = contract.STATUS_FEED
) -> dict[str, str]:
    texts: dict[str, str] = {}
    missing: list[str] = []
    for name in kind.required_fields:
        raw = values.get(name)
        if name in kind.boolean_fields or name in kind.integer_fields:
            present = raw is not None and not (isinstance(raw, str) and not raw.strip())
            if isinstance(raw, dict | list):
                raise RowProblem("malformed_row", f"{name} must be a single value")
            if present:
                texts[name] = ""  # typed later; only presence matters here
            else:
                missing.append(name)
            continue
        text = text_value(raw, name)
        if text is None:
            missing.append(name)
        else:
            texts[name] = text
    if missing:
        raise RowProblem("missing_field", f"missing or empty: {', '.join(missing)}")
    return texts


def _check_agency(
    agency: str, database: str, registry: Registry, context: AgencyContext, location: str
) -> None:
    if agency not in registry.agency_codes:
        raise RowProblem(*unknown_agency(agency))
    if context.file_agency is None and not context.fixed:
        context.file_agency, context.set_at = agency, location
    elif agency != context.file_agency:
        raise RowProblem(*another_agency(agency, context))
    owner = registry.owner_of(database)
    if owner is None:
        raise RowProblem(*unknown_database(database))
    if owner != agency:
        raise RowProblem(*owned_by_another(database, owner, agency))


# The agency and database rules' answers (reason code, detail), in their order; the Arrow path,
# which finds in bulk which rows break them, takes its words from here.
def unknown_agency(agency: str) -> tuple[str, str]:
    return "unknown_agency", f"agency_code {_shown(agency)} is not in the registry"


def another_agency(agency: str, context: AgencyContext) -> tuple[str, str]:
    return (
        "agency_mismatch",
        f"agency_code {agency} differs from the file's agency {context.file_agency}"
        f" (set by {context.set_at}); one file = one reporting agency",
    )


def unknown_database(database: str) -> tuple[str, str]:
    return "unknown_database", f"database_code {_shown(database)} is not in the registry"


def owned_by_another(database: str, owner: str, agency: str) -> tuple[str, str]:
    return "agency_mismatch", f"database {database} is owned by {owner}, not {agency}"


def _check_counts(values: Mapping[str, object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    problems: list[RowProblem] = []
    for name in contract.INTEGER_FIELDS:
        try:
            counts[name] = parse_integer(values.get(name), name)
        except RowProblem as error:
            problems.append(error)
    for reason in ("bad_integer", "negative_count"):
        for problem in problems:
            if problem.reason_code == reason:
                raise problem
    if counts["records_updated_30d"] > counts["record_count"]:
        raise RowProblem(
            "updated_exceeds_records",
            f"records_updated_30d {counts['records_updated_30d']} is greater than"
            f" record_count {counts['record_count']}",
        )
    return counts


def _checked_texts(
    record: RawRecord,
    kind: contract.FeedKind,
    registry: Registry,
    received_day: date,
    context: AgencyContext,
) -> tuple[Mapping[str, object], dict[str, str], date]:
    """The rules both feeds share: readable, complete, the file's agency, a real past date."""
    values = record.values
    if values is None:
        raise RowProblem(record.problem_code, record.problem or "the row cannot be read")
    texts = _required_texts(values, kind)
    return values, texts, check_texts(texts, registry, received_day, context, record.location)


def check_texts(
    texts: Mapping[str, str],
    registry: Registry,
    received_day: date,
    context: AgencyContext,
    location: str,
) -> date:
    """The rules on a complete row's normalised texts, in order: the agency, the database, the
    report date (returned). Raises RowProblem for the first one broken."""
    _check_agency(texts["agency_code"], texts["database_code"], registry, context, location)
    report_date = parse_date(texts["report_date"])
    if report_date is None:
        raise RowProblem(
            "bad_date", f"report_date {_shown(texts['report_date'])} is not a date YYYY-MM-DD"
        )
    if report_date > received_day:
        raise RowProblem(
            "future_date",
            f"report_date {report_date} is after the day the file was received ({received_day})",
        )
    return report_date


def check_status_enums(texts: Mapping[str, str]) -> None:
    """A status row's statuses are the contract's words (RowProblem bad_enum, in field order)."""
    for name, allowed in contract.ENUM_VALUES.items():
        if texts[name] not in allowed:
            raise RowProblem(
                "bad_enum", f"{name} {_shown(texts[name])} is not one of {', '.join(allowed)}"
            )


def _typed_row(
    record: RawRecord, registry: Registry, received_day: date, context: AgencyContext
) -> ValidRow:
    values, texts, report_date = _checked_texts(
        record, contract.STATUS_FEED, registry, received_day, context
    )
    check_status_enums(texts)
    flags = {name: parse_boolean(values.get(name), name) for name in contract.BOOLEAN_FIELDS}
    counts = _check_counts(values)
    return ValidRow(
        line_number=record.line_number,
        report_date=report_date,
        agency_code=texts["agency_code"],
        database_code=texts["database_code"],
        platform_status=texts["platform_status"],
        data_status=texts["data_status"],
        process_integrated=flags["process_integrated"],
        connected_national=flags["connected_national"],
        record_count=counts["record_count"],
        records_updated_30d=counts["records_updated_30d"],
        consumer_agencies=counts["consumer_agencies"],
        notes=text_value(values.get("notes"), "notes"),
    )


def _typed_field_row(
    record: RawRecord, registry: Registry, received_day: date, context: AgencyContext
) -> ValidFieldRow:
    values, texts, report_date = _checked_texts(
        record, contract.DICTIONARY_FEED, registry, received_day, context
    )
    return ValidFieldRow(
        line_number=record.line_number,
        report_date=report_date,
        agency_code=texts["agency_code"],
        database_code=texts["database_code"],
        field_name=texts["field_name"],
        field_type=texts["field_type"],
        is_original_source=parse_boolean(values.get("is_original_source"), "is_original_source"),
    )


def validate_record(
    record: RawRecord,
    registry: Registry,
    received_day: date,
    context: AgencyContext,
    duplicate_keys: Mapping[str, tuple[int, str]] | None = None,
    kind: contract.FeedKind = contract.STATUS_FEED,
) -> LoadedRow | RowRejection:
    """Apply every row rule of the file's feed kind to one record.

    `duplicate_keys` maps a key that occurs more than once in the file ((database, report date)
    for status rows; (database, report date, field) for dictionary rows) to (its count, where it
    first occurs); rows with such a key are all rejected.
    """
    typed = _typed_field_row if kind is contract.DICTIONARY_FEED else _typed_row
    try:
        row = typed(record, registry, received_day, context)
    except RowProblem as problem:
        return RowRejection(
            record.line_number,
            record.location,
            problem.reason_code,
            problem.detail,
            record.raw_text,
            record.raw_chars,
            record.raw_sha256,
        )
    repeated = (duplicate_keys or {}).get(row.duplicate_key)
    if repeated is not None:
        count, first = repeated
        what = f"{row.database_code} for {row.report_date}"
        if isinstance(row, ValidFieldRow):
            what = f"field {_shown(row.field_name)} of {what}"
        return RowRejection(
            record.line_number,
            record.location,
            kind.duplicate_reason,
            f"{what} appears {count} times in this file (first at {first});"
            " all of them are rejected",
            record.raw_text,
            record.raw_chars,
            record.raw_sha256,
        )
    return row


def duplicate_key(record: RawRecord, kind: contract.FeedKind = contract.STATUS_FEED) -> str | None:
    """The key a file must not repeat, when its fields are readable, else None: (database,
    report date) for a status row, plus the field name for a dictionary row."""
    if record.values is None:
        return None
    try:
        database = text_value(record.values.get("database_code"), "database_code")
        report_text = text_value(record.values.get("report_date"), "report_date")
        field_name = (
            text_value(record.values.get("field_name"), "field_name")
            if kind is contract.DICTIONARY_FEED
            else ""
        )
    except RowProblem:
        return None
    report_date = parse_date(report_text) if report_text else None
    if not database or report_date is None or field_name is None:
        return None
    if kind is contract.DICTIONARY_FEED:
        return _field_key(database, report_date, field_name)
    return f"{database}\x1f{report_date.isoformat()}"
