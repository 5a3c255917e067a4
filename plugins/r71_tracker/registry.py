"""The registry of agencies and databases, read from the seed CSVs that dbt also loads.

Ingest validates feed codes against these files, so an operator who replaces a CSV changes what
ingest accepts and what dbt reports in one step.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from r71_tracker.config import settings

AGENCIES_FILE = "registry_agencies.csv"
DATABASES_FILE = "registry_databases.csv"
LIAISONS_FILE = "registry_liaisons.csv"


class RegistryError(Exception):
    """The registry seed files are missing or malformed (the message is one line)."""


@dataclass(frozen=True)
class Liaison:
    """Who receives an agency's alerts (seed registry_liaisons)."""

    agency_code: str
    name: str
    email: str


@dataclass(frozen=True)
class Registry:
    """Agency codes and, for every database code, the code of the agency that owns it."""

    agency_codes: frozenset[str]
    database_owners: dict[str, str] = field(hash=False)

    def owner_of(self, database_code: str) -> str | None:
        return self.database_owners.get(database_code)


def _code(value: str | None) -> str:
    return unicodedata.normalize("NFC", (value or "").strip())


def _read_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The `required` columns of one seed CSV's rows, with their physical line numbers;
    RegistryError when unusable. (Only those columns: a stress registry of tens of thousands of
    databases with long descriptions loads in a few hundredths of a second.)"""
    if not path.is_file():
        raise RegistryError(f"registry file missing: {path}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, [])
            missing = [name for name in required if name not in header]
            if missing:
                raise RegistryError(f"{path}: missing column(s) {', '.join(missing)}")
            positions = [(name, header.index(name)) for name in required]
            width = max(index for _, index in positions) + 1
            rows = []
            previous_line = reader.line_num
            for values in reader:
                values += [""] * (width - len(values))
                rows.append((previous_line + 1, {name: values[i] for name, i in positions}))
                previous_line = reader.line_num
            return rows
    except UnicodeDecodeError as error:
        raise RegistryError(f"{path}: not valid UTF-8 ({error.reason})") from None
    except csv.Error as error:
        raise RegistryError(f"{path}: malformed CSV ({error})") from None


def _codes(path: Path, rows: list[tuple[int, dict[str, str]]], column: str) -> list[str]:
    codes: list[str] = []
    seen: set[str] = set()
    for line, row in rows:
        code = _code(row.get(column))
        if not code:
            raise RegistryError(f"{path} line {line}: empty {column}")
        if code in seen:
            raise RegistryError(f"{path} line {line}: {column} {code} appears twice")
        seen.add(code)
        codes.append(code)
    return codes


def load_registry(seeds_dir: Path | None = None) -> Registry:
    """Read the registry from `seeds_dir` (default: the dbt project's seeds folder)."""
    seeds_dir = seeds_dir or settings().seeds_dir
    agencies_path = seeds_dir / AGENCIES_FILE
    databases_path = seeds_dir / DATABASES_FILE
    agency_rows = _read_rows(agencies_path, ("agency_code",))
    agencies = frozenset(_codes(agencies_path, agency_rows, "agency_code"))
    database_rows = _read_rows(databases_path, ("database_code", "owner_agency_code"))
    database_codes = _codes(databases_path, database_rows, "database_code")
    owners: dict[str, str] = {}
    for code, (line, row) in zip(database_codes, database_rows, strict=True):
        owner = _code(row.get("owner_agency_code"))
        if owner not in agencies:
            raise RegistryError(
                f"{databases_path} line {line}: owner_agency_code {owner or '(empty)'!s} of {code}"
                f" is not in {AGENCIES_FILE}"
            )
        owners[code] = owner
    if not agencies or not owners:
        raise RegistryError(f"registry in {seeds_dir} has no agencies or no databases")
    return Registry(agency_codes=agencies, database_owners=owners)


def load_liaisons(seeds_dir: Path | None = None) -> dict[str, Liaison]:
    """Each agency's liaison, by agency code, from `registry_liaisons.csv` in `seeds_dir`.

    Read at alert time (not cached), so an operator who replaces the placeholder addresses is
    heard on the next alert without a restart.
    """
    path = (seeds_dir or settings().seeds_dir) / LIAISONS_FILE
    rows = _read_rows(path, ("agency_code", "liaison_name", "liaison_email"))
    codes = _codes(path, rows, "agency_code")
    liaisons: dict[str, Liaison] = {}
    for code, (line, row) in zip(codes, rows, strict=True):
        email = row["liaison_email"].strip()
        if "@" not in email:
            raise RegistryError(f"{path} line {line}: liaison_email of {code} is not an address")
        liaisons[code] = Liaison(code, row["liaison_name"].strip(), email)
    return liaisons
