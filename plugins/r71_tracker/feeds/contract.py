"""Feed contract v1.1: the feeds, fields, values and reason codes ministries build against.

One place for the vocabulary, so the validator, the CLI and the published contract
(docs/FEED_CONTRACT.md) cannot drift apart. v1 defined the status feed; v1.1 adds the optional
data-dictionary feed (`fields`). v1 files keep loading unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta, timezone

CONTRACT_VERSION = "v1.1"

# Every v1 field, in the order the contract lists them (CSV column order is free).
FIELDS: tuple[str, ...] = (
    "report_date",
    "agency_code",
    "database_code",
    "platform_status",
    "data_status",
    "process_integrated",
    "connected_national",
    "record_count",
    "records_updated_30d",
    "consumer_agencies",
    "notes",
)
OPTIONAL_FIELDS: frozenset[str] = frozenset({"notes"})
REQUIRED_FIELDS: tuple[str, ...] = tuple(name for name in FIELDS if name not in OPTIONAL_FIELDS)
BOOLEAN_FIELDS: tuple[str, ...] = ("process_integrated", "connected_national")
INTEGER_FIELDS: tuple[str, ...] = ("record_count", "records_updated_30d", "consumer_agencies")
DATE_FIELDS: tuple[str, ...] = ("report_date",)  # in both feeds
# Dates are written exactly YYYY-MM-DD (and must exist); counts are plain digits.
ISO_DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
PLAIN_DIGITS_PATTERN = "[0-9]+"
# A status file must not repeat this key (duplicate_database_in_file).
STATUS_KEY_FIELDS: tuple[str, ...] = ("database_code", "report_date")

PLATFORM_STATUSES: tuple[str, ...] = ("not_started", "building", "operational")
DATA_STATUSES: tuple[str, ...] = ("none", "digitized", "partial", "centralized")
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "platform_status": PLATFORM_STATUSES,
    "data_status": DATA_STATUSES,
}

# Boolean spellings, compared after lower-casing ("TRUE", "Yes" and "yes" are the same).
TRUE_SPELLINGS: frozenset[str] = frozenset({"true", "1", "yes"})
FALSE_SPELLINGS: frozenset[str] = frozenset({"false", "0", "no"})

# Largest values the raw tables hold (bigint for record counts, integer for consumer agencies).
INTEGER_LIMITS: dict[str, int] = {
    "record_count": 2**63 - 1,
    "records_updated_30d": 2**63 - 1,
    "consumer_agencies": 2**31 - 1,
}

# JSON layout: agency_code once per file, report_date per file or per entry, entries in `databases`.
JSON_ENTRIES_KEY = "databases"

# Feed file names the tracker reads, and the format each one is.
FEED_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".json": "json",
    ".csv.gz": "csv.gz",
    ".json.gz": "json.gz",
}

# "Not after the day the file is received": the day as the ministries live it (Vietnam has no DST).
RECEIVED_DAY_TIMEZONE = timezone(timedelta(hours=7), "ICT")

# v1.1: the data dictionary (`fields` feed): one row per information field a database collects.
DICTIONARY_FIELDS: tuple[str, ...] = (
    "report_date",
    "agency_code",
    "database_code",
    "field_name",
    "field_type",
    "is_original_source",
)
DICTIONARY_BOOLEAN_FIELDS: tuple[str, ...] = ("is_original_source",)
DICTIONARY_ENTRIES_KEY = "fields"

# Limits of a CSV record, so that any file within the size limit is read in bounded memory: a
# longer field, or a longer physical line, rejects its record as field_too_long; a rejected row
# keeps the first RAW_EXCERPT_CHARS of its raw text, with the whole text's length and SHA-256.
MAX_FIELD_CHARS = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
RAW_EXCERPT_CHARS = 4 * 1024
FIELD_TOO_LONG = "field_too_long"
MALFORMED_ROW = "malformed_row"  # a record with the wrong number of fields, or broken quoting

# Row-level reason codes: the row is quarantined in raw.rejected_rows, the file's other rows load.
ROW_REASONS: dict[str, str] = {
    "malformed_row": "the row cannot be read as one record (wrong number of CSV fields, broken "
    "quoting, a NUL character, or a JSON entry that is not an object)",
    "missing_field": "a required field is absent or empty",
    "unknown_agency": "agency_code is not an agency of the registry",
    "agency_mismatch": "the row's agency differs from the file's reporting agency, or the "
    "database is owned by another agency",
    "unknown_database": "database_code is not a database of the registry",
    "bad_date": "report_date is not a real date written YYYY-MM-DD",
    "future_date": "report_date is after the day the file was received (Vietnam time)",
    "bad_enum": "platform_status or data_status is not one of the allowed values",
    "bad_boolean": "a boolean is not true/false, 1/0 or yes/no (any case)",
    "bad_integer": "a count is not plain digits (no sign, decimals or separators) or is too large",
    "negative_count": "a count is negative",
    "updated_exceeds_records": "records_updated_30d is greater than record_count",
    "duplicate_database_in_file": "the file has two or more rows for the same database and "
    "report date; all of them are rejected because the file contradicts itself",
    "duplicate_field_in_file": "a data dictionary lists the same field (names compared without "
    "regard to case) twice for one database and report date; all of them are rejected",
    FIELD_TOO_LONG: f"a CSV field is longer than {MAX_FIELD_CHARS:,} characters, or a CSV line "
    f"longer than {MAX_LINE_CHARS:,} (read no further than that)",
}

CHANGED_WHILE_READ = "changed_while_read"

# File-level reason codes: the whole file is rejected, nothing from it loads (its bytes are kept).
FILE_REASONS: dict[str, str] = {
    "too_large": "the file (or its gzip content) is larger than the size limit",
    "bad_format": "the file name is not .csv, .json, .csv.gz or .json.gz, or the content is not "
    "valid gzip, CSV with a header row, or a JSON object with a databases (or fields) list",
    "bad_encoding": "the text is not UTF-8 (with or without BOM)",
    "empty_file": "the file has no data rows",
    "missing_columns": "required columns (CSV) or file keys (JSON) are missing",
    CHANGED_WHILE_READ: "the file changed while it was read (still being written, or replaced): "
    "nothing of it loads, the bytes read are kept as received; send it again once complete",
}

# Not a contract outcome: the path given to the tracker could not be opened; nothing was received.
UNREADABLE = "unreadable"
SYMBOLIC_LINK = "symbolic_link"
NOT_A_REGULAR_FILE = "not_a_regular_file"
INTERNAL_ERROR = "internal_error"
OPERATOR_REASONS: dict[str, str] = {
    UNREADABLE: "the path does not exist or cannot be read; nothing was received or stored",
    SYMBOLIC_LINK: "the path is a symbolic link: refused, its target is never opened; nothing was "
    "received or stored",
    NOT_A_REGULAR_FILE: "the path is a FIFO, socket or device, not a regular file: refused without "
    "reading (a FIFO would block); nothing was received or stored",
    INTERNAL_ERROR: "an unexpected error while reading or loading this file (a fault of the "
    "tracker, with an id to find its traceback in the log); nothing of the file was stored, the "
    "other files of the call go on",
}

REASONS: dict[str, str] = {**ROW_REASONS, **FILE_REASONS, **OPERATOR_REASONS}

# Order in which row rules are checked: a row is rejected for the first rule it breaks.
ROW_CHECK_ORDER: tuple[str, ...] = (
    "field_too_long",
    "malformed_row",
    "missing_field",
    "unknown_agency",
    "agency_mismatch",
    "unknown_database",
    "bad_date",
    "future_date",
    "bad_enum",
    "bad_boolean",
    "bad_integer",
    "negative_count",
    "updated_exceeds_records",
    "duplicate_database_in_file",
)
DICTIONARY_ROW_CHECK_ORDER: tuple[str, ...] = (
    "field_too_long",
    "malformed_row",
    "missing_field",
    "unknown_agency",
    "agency_mismatch",
    "unknown_database",
    "bad_date",
    "future_date",
    "bad_boolean",
    "duplicate_field_in_file",
)


@dataclass(frozen=True)
class FeedKind:
    """One feed of the contract: its fields, its JSON list and the raw table its rows load into.

    Which kind a file is comes from its content (the CSV header, the JSON list's key), so a
    ministry sends both feeds the same way and a v1 status file needs nothing new.
    """

    name: str
    fields: tuple[str, ...]
    optional_fields: frozenset[str]
    boolean_fields: tuple[str, ...]
    integer_fields: tuple[str, ...]
    entries_key: str
    raw_table: str
    row_check_order: tuple[str, ...]
    duplicate_reason: str

    @functools.cached_property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.fields if name not in self.optional_fields)

    @property
    def file_keys(self) -> tuple[str, ...]:
        """JSON top-level keys: agency_code once, report_date per file or per entry, the list."""
        return ("agency_code", "report_date", self.entries_key)


STATUS_FEED = FeedKind(
    name="status",
    fields=FIELDS,
    optional_fields=OPTIONAL_FIELDS,
    boolean_fields=BOOLEAN_FIELDS,
    integer_fields=INTEGER_FIELDS,
    entries_key=JSON_ENTRIES_KEY,
    raw_table="raw.status_reports",
    row_check_order=ROW_CHECK_ORDER,
    duplicate_reason="duplicate_database_in_file",
)
DICTIONARY_FEED = FeedKind(
    name="fields",
    fields=DICTIONARY_FIELDS,
    optional_fields=frozenset(),
    boolean_fields=DICTIONARY_BOOLEAN_FIELDS,
    integer_fields=(),
    entries_key=DICTIONARY_ENTRIES_KEY,
    raw_table="raw.field_reports",
    row_check_order=DICTIONARY_ROW_CHECK_ORDER,
    duplicate_reason="duplicate_field_in_file",
)
FEED_KINDS: tuple[FeedKind, ...] = (STATUS_FEED, DICTIONARY_FEED)
FEED_KINDS_BY_NAME: dict[str, FeedKind] = {kind.name: kind for kind in FEED_KINDS}


def kind_of_columns(columns: list[str]) -> FeedKind:
    """A CSV header with `field_name` and without `platform_status` is a data dictionary."""
    if "field_name" in columns and "platform_status" not in columns:
        return DICTIONARY_FEED
    return STATUS_FEED


def kind_of_document(document: dict) -> FeedKind:
    """A JSON object with a `fields` key and no `databases` key is a data dictionary."""
    if DICTIONARY_ENTRIES_KEY in document and JSON_ENTRIES_KEY not in document:
        return DICTIONARY_FEED
    return STATUS_FEED


def describe(reason_code: str) -> str:
    """The one-line human meaning of a reason code (the code itself when unknown)."""
    return REASONS.get(reason_code, reason_code)


def feed_format(file_name: str) -> str | None:
    """The feed format a file name announces ('csv', 'json', 'csv.gz', 'json.gz'), else None."""
    lowered = file_name.lower()
    for suffix in (".csv.gz", ".json.gz", ".csv", ".json"):
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return FEED_SUFFIXES[suffix]
    return None
