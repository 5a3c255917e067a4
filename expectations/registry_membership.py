"""Registry membership as one GX expectation that names the registry file, not its codes.

`ExpectColumnValuesToBeInSet` with the registry's codes carries the whole list in the
expectation's arguments: GX copies and serialises those arguments dozens of times per
validation (with 10,000 codes that was most of the gate's Python time, bench/gate_bench.py),
binds every code as a parameter of its own in every query, and stores the list with every
result. `ExpectColumnValuesToBeInRegistry`'s arguments are the registry folder, the code set
(databases or agencies) and the SHA-256 of the registry files; its metric reads the codes from
the file of record exactly as ingest reads them (never from the seed tables the marts are built
from: that check would be circular) and sends them to PostgreSQL as one array
(`column = any(%s::text[])`, which PostgreSQL hashes). A registry file changed between building
the suites and running them is an error of the check, never a silent pass.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from sqlalchemy.dialects import postgresql

from expectations.context import CodeSet
from r71_tracker.registry import AGENCIES_FILE, DATABASES_FILE, RegistryError, load_registry


def registry_sha256(seeds_dir: Path) -> str:
    """SHA-256 of the registry files the codes come from (agencies, then databases)."""
    digest = hashlib.sha256()
    for name in (AGENCIES_FILE, DATABASES_FILE):
        digest.update((seeds_dir / name).read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=4)
def _codes(seeds_dir: str, sha256: str) -> dict[str, list[str]]:
    registry = load_registry(Path(seeds_dir))
    return {
        "databases": sorted(registry.database_owners),
        "agencies": sorted(registry.agency_codes),
    }


def codes_of_registry_version(seeds_dir: str, code_set: CodeSet, sha256: str) -> list[str]:
    """The codes of `code_set` in the registry files of `seeds_dir`, which must still be the
    files whose SHA-256 the expectation names."""
    current = registry_sha256(Path(seeds_dir))
    if current != sha256:
        raise RegistryError(
            f"registry files in {seeds_dir} changed since the suites were built"
            f" (sha256 {sha256[:12]} expected, {current[:12]} found)"
        )
    return _codes(seeds_dir, sha256)[code_set]


def in_registry(
    column: sa.ColumnElement[Any], registry_dir: str, code_set: CodeSet, registry_sha256: str
) -> sa.ColumnElement[bool]:
    """SQL condition: the column's value is a code of the registry (one array parameter)."""
    codes = codes_of_registry_version(registry_dir, code_set, registry_sha256)
    return column == sa.any_(sa.literal(codes, postgresql.ARRAY(sa.Text)))


class ColumnValuesInRegistry(ColumnMapMetricProvider):
    """The row's value is a code of the registry file of record."""

    condition_metric_name = "column_values.in_registry"
    condition_value_keys = ("registry_dir", "code_set", "registry_sha256")

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, registry_dir, code_set, registry_sha256, **kwargs):
        return in_registry(column, registry_dir, code_set, registry_sha256)


class ExpectColumnValuesToBeInRegistry(ColumnMapExpectation):
    """Expect each value of the column to be a code of the registry file of record."""

    registry_dir: str
    code_set: CodeSet
    registry_sha256: str

    map_metric = "column_values.in_registry"
    args_keys = ("column", "registry_dir", "code_set", "registry_sha256")
    success_keys = ("registry_dir", "code_set", "registry_sha256", "mostly")
    library_metadata: ClassVar[dict] = {"tags": ["r71_tracker"], "contributors": ["r71_tracker"]}
