"""sạch / clean — no database twice, tidy text, no file mostly quarantined."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.context import SuiteContext
from expectations.words._relations import CURRENT_STATUS, FILE_LOADS, meta, word_suite

WORD = "clean"


def build_suites(context: SuiteContext) -> list[gx.ExpectationSuite]:
    share = context.bars[WORD].bar("max_file_quarantine_share")
    reason_vi = context.bars[WORD].bar_reasons_vi["max_file_quarantine_share"]
    current = [
        gxe.ExpectColumnValuesToBeUnique(
            column="database_code",
            notes=(
                "Clean: one effective report per database; a duplicate would count one database "
                "in two stages at once."
            ),
            meta=meta(
                WORD,
                "unique_database",
                "no duplicate database in the effective data",
                notes_vi=(
                    "Sạch: mỗi cơ sở dữ liệu có một báo cáo hiệu lực; một bản trùng sẽ khiến một "
                    "cơ sở dữ liệu bị tính vào hai giai đoạn cùng lúc."
                ),
            ),
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select database_code, owner_agency_code, evidence_file_id, evidence_line_number,"
                " report_notes from {batch}"
                " where report_notes is not nfc normalized or report_notes != btrim(report_notes)"
            ),
            description="Published notes are NFC-normalised and trimmed",
            notes=(
                "Clean: text is stored as Unicode NFC and trimmed, so the same Vietnamese words "
                "sent decomposed (NFD) by some systems compare and display as the same words."
            ),
            meta=meta(
                WORD,
                "normalised_text",
                "text normalised (NFC, trimmed)",
                notes_vi=(
                    "Sạch: văn bản được lưu ở dạng Unicode NFC và đã cắt khoảng trắng thừa, để "
                    "cùng một chữ tiếng Việt mà một số hệ thống gửi ở dạng tách dấu (NFD) vẫn được "
                    "so sánh và hiển thị như nhau."
                ),
            ),
        ),
    ]
    files = [
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select file_id, agency_code, original_name, rows_received, rows_rejected"
                f" from {{batch}} where rows_received > 0 and rows_rejected > {share}"
                " * rows_received and file_state = 'new'"
            ),
            description=f"No file has more than {share:.0%} of its rows quarantined",
            notes=(
                f"Clean: {context.bars[WORD].bar_reasons['max_file_quarantine_share']} A file is "
                "judged once, in the run that first sees it (file_state new); its verdict is kept "
                "in audit.file_verdicts."
            ),
            meta=meta(
                WORD,
                "file_quarantine_share",
                "quarantine rate per file",
                "max_file_quarantine_share",
                share,
                notes_vi=(
                    f"Sạch: {reason_vi} Mỗi tệp chỉ được xét một lần, trong lần chạy đầu tiên thấy "
                    "tệp đó (file_state new); kết luận về tệp được lưu trong audit.file_verdicts."
                ),
            ),
        ),
    ]
    return [word_suite(WORD, CURRENT_STATUS, current), word_suite(WORD, FILE_LOADS, files)]
