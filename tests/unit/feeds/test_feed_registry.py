"""The registry ingest validates against is the seed CSVs dbt loads."""

from __future__ import annotations

import shutil

import pytest

from r71_tracker.config import settings
from r71_tracker.registry import RegistryError, load_registry


def test_real_seeds_load_105_databases_with_their_owners():
    registry = load_registry()
    assert len(registry.database_owners) == 105
    assert "MOJ" in registry.agency_codes
    assert registry.owner_of("MOJ-CIVIL-STATUS") == "MOJ"
    assert registry.owner_of("NOT-A-DATABASE") is None


def test_missing_seed_file_is_one_clear_line(tmp_path):
    with pytest.raises(RegistryError) as raised:
        load_registry(tmp_path)
    assert str(raised.value) == f"registry file missing: {tmp_path / 'registry_agencies.csv'}"


def test_owner_not_in_agencies_names_the_line(tmp_path):
    shutil.copy(settings().seeds_dir / "registry_agencies.csv", tmp_path)
    (tmp_path / "registry_databases.csv").write_text(
        "database_code,owner_agency_code\nMOJ-CIVIL-STATUS,MOJ\nX-DB,NOPE\n", encoding="utf-8"
    )
    with pytest.raises(RegistryError, match=r"line 3: owner_agency_code NOPE of X-DB") as raised:
        load_registry(tmp_path)
    assert "\n" not in str(raised.value)


def test_missing_column_and_duplicate_code_are_reported(tmp_path):
    (tmp_path / "registry_agencies.csv").write_text("code\nMOJ\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="missing column"):
        load_registry(tmp_path)
    (tmp_path / "registry_agencies.csv").write_text("agency_code\nMOJ\nMOJ\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="line 3: agency_code MOJ appears twice"):
        load_registry(tmp_path)
