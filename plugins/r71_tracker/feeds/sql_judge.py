"""The set-based SQL judge of a large status CSV: staged by COPY, the certainly valid rows found
and inserted in SQL, every other row's line number set aside for the Python rules.

The Python rules (validation.py) are the reference: the SQL rules only decide faster which rows
are certainly valid, with the same trimming (PYTHON_WHITESPACE), date and count readings, and
leave anything unusual to them. A file the staging COPY cannot read exactly like Python's csv
module (records spanning lines, stray quotes, lines too long) is reported by stage() so that the
caller takes the Python way; so is a server older than SET_BASED_MIN_SERVER_VERSION or a file
wider than MAX_STAGED_COLUMNS (the caller checks both). It owns the TEMP tables feed_registry,
feed_agencies, feed_stage and feed_repeated, and the SQL of the rules.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from r71_tracker.feeds import contract
from r71_tracker.feeds.readers import decoded_chunks
from r71_tracker.registry import Registry

if TYPE_CHECKING:
    from r71_tracker.feeds.progress import ProgressBar

SET_BASED_MIN_SERVER_VERSION = 160000  # pg_input_is_valid; older servers use the Python rules
MAX_STAGED_COLUMNS = 1_000  # wider CSVs are judged by the streamed Python rules
# Python's str.strip() whitespace (every character whose isspace() is true; a unit test checks
# the list), so SQL trims exactly what validation.normalise_text trims.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BOM = codecs.BOM_UTF8
# A quoted CSV field as Python's csv module reads it (quote at the start, doubled quotes inside).
# It starts with the literal quote (the field's start checked behind it) so the regex engine
# jumps from quote to quote instead of trying every byte: about twice as fast.
# Possessive: a backtracking repeat kept state per character (a 5 MB quoted field: 594 MB, 1.6 s).
_QUOTED_FIELD = re.compile(rb'"(?<=[,\n]")(?:[^"]++|"")*+"(?=[,\r\n])')


def load_registry_tables(conn: psycopg.Connection, registry: Registry) -> None:
    """The registry as TEMP tables for the SQL rules (feed_registry, feed_agencies)."""
    conn.execute(
        "create temp table if not exists feed_registry"
        " (database_code text primary key, owner text not null)"
    )
    conn.execute("create temp table if not exists feed_agencies (agency_code text primary key)")
    conn.execute("truncate feed_registry, feed_agencies")
    with conn.cursor().copy("copy feed_registry from stdin") as copy:
        for code, owner in registry.database_owners.items():
            copy.write_row((code, owner))
    with conn.cursor().copy("copy feed_agencies from stdin") as copy:
        for code in registry.agency_codes:
            copy.write_row((code,))
    conn.execute("analyze feed_registry")
    conn.execute("analyze feed_agencies")


def stage(
    conn: psycopg.Connection,
    path: Path,
    feed_format: str,
    staged: list[str],
    max_bytes: int,
    progress: ProgressBar,
) -> tuple[bool, int, bool]:
    """The CSV COPYed into a new staging table (feed_stage, dropped on commit; the `staged`
    columns as text, `ord` the record's order): (read exactly as Python would, rows, all NFC).
    Not exact when COPY cannot read it (the caller rolls back and takes the Python way)."""
    conn.execute(
        "create temp table feed_stage (ord bigint generated always as identity, "
        + ", ".join(f"{column} text" for column in staged)
        + ") on commit drop"
    )
    try:
        chunks = decoded_chunks(path, feed_format, max_bytes)
        return _copy_stage(conn, staged, chunks, progress)
    except psycopg.DataError:
        return False, 0, False


def _copy_stage(
    conn: psycopg.Connection, staged: list[str], chunks: Iterator[bytes], progress: ProgressBar
) -> tuple[bool, int, bool]:
    """COPY the CSV (its decoded bytes) into the staging table: (read exactly as Python would,
    rows, all NFC)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    nfc = True
    text_tail = ""
    newlines = 0
    last = b"\n"
    tail = b""
    exact = True
    cursor = conn.cursor()
    with cursor.copy(
        f"copy feed_stage ({', '.join(staged)}) from stdin (format csv, header true)"
    ) as copy:
        for number, chunk in enumerate(chunks):
            if number == 0 and chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
            if exact:
                # Quotes are read alike only where Python's csv module sees a quoted field.
                buffer = tail + chunk
                cut = buffer.rfind(b"\n") + 1
                whole, tail = buffer[:cut], buffer[cut:]
                exact = b'"' not in whole or not _stray_quote(whole)
                if len(tail) > 4 * contract.MAX_LINE_CHARS:  # UTF-8: at most 4 bytes a char
                    exact, tail = False, b""  # a line too long: the Python rules say so
            if nfc and not chunk.isascii():
                # Lines never compose across a newline, so whole lines are checked.
                text = text_tail + decoder.decode(chunk)
                cut = text.rfind("\n") + 1
                text_tail = text[cut:]
                nfc = unicodedata.is_normalized("NFC", text[:cut])
            copy.write(chunk)
            progress.advance(len(chunk))
    if tail and b'"' in tail and _stray_quote(tail + b"\n"):
        exact = False
    nfc = nfc and unicodedata.is_normalized("NFC", text_tail + decoder.decode(b"", final=True))
    lines = newlines + (0 if last == b"\n" else 1)
    return exact and lines == cursor.rowcount + 1, cursor.rowcount, nfc


@dataclass
class StagedVerdict:
    """The staged rows judged in SQL: how many were certainly valid (inserted), the keys the
    file repeats (as the Python rules name them) and the line numbers of every other row."""

    loaded: int
    repeated: dict[str, tuple[int, str]]
    set_aside: array[int]  # line numbers, 8 bytes each however many rows are bad


def judge_staged(
    conn: psycopg.Connection,
    columns: list[str],
    field: dict[str, str],
    rows: int,
    all_nfc: bool,
    file_id: int | None,
    received_day: date,
    file_agency: str | None,
) -> StagedVerdict:
    """Judge the `rows` staged rows (`field`: a column name's staged column; `columns`: the
    header): insert those certainly valid into raw.status_reports (none without `file_agency`),
    and set the others aside, in line order, for the Python rules."""
    column = {name: sql.Identifier(field[name]) for name in contract.REQUIRED_FIELDS}
    params = {
        "ws": PYTHON_WHITESPACE,
        "file_id": file_id,
        "received_day": received_day,
        "agency": file_agency,
    }
    # The staged rows' estimates are guesses: a nested loop over a million rows never pays.
    # The date of a key depends on the key alone, so it is checked per repeated key, not row.
    conn.execute("set local enable_nestloop = off")
    conn.execute("set local datestyle = 'ISO, YMD'")
    groups = conn.execute(
        sql.SQL(
            "select db, d, n, first from ("
            " select db, d, count(*) as n, min(ord) as first from ("
            " select ord, {db} as db, {d} as d from feed_stage offset 0) k"
            " where db <> '' group by db, d having count(*) > 1 offset 0) g"
            " where {date} >= date '0001-01-01'"
        ).format(
            db=_key_text(column["database_code"], all_nfc),
            d=_key_text(column["report_date"], all_nfc),
            date=_iso_date(sql.SQL("d")),
        ),
        params,
    ).fetchall()
    repeated = {
        f"{database}\x1f{day}": (count, f"line {first + 1}")
        for database, day, count, first in groups
    }
    conn.execute(
        "create temp table feed_repeated (db text, d text, primary key (db, d)) on commit drop"
    )
    if groups:
        with conn.cursor().copy("copy feed_repeated from stdin") as copy:
            for database, day, _, _ in groups:
                copy.write_row((database, day))
    free_text = [  # notes and every other column, named or not, as staged (c0, c1, ...)
        f"c{index}" for index, name in enumerate(columns) if name not in contract.REQUIRED_FIELDS
    ]
    judged = _clean_rows(column, field.get("notes"), all_nfc, bool(groups), free_text)
    loaded = 0
    if file_agency is not None:
        loaded = conn.execute(
            sql.SQL(
                "insert into raw.status_reports ("
                " file_id, line_number, report_date, agency_code, database_code,"
                " platform_status, data_status, process_integrated, connected_national,"
                " record_count, records_updated_30d, consumer_agencies, notes)"
                " select %(file_id)s, j.ord + 1, j.dt, j.agency, j.db, j.ps, j.ds, j.pi, j.cn,"
                " j.rc, j.ru, j.ca, j.notes from ({judged}) j"
            ).format(judged=judged),
            params,
        ).rowcount
    set_aside = array("q")  # line numbers, 8 bytes each however many rows are bad
    if loaded < rows:
        # The rows SQL did not load: judged again by the Python rules, which explain them.
        query = sql.SQL(
            "select ord from feed_stage except all select ord from ({judged}) j order by 1"
        )
        with conn.cursor(name="feed_set_aside") as cursor:
            cursor.itersize = 100_000
            cursor.execute(query.format(judged=judged), params)
            set_aside.extend(ord_ + 1 for (ord_,) in cursor)
    return StagedVerdict(loaded, repeated, set_aside)


def _stray_quote(lines: bytes) -> bool:
    """A quote Python's csv module reads differently from COPY (not a whole quoted field)."""
    return b'"' in _QUOTED_FIELD.sub(b",", b"\n" + lines)


def _key_text(column: sql.Identifier, all_nfc: bool) -> sql.Composable:
    """A field as validation.normalise_text makes it; the costly trim and NFC only if needed.

    ASCII without a leading or trailing space or control character is already normalised.
    """
    normal = sql.SQL("btrim({}, %(ws)s)" if all_nfc else "btrim(normalize({}, nfc), %(ws)s)")
    return sql.SQL(
        "case when octet_length({c}) = length({c}) and left({c}, 1) > ' '"
        " and right({c}, 1) > ' ' then {c} else {normal} end"
    ).format(c=column, normal=normal.format(column))


def _iso_date(value: sql.Composable) -> sql.Composable:
    """The date of text written exactly YYYY-MM-DD (what parse_date accepts), else null.

    Round trip instead of a regular expression (a regex costs ~0.5 s per million rows);
    DateStyle is set to ISO for the transaction.
    """
    return sql.SQL(
        "case when length({v}) = 10 and pg_input_is_valid({v}, 'date')"
        " and {v}::date::text = {v} then {v}::date end"
    ).format(v=value)


def _plain_count(value: sql.Composable, type_name: str) -> sql.Composable:
    """True for plain digits within the column's type (what parse_integer accepts unchanged)."""
    return sql.SQL(
        "(case when pg_input_is_valid({v}, {t}) then {v}::{ty} >= 0 and {v}::{ty}::text = {v} end)"
    ).format(v=value, t=sql.Literal(type_name), ty=sql.SQL(type_name))


def _plain_counts(total: sql.Composable, updated: sql.Composable) -> sql.Composable:
    """Both counts plain bigint digits (as _plain_count) and updated <= total, each cast once."""
    return sql.SQL(
        "(case when pg_input_is_valid({t}, 'bigint') and pg_input_is_valid({u}, 'bigint')"
        " then {t}::bigint >= 0 and {u}::bigint >= 0 and {t}::bigint::text = {t}"
        " and {u}::bigint::text = {u} and {u}::bigint <= {t}::bigint end)"
    ).format(t=total, u=updated)


def _clean_date(value: sql.Composable) -> sql.Composable:
    """True for a date written exactly YYYY-MM-DD (as _iso_date) from 0001-01-01 to the day
    received; the date is parsed once per row."""
    return sql.SQL(
        "(case when length({v}) = 10 and pg_input_is_valid({v}, 'date')"
        " then {v}::date::text = {v} and {v}::date >= date '0001-01-01'"
        " and {v}::date <= %(received_day)s end)"
    ).format(v=value)


_BOOLEAN_SPELLINGS = sql.SQL(
    "('true', '1', 'yes', 'false', '0', 'no', 'TRUE', 'YES', 'FALSE', 'NO',"
    " 'True', 'Yes', 'False', 'No')"
)


def _clean_rows(
    column: dict[str, sql.Identifier],
    notes: str | None,
    all_nfc: bool,
    repeats: bool,
    free_text: list[str],
) -> sql.Composable:
    """Staged rows that are certainly valid, typed; any unusual value is left to the Python rules.

    Values are compared as staged (untrimmed): a value equal to a registry code, an allowed value
    or plain digits is already what normalise_text would make of it. A leading zero, an odd
    spelling or a space sends the row to Python, which decides (and may load it).
    Each cast is checked once per row (a BETWEEN or a repeated CASE evaluates it twice), and the
    anti-join on repeated keys, costly per staged row even when empty, is left out without them.
    `free_text`: the staged columns whose values the rules do not constrain (notes, extra
    columns); a row with one longer than MAX_FIELD_CHARS, or longer than _FREE_TEXT_CHARS
    together (its line could pass MAX_LINE_CHARS), goes to the Python rules (field_too_long).
    """
    if notes is None:
        notes_value: sql.Composable = sql.SQL("null::text")
    else:
        inner: sql.Composable = sql.Identifier(notes)
        if not all_nfc:
            inner = sql.SQL("normalize({}, nfc)").format(inner)
        notes_value = sql.SQL("nullif(btrim({}, %(ws)s), '')").format(inner)
    c = {name: sql.SQL("s.{}").format(identifier) for name, identifier in column.items()}
    return sql.SQL(
        "select s.ord, {agency} as agency, {db} as db, {ps} as ps, {ds} as ds,"
        " lower({pi}) in ('true', '1', 'yes') as pi, lower({cn}) in ('true', '1', 'yes') as cn,"
        " {rc}::bigint as rc, {ru}::bigint as ru, {ca}::integer as ca,"
        " {d}::date as dt, {notes} as notes"
        " from feed_stage s join feed_registry g on g.database_code = {db}"
        " where {agency} = %(agency)s and g.owner = %(agency)s"
        " and {ps} in ('not_started', 'building', 'operational')"
        " and {ds} in ('none', 'digitized', 'partial', 'centralized')"
        " and {pi} in {spellings} and {cn} in {spellings}"
        " and {counts_ok} and {ca_ok} and {date_ok}{unrepeated}{short}"
    ).format(
        agency=c["agency_code"],
        db=c["database_code"],
        d=c["report_date"],
        ps=c["platform_status"],
        ds=c["data_status"],
        pi=c["process_integrated"],
        cn=c["connected_national"],
        rc=c["record_count"],
        ru=c["records_updated_30d"],
        ca=c["consumer_agencies"],
        counts_ok=_plain_counts(c["record_count"], c["records_updated_30d"]),
        ca_ok=_plain_count(c["consumer_agencies"], "integer"),
        date_ok=_clean_date(c["report_date"]),
        unrepeated=sql.SQL(
            " and not exists (select from feed_repeated r where r.db = {db} and r.d = {d})"
            if repeats
            else ""
        ).format(db=c["database_code"], d=c["report_date"]),
        spellings=_BOOLEAN_SPELLINGS,
        notes=notes_value,
        short=_short_free_text(free_text),
    )


# Free text that stays within this many characters (plus the short constrained fields, quotes
# and commas) cannot make a line longer than MAX_LINE_CHARS, however it is quoted.
_FREE_TEXT_CHARS = 500_000


def _short_free_text(free_text: list[str]) -> sql.Composable:
    if not free_text:
        return sql.SQL("")
    lengths = [
        sql.SQL("coalesce(length(s.{}), 0)").format(sql.Identifier(name)) for name in free_text
    ]
    return sql.SQL(" and greatest({each}) <= {field} and {total} <= {line}").format(
        each=sql.SQL(", ").join(lengths),
        field=sql.Literal(contract.MAX_FIELD_CHARS),
        total=sql.SQL(" + ").join(lengths),
        line=sql.Literal(_FREE_TEXT_CHARS),
    )
