"""The progress bar a large file shows while it loads (rich, on stderr), and nothing else.

rich is imported only when a bar is shown: the ingest imports this module at startup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress


class ProgressBar:
    """A one-line progress bar (rich) on stderr for a large file, only when asked (a terminal, no
    JSON): bytes read of the file's size; the line is cleared when the file is done."""

    def __init__(self, name: str, total: int, stream: TextIO | None) -> None:
        self._bar: Progress | None = None
        if stream is None or total <= 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._bar.add_task(name[:40], total=total)
        self._bar.start()

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
