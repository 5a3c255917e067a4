"""`tracker check`: feed files judged as ingest judges them, with nothing loaded or recorded.

For liaisons before they send: the file checks (format, size, encoding, header) and the Python
rules (validation.py, the reference every ingest path agrees with) run on the file as it is, on
the day it is checked; one line per rejected row, naming file, line and rule. No database is
needed: the registry comes from the seeds (TRACKER_SEEDS_DIR). What only the database knows is
not checked: whether the same bytes were received already.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from r71_tracker.config import settings
from r71_tracker.feeds import contract
from r71_tracker.feeds.ingest import expand_paths
from r71_tracker.feeds.loader import judged_records
from r71_tracker.feeds.readers import (
    FileProblem,
    RefusedPath,
    check_whole_file,
    open_feed,
    open_regular_file,
)
from r71_tracker.feeds.report import display_name, file_message, row_message, storable
from r71_tracker.feeds.validation import RowRejection
from r71_tracker.registry import Registry, load_registry


@dataclass
class CheckResult:
    """What ingest would make of one file."""

    name: str
    reason_code: str | None = None  # set when the whole file would be rejected or refused
    message: str | None = None
    rows: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def clean(self) -> bool:
        """It would load with no row rejected."""
        return self.reason_code is None and not self.rejected_by_reason

    def summary(self) -> str:
        if self.reason_code is not None:
            return f"{self.message}"
        rejected = sum(self.rejected_by_reason.values())
        reasons = ", ".join(f"{code} {n}" for code, n in self.rejected_by_reason.most_common())
        return (
            f"{self.name}: {self.rows} rows; {self.rows - rejected} would load, {rejected} would"
            f" be rejected{f' ({reasons})' if reasons else ''}"
        )


def check_file(
    path: Path, registry: Registry, max_bytes: int, received_day: date, out: TextIO
) -> CheckResult:
    """Judge one file; each rejected row's message is written to `out` as it is found (a file of
    millions of bad rows is never held)."""
    result = CheckResult(display_name(path))
    try:
        with open_regular_file(path):
            pass  # a link, a FIFO or a socket is refused before anything is read
        feed_format = check_whole_file(result.name, path, max_bytes)
        feed = open_feed(path, feed_format)
        for judged in judged_records(feed, registry, received_day, feed.new_agency_context()):
            result.rows += 1
            if isinstance(judged, RowRejection):
                result.rejected_by_reason[judged.reason_code] += 1
                out.write(storable(row_message(result.name, judged)) + "\n")
    except RefusedPath as refused:
        result.reason_code = refused.reason_code
        result.message = f"{result.name}: refused ({refused.reason_code}): {refused.detail}"
    except FileProblem as problem:
        result.reason_code = problem.reason_code
        result.message = storable(file_message(result.name, problem)).replace(
            "file rejected", "file would be rejected"
        )
    except OSError as error:
        result.reason_code = contract.UNREADABLE
        result.message = f"{result.name}: cannot be read ({error.strerror or error})"
    return result


def check_paths(paths: list[Path], out: TextIO) -> list[CheckResult]:
    """Check files and folders (a folder: its feed files, as ingest lists them), judged as if
    received now; a summary line per file follows its rejected rows."""
    registry = load_registry()
    max_bytes = settings().max_feed_bytes
    today = datetime.now(UTC).astimezone(contract.RECEIVED_DAY_TIMEZONE).date()
    results = []
    for path in expand_paths(paths):
        result = check_file(path, registry, max_bytes, today, out)
        out.write(result.summary() + "\n")
        results.append(result)
    return results
