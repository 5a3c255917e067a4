"""The relations the six words check, and the columns that trace a row back to its feed.

A failed expectation's sample rows carry these columns, so an auditor goes from a failure to the
raw feed file and line (`file_id`/`evidence_file_id` + line) or to the agency it concerns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import great_expectations as gx
import great_expectations.expectations as gxe


@dataclass(frozen=True)
class Relation:
    layer: str  # staging, intermediate, seeds or marts (the dbt layer)
    schema: str  # the PostgreSQL schema dbt writes it to
    name: str
    trace_columns: tuple[str, ...]


LOADED_ROWS = Relation(
    "intermediate",
    "staging",
    "int_status_reports_received",
    ("file_id", "line_number", "agency_code", "database_code", "report_date"),
)
CURRENT_STATUS = Relation(
    "marts",
    "marts",
    "database_current_status",
    ("database_code", "owner_agency_code", "evidence_file_id", "evidence_line_number"),
)
STAGE_HISTORY = Relation(
    "marts",
    "marts",
    "stage_history",
    ("database_code", "status_date", "evidence_file_id", "evidence_line_number"),
)
AGENCY_FRESHNESS = Relation(
    "marts", "marts", "agency_feed_freshness", ("agency_code", "last_report_date")
)
FILE_LOADS = Relation("marts", "marts", "feed_file_loads", ("file_id", "agency_code"))
REGISTRY = Relation(
    "seeds", "staging", "registry_databases", ("database_code", "owner_agency_code")
)
DATABASE_FIELDS = Relation(
    "marts",
    "marts",
    "database_fields",
    ("database_code", "owner_agency_code", "evidence_file_id", "evidence_line_number"),
)


def word_suite(
    word: str, relation: Relation, expectations: Sequence[gxe.Expectation]
) -> gx.ExpectationSuite:
    """One word's suite on one relation, named `<word>.<layer>.<dataset>`."""
    return gx.ExpectationSuite(
        name=f"{word}.{relation.layer}.{relation.name}",
        expectations=expectations,
        meta={
            "word": word,
            "relation": f"{relation.schema}.{relation.name}",
            "trace_columns": list(relation.trace_columns),
        },
    )


def meta(
    word: str,
    rule: str,
    why: str,
    bar: str | None = None,
    value: float | None = None,
    *,
    notes_vi: str,
) -> dict:
    """What an auditor reads beside a result: the word, the rule (its key in bars.yml, which says
    whether a failure is national or an agency's), why, the bar from bars.yml, and the
    expectation's `notes` in Vietnamese (`notes_vi`: the gate records both, the Vietnamese pages
    and `tracker audit --lang vi` show it)."""
    return {
        "word": word,
        "rule": rule,
        "why": why,
        **({"bar": bar, "bar_value": value} if bar else {}),
        "notes_vi": notes_vi,
    }
