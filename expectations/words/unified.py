"""thống nhất / unified — one stage per database per day, one owner per database, one code set."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.context import SuiteContext
from expectations.words._relations import (
    DATABASE_FIELDS,
    REGISTRY,
    STAGE_HISTORY,
    meta,
    word_suite,
)

WORD = "unified"


def build_suites(context: SuiteContext) -> list[gx.ExpectationSuite]:
    history = [
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["database_code", "status_date"],
            notes="Unified: one stage per database per day in the published history.",
            meta=meta(WORD, "one stage per database per day"),
        ),
    ]
    registry = [
        gxe.ExpectColumnValuesToBeUnique(
            column="database_code",
            notes="Unified: a database appears once in the registry, so it has one owner.",
            meta=meta(WORD, "one owner per database"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="owner_agency_code",
            value_set=list(context.agency_codes),
            notes=(
                "Unified: every database is owned by a current agency of the registry (after the "
                "2025 ministry mergers and transfers no database may stay with a dissolved one)."
            ),
            meta=meta(WORD, "owners are current agencies"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="owner_agency_code",
            notes="Unified: every database has an owner.",
            meta=meta(WORD, "one owner per database"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="database_code",
            value_set=list(context.database_codes),
            notes=(
                "Unified: the registry the marts were built from is the registry file of record "
                "(a replaced file not re-seeded shows up here)."
            ),
            meta=meta(WORD, "one registry"),
        ),
    ]
    fields = [
        gxe.ExpectColumnValuesToBeInSet(
            column="database_code",
            value_set=list(context.database_codes),
            notes=(
                "Unified: the data dictionaries name databases with the status feeds' codes, so "
                "both feeds speak of the same databases."
            ),
            meta=meta(WORD, "codes consistent across feeds"),
        ),
    ]
    return [
        word_suite(WORD, STAGE_HISTORY, history),
        word_suite(WORD, REGISTRY, registry),
        word_suite(WORD, DATABASE_FIELDS, fields),
    ]
