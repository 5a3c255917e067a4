"""The write side of rejected rows: a file's quarantine (Quarantine) and how its rows reach
raw.rejected_rows.

It counts rejections by reason, keeps the first REJECTED_SAMPLES_KEPT for the report, and spools
every one as COPY text in bounded memory (or keeps a small file's as objects, for its one
statement: rejected_json); the evidence of each row is bounded and still exact (_rejected_values).
Which rows are rejected, and why, is decided elsewhere: by the Python rules (validation.py), and
for lines of the wrong width by the Arrow path (fast_csv.py; add_malformed).
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import operator
import tempfile
from collections import Counter
from typing import IO, TYPE_CHECKING

import psycopg

from r71_tracker.feeds import contract
from r71_tracker.feeds.chunks import CHUNK_BYTES
from r71_tracker.feeds.report import REJECTED_SAMPLES_KEPT, FileReport, row_message, storable
from r71_tracker.feeds.validation import RowRejection

if TYPE_CHECKING:
    from r71_tracker.feeds.fast_csv import BulkRejections

_COPY_REJECTED = """
copy raw.rejected_rows (
    file_id, line_number, reason_code, message, raw_record, raw_record_chars, raw_record_sha256
) from stdin
"""
_QUARANTINE_SPOOL_BYTES = 8 * 1024 * 1024  # rejected rows kept in memory before a temporary file
_BULK_ROWS = 16_384  # bulk-quarantined rows formatted at a time (bounded memory)
_COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class Quarantine:
    """A file's rejected rows, in bounded memory however many there are.

    Counted by reason, the REJECTED_SAMPLES_KEPT first in file order kept for the report, and
    every one spooled as a line of COPY text (in memory up to _QUARANTINE_SPOOL_BYTES, then in a
    temporary file): one connection runs one COPY at a time, and the file's rows are being COPYed
    while it is judged, so raw.rejected_rows is written when that is done (`write`). A small
    file's rows (`keep_rows`) are kept as objects instead, for its one statement.
    """

    def __init__(self, report: FileReport, *, keep_rows: bool = False) -> None:
        self.report = report
        self.count = 0
        self.by_reason: Counter[str] = Counter()
        self.samples: list[RowRejection] = []
        self.rows: list[RowRejection] | None = [] if keep_rows else None
        self._spool: IO[bytes] | None = None

    def add(self, rejection: RowRejection) -> None:
        self.count += 1
        self.by_reason[rejection.reason_code] += 1
        self._sample(rejection)
        if self.rows is not None:
            self.rows.append(rejection)
            return
        file_id, line_number, reason, message, raw, chars, sha256 = _rejected_values(
            self.report, rejection
        )
        line = (
            f"{file_id}\t{line_number}\t{reason}\t{_copy_text(message)}\t{_copy_text(raw)}"
            f"\t{chars}\t{sha256}\n"
        )
        self._spooled().write(line.encode("utf-8"))

    def add_bulk(self, rejected: BulkRejections) -> None:
        """Rows the Arrow path rejected in bulk (fast_csv.BulkRejections), with the reason,
        message and evidence the Python rules give them, each without a RowRejection of its own
        (but the samples)."""
        if not len(rejected):
            return
        self.count += len(rejected)
        self.by_reason.update(rejected.reasons)
        first = heapq.nsmallest(
            REJECTED_SAMPLES_KEPT, range(len(rejected)), key=rejected.numbers.__getitem__
        )
        for row in first:  # the kinds of rows rejected in bulk come one kind after the other
            number, reason = rejected.numbers[row], rejected.reasons[row]
            raw = rejected.texts[row].decode("utf-8")
            where = f"line {number}"
            self._sample(RowRejection(number, where, reason, rejected.details[row], raw))
        file_id = self.report.file_id or 0
        name = _copy_text(storable(self.report.original_name))
        spool = self._spooled()
        for start in range(0, len(rejected), _BULK_ROWS):
            parts: list[str] = []
            end = start + _BULK_ROWS
            batch = (
                rejected.numbers[start:end],
                rejected.reasons[start:end],
                rejected.details[start:end],
                rejected.texts[start:end],
            )
            for number, reason, detail, text in zip(*batch, strict=True):
                raw = text.decode("utf-8")
                sha256 = hashlib.sha256(text).hexdigest()
                parts.append(
                    f"{file_id}\t{number}\t{reason}\t{name} line {number}: {reason}:"
                    f" {_copy_text(detail)}\t{_copy_text(raw)}\t{len(raw)}\t{sha256}\n"
                )
            spool.write("".join(parts).encode("utf-8"))

    def _sample(self, rejection: RowRejection) -> None:
        """Keep the rejection if it is among the first REJECTED_SAMPLES_KEPT by line (rows come
        in line order from each way of judging, not across them)."""
        samples = self.samples
        if len(samples) >= REJECTED_SAMPLES_KEPT:
            if rejection.line_number >= samples[-1].line_number:
                return
            samples.pop()
        bisect.insort(samples, rejection, key=operator.attrgetter("line_number"))

    def _spooled(self) -> IO[bytes]:
        if self._spool is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=_QUARANTINE_SPOOL_BYTES)
        return self._spool

    def write(self, conn: psycopg.Connection) -> None:
        """COPY the spooled rows into raw.rejected_rows (inside the file's transaction)."""
        if self._spool is None:
            return
        with self._spool as spool, conn.cursor().copy(_COPY_REJECTED) as copy:
            spool.seek(0)
            while chunk := spool.read(CHUNK_BYTES):
                copy.write(chunk)
        self._spool = None


def _copy_text(text: str) -> str:
    """Text as a field of COPY's text format (the other fields are numbers, codes and hex)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_TEXT_ESCAPES)
    return text


def _rejected_values(
    report: FileReport, rejection: RowRejection
) -> tuple[int | None, int, str, str, str, int | None, str]:
    """A raw.rejected_rows row: the first RAW_EXCERPT_CHARS of the raw text, with the whole
    text's length and SHA-256 (of its UTF-8), so the evidence is bounded and still exact."""
    raw = rejection.raw_text
    chars, sha256 = rejection.raw_chars, rejection.raw_sha256
    if sha256 is None:  # the whole text is at hand
        chars = len(raw)
        sha256 = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return (
        report.file_id,
        rejection.line_number,
        rejection.reason_code,
        storable(row_message(report.original_name, rejection)),
        storable(raw[: contract.RAW_EXCERPT_CHARS]),
        chars,
        sha256,
    )


def rejected_json(report: FileReport, rejections: list[RowRejection]) -> str:
    names = (
        "line_number",
        "reason_code",
        "message",
        "raw_record",
        "raw_record_chars",
        "raw_record_sha256",
    )
    return json.dumps(
        [dict(zip(names, _rejected_values(report, r)[1:], strict=True)) for r in rejections],
        ensure_ascii=False,
    )
