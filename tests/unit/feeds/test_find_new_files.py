"""The landing folder the DAG's first task reads: a folder that is not there fails the run, naming
it, before any database is touched (a run that ingests nothing must not look like a success)."""

from __future__ import annotations

from pathlib import Path

import pytest

from r71_tracker.config import ConfigError
from r71_tracker.feeds.ingest import LandingFolderError, find_new_files

NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"  # never reached: the folder is checked first


def test_a_missing_landing_folder_fails_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "landing"
    with pytest.raises(LandingFolderError) as raised:
        find_new_files(missing, NO_DATABASE)
    assert str(raised.value) == f"landing folder {missing} (TRACKER_LANDING_DIR) does not exist"
    assert isinstance(raised.value, ConfigError)  # the CLI prints it as one line, no type name


def test_a_file_as_landing_folder_fails_naming_it(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "landing.csv"
    not_a_folder.write_text("report_date\n", encoding="utf-8")
    with pytest.raises(LandingFolderError) as raised:
        find_new_files(not_a_folder, NO_DATABASE)
    assert str(raised.value) == (
        f"landing folder {not_a_folder} (TRACKER_LANDING_DIR) is not a folder"
    )
