"""dùng chung / shared — centralized, connected databases are used by other agencies."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.context import SuiteContext
from expectations.words._relations import CURRENT_STATUS, meta, word_suite

WORD = "shared"


def build_suites(context: SuiteContext) -> list[gx.ExpectationSuite]:
    bars = context.bars[WORD]
    used_share = bars.bar("used_connected_share")
    connected_share = bars.bar("connected_centralized_share")
    centralized = Column("stage") == "centralized"
    connected = Column("connected_national") == True  # noqa: E712 (a GX condition)
    current = [
        gxe.ExpectColumnValuesToBeBetween(
            column="consumer_agencies",
            min_value=1,
            row_condition=centralized & connected,
            mostly=used_share,
            notes=f"Shared: {bars.bar_reasons['used_connected_share']}",
            meta=meta(
                WORD,
                "connected_data_used",
                "connected data is used",
                "used_connected_share",
                used_share,
                notes_vi=f"Dùng chung: {bars.bar_reasons_vi['used_connected_share']}",
            ),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="connected_national",
            value_set=[True],
            row_condition=centralized,
            mostly=connected_share,
            notes=f"Shared: {bars.bar_reasons['connected_centralized_share']}",
            meta=meta(
                WORD,
                "centralized_data_connected",
                "centralized data is connected",
                "connected_centralized_share",
                connected_share,
                notes_vi=f"Dùng chung: {bars.bar_reasons_vi['connected_centralized_share']}",
            ),
        ),
    ]
    return [word_suite(WORD, CURRENT_STATUS, current)]
