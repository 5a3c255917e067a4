"""Feed ingestion: the public API (ingest_paths, find_new_files, reports) over the loader.

Each file is one transaction (see r71_tracker.feeds.loader): its bytes, its raw.feed_files row,
its loaded rows and its quarantined rows commit together or not at all. The same bytes received
again, under any name, are recognised by their sha256 and change nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from r71_tracker import database
from r71_tracker.config import ConfigError
from r71_tracker.feeds import contract
from r71_tracker.feeds.readers import open_regular_file
from r71_tracker.feeds.report import (
    DUPLICATE,
    LOADED,
    REJECTED,
    FileReport,
)

REJECTED_SAMPLES_PRINTED = 5


def _sha256_of(path: Path) -> str:
    with open_regular_file(path) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def feed_files_in(folder: Path) -> list[Path]:
    """Feed files directly inside a folder, sorted by name (hidden and other names ignored).

    Everything with a feed's name but a folder is listed, symbolic links, FIFOs and sockets
    included, without following or opening it: the ingest refuses those with their own reason
    (never silently), and never reads their target."""
    with os.scandir(folder) as entries:
        return sorted(
            folder / entry.name
            for entry in entries
            if not entry.is_dir(follow_symlinks=False)
            and not entry.name.startswith(".")
            and contract.feed_format(entry.name)
        )


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, a folder replaced by its feed files (feed_files_in)."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        files.extend(feed_files_in(path) if path.is_dir() else [path])
    return files


def ingest_paths(
    paths: list[Path], url: str | None = None, progress: bool | None = None
) -> list[FileReport]:
    """Ingest files and folders (a folder: its feed files, sorted by name), one report per file.

    The engine is r71_tracker.feeds.loader; `progress` shows a bar on large files (default: when
    stderr is a terminal; pass False for --json).
    """
    from r71_tracker.feeds import loader

    return loader.ingest_files(expand_paths(paths), url, progress)


class LandingFolderError(ConfigError):
    """The landing folder is missing, not a folder or unreadable (the message names it)."""


def _landing_files(landing_dir: Path) -> list[Path]:
    """The feed files of the landing folder. A folder that is not there fails the run, naming it:
    a run that ingested nothing would hide a wrong TRACKER_LANDING_DIR or a lost mount."""
    where = f"landing folder {landing_dir} (TRACKER_LANDING_DIR)"
    try:
        if not landing_dir.exists():
            raise LandingFolderError(f"{where} does not exist")
        if not landing_dir.is_dir():
            raise LandingFolderError(f"{where} is not a folder")
        return feed_files_in(landing_dir)
    except OSError as error:
        raise LandingFolderError(f"{where} cannot be read: {error.strerror or error}") from None


def find_new_files(landing_dir: Path, url: str) -> list[Path]:
    """Feed files in the landing folder whose bytes the tracker has not received yet (unreadable
    ones included: ingest reports them).

    Raises LandingFolderError when the folder does not exist, is not a folder or cannot be read.
    """
    return _not_received(_landing_files(landing_dir), url, unreadable=True)


def readable_files_not_received(paths: Iterable[Path], url: str) -> list[Path]:
    """Of `paths`, the files that can be read and whose bytes the tracker has not received yet."""
    return _not_received(paths, url, unreadable=False)


def _not_received(paths: Iterable[Path], url: str, *, unreadable: bool) -> list[Path]:
    digests: dict[Path, str | None] = {}
    for path in paths:
        try:
            digests[path] = _sha256_of(path)
        except OSError:
            digests[path] = None
    known_digests = [digest for digest in digests.values() if digest]
    with database.connect(url, role=database.LOADER_ROLE) as conn:
        rows = conn.execute(
            "select sha256 from raw.feed_files where sha256 = any(%s)", (known_digests,)
        ).fetchall()
    known = {row[0] for row in rows}
    return [
        path
        for path, digest in digests.items()
        if digest not in known and (digest is not None or unreadable)
    ]


def totals(reports: list[FileReport]) -> dict[str, object]:
    """Counts over a batch of reports, as printed at the end and in the JSON document."""
    outcomes = Counter(report.outcome for report in reports)
    by_reason: Counter[str] = Counter()
    for report in reports:
        by_reason.update(report.rejected_by_reason)
    return {
        "files": len(reports),
        "loaded": outcomes[LOADED],
        "rejected": outcomes[REJECTED],
        "duplicate": outcomes[DUPLICATE],
        "rows_received": sum(report.rows_received for report in reports),
        "rows_loaded": sum(report.rows_loaded for report in reports),
        "rows_rejected": sum(report.rows_rejected for report in reports),
        "rejected_by_reason": dict(by_reason.most_common()),
    }


def _summary_line(report: FileReport) -> str:
    file_ref = f" [file {report.file_id}]" if report.file_id is not None else ""
    if report.outcome == REJECTED:
        return f"rejected  {report.original_name}: {report.reason_code}{file_ref}"
    if report.outcome == DUPLICATE:
        return f"duplicate {report.message or report.original_name}"
    reasons = ", ".join(f"{code} {count}" for code, count in report.rejected_by_reason.items())
    agency = report.agency_code or "no valid agency"
    what = f"{agency} data dictionary" if report.feed_kind == "fields" else agency
    line = (
        f"loaded    {report.original_name} ({what}):"
        f" {report.rows_received} rows received, {report.rows_loaded} loaded,"
        f" {report.rows_rejected} rejected{f' ({reasons})' if reasons else ''}{file_ref}"
    )
    if report.extra_columns:
        line += f"; extra columns ignored: {', '.join(report.extra_columns)}"
    return line


def _summary_table(reports: list[FileReport]) -> str:
    """The per-file table an operator scans at the end of a long ingest."""
    width = min(48, max(len("file"), *(len(report.original_name) for report in reports)))
    lines = [
        "",
        f"{'file':<{width}}  {'outcome':<9} {'received':>9} {'loaded':>9} {'rejected':>9}  reasons",
    ]
    for report in reports:
        name = report.original_name
        name = name if len(name) <= width else "…" + name[-(width - 1) :]
        reasons = report.reason_code or ", ".join(
            f"{code} {count}" for code, count in sorted(report.rejected_by_reason.items())
        )
        lines.append(
            f"{name:<{width}}  {report.outcome:<9} {report.rows_received:>9}"
            f" {report.rows_loaded:>9} {report.rows_rejected:>9}  {reasons}"
        )
    return "\n".join(lines) + "\n\n"


def print_reports(
    reports: list[FileReport], as_json: bool, stream: TextIO, error_stream: TextIO | None = None
) -> int:
    """Print the load reports; the exit code is 1 when any file was rejected whole, else 0.

    Summaries (or one JSON document) go to `stream`; one line per rejected file to `error_stream`
    (default stderr), so a script can read stdout while a person sees what failed.
    """
    error_stream = error_stream if error_stream is not None else sys.stderr
    summary = totals(reports)
    if as_json:
        # One file per line: readable, and written by the C encoder (an indented document is
        # encoded in Python, which costs more than loading a small file).
        files = ",\n".join(
            "    " + json.dumps(report.to_dict(), ensure_ascii=False) for report in reports
        )
        totals_json = json.dumps(summary, ensure_ascii=False)
        stream.write(f'{{\n  "files": [\n{files}\n  ],\n  "totals": {totals_json}\n}}')
        stream.write("\n")
    else:
        for report in reports:
            stream.write(_summary_line(report) + "\n")
            shown = report.rejected_samples[:REJECTED_SAMPLES_PRINTED]
            for sample in shown:
                stream.write(f"    {sample['message']}\n")
            if report.rows_rejected > len(shown):
                stream.write(
                    f"    … {report.rows_rejected - len(shown)} more in raw.rejected_rows\n"
                )
        if len(reports) > 1:
            stream.write(_summary_table(reports))
        stream.write(
            f"{summary['files']} file(s): {summary['loaded']} loaded,"
            f" {summary['rejected']} rejected, {summary['duplicate']} duplicate;"
            f" rows: {summary['rows_received']} received,"
            f" {summary['rows_loaded']} loaded, {summary['rows_rejected']} rejected\n"
        )
    failed = [report for report in reports if report.outcome == REJECTED]
    for report in failed:
        error_stream.write(f"error: {report.message}\n")
    return 1 if failed else 0
