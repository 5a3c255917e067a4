"""đủ / complete — every registry database and agency is there, recently reported, whole."""

from __future__ import annotations

from datetime import timedelta

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.context import SuiteContext
from expectations.words._relations import AGENCY_FRESHNESS, CURRENT_STATUS, meta, word_suite

WORD = "complete"
REPORTED_FIELDS = (
    "platform_status",
    "data_status",
    "process_integrated",
    "connected_national",
    "record_count",
    "records_updated_30d",
    "consumer_agencies",
    "evidence_file_id",
    "evidence_line_number",
)


def build_suites(context: SuiteContext) -> list[gx.ExpectationSuite]:
    bars = context.bars[WORD]
    reported_share = bars.bar("reported_share")
    fresh_share = bars.bar("fresh_share")
    window = int(bars.bar("freshness_window_days"))
    oldest = context.run_date - timedelta(days=window)
    reported = Column("is_unreported") == False  # noqa: E712 (a GX condition, not a Python test)
    current = [
        gxe.ExpectTableRowCountToEqual(
            value=context.database_count,
            notes=(
                f"Complete: one row per registry database ({context.database_count} in the "
                "registry file); fewer hides databases, more counts one twice."
            ),
            meta=meta(
                WORD,
                "every_database_counted",
                "every registry database is counted exactly once",
                notes_vi=(
                    "Đủ: mỗi cơ sở dữ liệu trong danh mục có đúng một bản ghi "
                    f"({context.database_count} cơ sở dữ liệu trong tệp danh mục); ít hơn là bỏ "
                    "sót cơ sở dữ liệu, nhiều hơn là một cơ sở dữ liệu bị tính hai lần."
                ),
            ),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="stage",
            notes="Complete: every database has a stage (unreported ones are not_started).",
            meta=meta(
                WORD,
                "every_database_staged",
                "every database is placed in a stage",
                notes_vi=(
                    "Đủ: mọi cơ sở dữ liệu đều được xếp vào một giai đoạn (cơ sở dữ liệu chưa báo "
                    "cáo thuộc giai đoạn chưa triển khai, not_started)."
                ),
            ),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="effective_report_date",
            mostly=reported_share,
            notes=f"Complete: {bars.bar_reasons['reported_share']}",
            meta=meta(
                WORD,
                "reported_share",
                "databases have a report",
                "reported_share",
                reported_share,
                notes_vi=f"Đủ: {bars.bar_reasons_vi['reported_share']}",
            ),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="effective_report_date",
            min_value=oldest,
            max_value=context.run_date,
            mostly=fresh_share,
            notes=(
                f"Complete: {bars.bar_reasons['fresh_share']} Window on this run: "
                f"{oldest.isoformat()}..{context.run_date.isoformat()}."
            ),
            meta=meta(
                WORD,
                "fresh_share",
                "reports within the freshness window",
                "fresh_share",
                fresh_share,
                notes_vi=(
                    f"Đủ: {bars.bar_reasons_vi['fresh_share']} Khoảng thời gian của lần chạy này: "
                    f"từ {oldest:%d/%m/%Y} đến {context.run_date:%d/%m/%Y}."
                ),
            ),
        ),
        *(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                row_condition=reported,
                notes=f"Complete: a reported database's effective report has {column}.",
                meta=meta(
                    WORD,
                    "required_fields",
                    "required fields are present",
                    notes_vi=(
                        "Đủ: báo cáo hiệu lực của một cơ sở dữ liệu đã báo cáo phải có trường "
                        f"{column}."
                    ),
                ),
            )
            for column in REPORTED_FIELDS
        ),
    ]
    agencies = [
        gxe.ExpectColumnValuesToBeBetween(
            column="databases_reported",
            min_value=1,
            notes="Complete: every agency that owns a registry database has reported on one.",
            meta=meta(
                WORD,
                "every_agency_reported",
                "every agency reported",
                notes_vi=(
                    "Đủ: mọi cơ quan chủ quản của một cơ sở dữ liệu trong danh mục đều đã báo cáo "
                    "về ít nhất một cơ sở dữ liệu."
                ),
            ),
        ),
    ]
    return [word_suite(WORD, CURRENT_STATUS, current), word_suite(WORD, AGENCY_FRESHNESS, agencies)]
