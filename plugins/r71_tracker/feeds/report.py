"""One file's outcome: the report a ministry or an operator reads, and the texts it stores.

Shared by the loader (which fills a report per file) and the ingest API (which prints and totals
them); it imports neither, so the feeds package reads in one direction:
ingest (the API) -> loader (the engine) -> its steps (receive, write, quarantine, sql_judge,
progress; fast_csv when needed) -> report, readers, validation, chunks, contract.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from r71_tracker.feeds.readers import FileProblem
from r71_tracker.feeds.validation import RowRejection

LOADED, REJECTED, DUPLICATE = "loaded", "rejected", "duplicate"
REJECTED_SAMPLES_KEPT = 20


@dataclass
class FileReport:
    """What happened to one file: the load report a ministry or an operator reads."""

    path: Path
    original_name: str
    outcome: str
    sha256: str | None = None
    size_bytes: int | None = None
    stored_bytes: int | None = None  # of a file over the size limit, the bytes kept (its head)
    stored_sha256: str | None = None
    feed_format: str | None = None
    feed_kind: str | None = None  # 'status' or 'fields'; None when rejected before it was read
    file_id: int | None = None
    agency_code: str | None = None
    received_at: datetime | None = None
    rows_received: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    reason_code: str | None = None
    message: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    rejected_samples: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types (paths and times as strings)."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["path"] = str(self.path)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data


def display_name(path: Path) -> str:
    """The file name as text PostgreSQL can store, even when the name's bytes are not UTF-8."""
    return os.fsencode(path.name).decode("utf-8", "replace")


def storable(text: str) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogates."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def file_message(name: str, problem: FileProblem) -> str:
    where = f" {problem.location}" if problem.location else ""
    return f"{name}{where}: file rejected ({problem.reason_code}): {problem.detail}"


def row_message(name: str, rejection: RowRejection) -> str:
    return f"{name} {rejection.location}: {rejection.reason_code}: {rejection.detail}"
