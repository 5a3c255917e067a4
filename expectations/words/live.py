"""sống / live — agencies keep reporting, and centralized data keeps being updated."""

from __future__ import annotations

from datetime import timedelta

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.context import SuiteContext
from expectations.words._relations import AGENCY_FRESHNESS, CURRENT_STATUS, meta, word_suite

WORD = "live"


def build_suites(context: SuiteContext) -> list[gx.ExpectationSuite]:
    bars = context.bars[WORD]
    max_age = int(bars.bar("max_report_age_days"))
    agency_share = bars.bar("fresh_agency_share")
    live_share = bars.bar("live_centralized_share")
    oldest = context.run_date - timedelta(days=max_age)
    agencies = [
        gxe.ExpectColumnValuesToBeBetween(
            column="days_since_last_report",
            max_value=max_age,
            mostly=agency_share,
            notes=(
                f"Live: {bars.bar_reasons['max_report_age_days']} "
                f"{bars.bar_reasons['fresh_agency_share']}"
            ),
            meta=meta(
                WORD,
                "agencies_on_time",
                "agencies report on time",
                "fresh_agency_share",
                agency_share,
                notes_vi=(
                    f"Sống: {bars.bar_reasons_vi['max_report_age_days']} "
                    f"{bars.bar_reasons_vi['fresh_agency_share']}"
                ),
            ),
        ),
    ]
    current = [
        gxe.ExpectColumnMaxToBeBetween(
            column="effective_report_date",
            min_value=oldest,
            max_value=context.run_date,
            notes=(
                f"Live: the newest report is at most {max_age} days old on the run date "
                f"({oldest.isoformat()}..{context.run_date.isoformat()}); later than the run date "
                "means the marts were built for another date."
            ),
            meta=meta(
                WORD,
                "feeds_keep_arriving",
                "feeds keep arriving",
                "max_report_age_days",
                max_age,
                notes_vi=(
                    f"Sống: báo cáo mới nhất không cũ quá {max_age} ngày tính đến ngày chạy (từ "
                    f"{oldest:%d/%m/%Y} đến {context.run_date:%d/%m/%Y}); báo cáo đề ngày sau ngày "
                    "chạy nghĩa là dữ liệu công bố (marts) được dựng cho một ngày khác."
                ),
            ),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="records_updated_30d",
            min_value=1,
            row_condition=Column("stage") == "centralized",
            mostly=live_share,
            notes=f"Live: {bars.bar_reasons['live_centralized_share']}",
            meta=meta(
                WORD,
                "centralized_data_updated",
                "centralized data is updated",
                "live_centralized_share",
                live_share,
                notes_vi=f"Sống: {bars.bar_reasons_vi['live_centralized_share']}",
            ),
        ),
    ]
    return [word_suite(WORD, AGENCY_FRESHNESS, agencies), word_suite(WORD, CURRENT_STATUS, current)]
