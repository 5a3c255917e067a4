"""đúng / correct — every loaded value is valid: registry codes, allowed values, counts, dates."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.context import SuiteContext
from expectations.row_rules import (
    ExpectEveryValueAtLeast,
    ExpectEveryValueInRegistry,
    ExpectEveryValueInSet,
)
from expectations.words._relations import CURRENT_STATUS, LOADED_ROWS, meta, word_suite

WORD = "correct"
STAGES = ("centralized", "in_progress", "not_started")
PLATFORM_STATUSES = ("not_started", "building", "operational")
DATA_STATUSES = ("none", "digitized", "partial", "centralized")
COUNTS = ("record_count", "records_updated_30d", "consumer_agencies")


def build_suites(context: SuiteContext) -> list[gx.ExpectationSuite]:
    # The loaded reports are the largest relation the gate reads (every row ever received): its
    # rules are aggregate-counted (expectations/row_rules.py), so it is read once per run.
    loaded = [
        ExpectEveryValueInRegistry(
            column="database_code",
            **context.registry("databases"),
            notes="Correct: every loaded row names a database of the registry file of record.",
            meta=meta(
                WORD,
                "registry_codes",
                "codes come from the registry",
                notes_vi=(
                    "Đúng: mọi dòng đã nạp đều ghi một cơ sở dữ liệu có trong tệp danh mục chính "
                    "thức."
                ),
            ),
        ),
        ExpectEveryValueInRegistry(
            column="agency_code",
            **context.registry("agencies"),
            notes="Correct: every loaded row names an agency of the registry file of record.",
            meta=meta(
                WORD,
                "registry_codes",
                "codes come from the registry",
                notes_vi=(
                    "Đúng: mọi dòng đã nạp đều ghi một cơ quan có trong tệp danh mục chính thức."
                ),
            ),
        ),
        ExpectEveryValueInSet(
            column="platform_status",
            value_set=list(PLATFORM_STATUSES),
            notes="Correct: platform_status is one of the feed contract's values.",
            meta=meta(
                WORD,
                "contract_values",
                "the contract's enums",
                notes_vi="Đúng: platform_status là một trong các giá trị của hợp đồng dữ liệu.",
            ),
        ),
        ExpectEveryValueInSet(
            column="data_status",
            value_set=list(DATA_STATUSES),
            notes="Correct: data_status is one of the feed contract's values.",
            meta=meta(
                WORD,
                "contract_values",
                "the contract's enums",
                notes_vi="Đúng: data_status là một trong các giá trị của hợp đồng dữ liệu.",
            ),
        ),
        *(
            ExpectEveryValueAtLeast(
                column=column,
                min_value=0,
                notes=f"Correct: {column} is a count and cannot be negative.",
                meta=meta(
                    WORD,
                    "non_negative_counts",
                    "counts are non-negative",
                    notes_vi=f"Đúng: {column} là một số đếm nên không thể âm.",
                ),
            )
            for column in COUNTS
        ),
        ExpectEveryValueAtLeast(
            column="records_not_updated_30d",
            min_value=0,
            notes=(
                "Correct: a database cannot have updated more records than it holds"
                " (record_count - records_updated_30d is never negative)."
            ),
            meta=meta(
                WORD,
                "updated_within_records",
                "records_updated_30d <= record_count",
                notes_vi=(
                    "Đúng: số bản ghi được cập nhật của một cơ sở dữ liệu không thể nhiều hơn số"
                    " bản ghi nó có (record_count - records_updated_30d không bao giờ âm)."
                ),
            ),
        ),
        ExpectEveryValueAtLeast(
            column="days_from_report_to_receipt",
            min_value=0,
            notes=(
                "Correct: no report is dated in the future, i.e. after the day (Vietnam time) its "
                "file was received."
            ),
            meta=meta(
                WORD,
                "no_future_reports",
                "report dates are not in the future",
                notes_vi=(
                    "Đúng: không báo cáo nào đề ngày trong tương lai, tức là sau ngày (theo giờ "
                    "Việt Nam) nhận tệp chứa báo cáo đó."
                ),
            ),
        ),
    ]
    current = [
        gxe.ExpectColumnValuesToBeInSet(
            column="stage",
            value_set=list(STAGES),
            notes=(
                "Correct: only the three stages of the Resolution 71 report exist; any other "
                "value would fall outside the 31 / 36 / 38 breakdown."
            ),
            meta=meta(
                WORD,
                "three_stages",
                "one of the three stages",
                notes_vi=(
                    "Đúng: báo cáo theo Nghị quyết 71 chỉ có ba giai đoạn; mọi giá trị khác sẽ nằm "
                    "ngoài cách chia 31 / 36 / 38."
                ),
            ),
        ),
    ]
    return [word_suite(WORD, LOADED_ROWS, loaded), word_suite(WORD, CURRENT_STATUS, current)]
