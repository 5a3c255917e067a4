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
    import numpy as np

    from r71_tracker.feeds.fast_csv import MalformedLines

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

    def add_malformed(self, lines: MalformedLines, width: int) -> None:
        """Lines the Arrow path found with the wrong number of fields, quarantined in bulk:
        the rows, reason, message and evidence the Python rules give them (malformed_row), each
        without a Python judgement of its own."""
        if not len(lines):
            return
        self.count += len(lines)
        self.by_reason[contract.MALFORMED_ROW] += len(lines)
        block = lines.block
        for number, start, end, fields in zip(
            *(column[:REJECTED_SAMPLES_KEPT].tolist() for column in _columns(lines)), strict=True
        ):
            detail = f"{fields} fields, the header has {width}"
            raw = block[start:end].decode("utf-8")
            where = f"line {number}"
            self._sample(RowRejection(number, where, contract.MALFORMED_ROW, detail, raw))
        name = storable(self.report.original_name).translate(_COPY_TEXT_ESCAPES)
        head = b"%d\t%%d\t%s\t%s line %%d: %s: %%d fields, the header has %d\t" % (
            self.report.file_id or 0,
            contract.MALFORMED_ROW.encode(),
            name.replace("%", "%%").encode("utf-8"),
            contract.MALFORMED_ROW.encode(),
            width,
        )
        spool = self._spooled()
        for first in range(0, len(lines), _BULK_ROWS):
            parts: list[bytes] = []
            batch = (column[first : first + _BULK_ROWS].tolist() for column in _columns(lines))
            for number, start, end, fields in zip(*batch, strict=True):
                text = block[start:end]
                chars = len(text) if text.isascii() else len(text.decode("utf-8"))
                if b"\\" in text or b"\t" in text:
                    evidence = text.replace(b"\\", b"\\\\").replace(b"\t", b"\\t")
                else:
                    evidence = text
                parts.append(head % (number, number, fields))
                sha256 = hashlib.sha256(text).hexdigest().encode()
                parts.append(b"%s\t%d\t%s\n" % (evidence, chars, sha256))
            spool.write(b"".join(parts))

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


def _columns(lines: MalformedLines) -> tuple[np.ndarray, ...]:
    return (lines.numbers, lines.starts, lines.ends, lines.widths)


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
