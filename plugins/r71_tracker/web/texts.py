"""Every text of the tracker's pages, in Vietnamese and English (one table: a missing translation
is a test failure, not a blank on a page)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    # navigation and frame
    "tracker": ("Theo dõi Nghị quyết 71/NQ-CP", "Resolution 71 tracker"),
    "overview": ("Tổng quan", "Overview"),
    "quality_runs": ("Các lần kiểm tra chất lượng", "Quality runs"),
    "dbt_docs": ("Tài liệu dbt (dòng dữ liệu)", "dbt docs (lineage)"),
    "language": ("Ngôn ngữ", "Language"),
    "not_found": ("Không tìm thấy", "Not found"),
    "not_found_detail": (
        "Không có {what} nào mang mã này trong dữ liệu đã công bố.",
        "Nothing of that kind ({what}) has this code in the published data.",
    ),
    "no_publication": (
        "Chưa có lần công bố nào: hãy chạy DAG resolution71_tracker (hoặc `make demo`).",
        "Nothing is published yet: run the resolution71_tracker DAG (or `make demo`).",
    ),
    "capped": (
        "Chỉ hiện {n} dòng đầu; các bảng marts có đủ.",
        "Only the first {n} rows are shown; the marts hold them all.",
    ),
    # overview
    "as_of": ("Số liệu tính đến ngày", "Data as of"),
    "of_total": ("trên tổng số {total} cơ sở dữ liệu", "of {total} databases"),
    "stage": ("Giai đoạn", "Stage"),
    "stage_centralized": ("Đã tập trung", "Centralized"),
    "stage_in_progress": ("Đang triển khai", "In progress"),
    "stage_not_started": ("Chưa triển khai", "Not started"),
    "unreported": ("chưa từng báo cáo", "never reported"),
    "published_after": (
        "Công bố sau khi cổng chất lượng (sáu tiêu chí) đạt",
        "Published after the quality gate (six words) passed",
    ),
    "latest_run": ("Lần kiểm tra gần nhất", "Latest quality run"),
    "latest_failed": (
        "Lần kiểm tra gần nhất KHÔNG ĐẠT: không công bố gì từ lần đó; trang này hiện lần công bố"
        " trước.",
        "The latest run FAILED the gate: nothing from it was published; this page shows the last"
        " publication.",
    ),
    "held_agencies": ("Cơ quan bị giữ lại", "Held agencies"),
    "held_explained": (
        "Tệp mới nhất của các cơ quan này không đạt một tiêu chí của cơ quan: tệp bị giữ lại và"
        " kết quả đã công bố trước được giữ nguyên cho đến khi cơ quan gửi tệp mới đạt yêu cầu"
        " hoặc tệp bị rút.",
        "Their latest files failed an agency rule: those files are held back and the agency's"
        " last published state is shown until a new file of its own passes or the file is"
        " withdrawn.",
    ),
    "none_held": ("Không có cơ quan nào bị giữ lại.", "No agency is held."),
    "held_since": ("bị giữ từ", "held since"),
    "agencies": ("Các cơ quan", "Agencies"),
    "light": ("Đèn", "Light"),
    "why": ("Lý do", "Why"),
    "chart_stages": ("Giai đoạn theo thời gian", "Stages over time"),
    "chart_burndown": (
        "Số cơ sở dữ liệu chưa tập trung so với hạn chót",
        "Databases not yet centralized against the deadline",
    ),
    "chart_quarantine_reason_code": (
        "Dòng bị cách ly theo lý do",
        "Quarantined rows by reason",
    ),
    "chart_quarantine_agency_code": (
        "Dòng bị cách ly theo cơ quan",
        "Quarantined rows by agency",
    ),
    "tables_need_js": (
        "Các bảng của trang này cần JavaScript; số liệu có trong các bảng marts.",
        "This page's tables need JavaScript; the figures are in the marts.",
    ),
    "charts_need_js": (
        "Biểu đồ cần JavaScript; số liệu có trong các bảng bên dưới.",
        "The charts need JavaScript; the figures are in the tables below.",
    ),
    "databases": ("Cơ sở dữ liệu", "Databases"),
    "duplicated_fields": (
        "Trường thông tin thu thập trùng lặp",
        "Information fields collected more than once",
    ),
    "duplicated_explained": (
        "Các trường thông tin mà nhiều cơ sở dữ liệu cùng thu thập (theo từ điển dữ liệu các cơ"
        " quan gửi), mỗi trường kèm các cơ sở dữ liệu thu thập nó.",
        "Fields that several databases collect (from the data dictionaries the agencies send),"
        " each with the databases that collect it.",
    ),
    "not_centralized": ("Chưa tập trung", "Not centralized"),
    "rows_rejected": ("Dòng bị từ chối", "Rows rejected"),
    "reason_code": ("Lý do", "Reason"),
    "agency_code": ("Cơ quan", "Agency"),
    "month": ("Tháng", "Month"),
    "date": ("Ngày", "Date"),
    "deadline": ("Hạn chót", "Deadline"),
    # agency
    "agency": ("Cơ quan", "Agency"),
    "light_set_by": ("Quy tắc đặt đèn", "Rule that set the light"),
    "late": ("Trễ báo cáo", "Late"),
    "not_late": ("Báo cáo đúng hạn", "Reporting on time"),
    "last_report": ("Báo cáo gần nhất", "Last report"),
    "days_since": ("{n} ngày trước", "{n} days ago"),
    "reported_stage": ("Giai đoạn báo cáo", "Reported stage"),
    "verified_stage": ("Giai đoạn đã kiểm chứng", "Verified stage"),
    "rule_differs": ("Quy tắc kiểm chứng khác biệt", "Evidence rule that differs"),
    "risk": ("Rủi ro trễ hạn", "Deadline risk"),
    "files": ("Tệp đã nhận", "Files received"),
    "file": ("Tệp", "File"),
    "received_at": ("Nhận lúc", "Received"),
    "rows_received": ("Nhận", "Received"),
    "rows_loaded": ("Nạp", "Loaded"),
    "verdict": ("Kết luận", "Verdict"),
    "verdict_published": ("đã công bố", "published"),
    "verdict_held": ("bị giữ lại", "held"),
    "state": ("Trạng thái", "State"),
    # database
    "database": ("Cơ sở dữ liệu", "Database"),
    "owner": ("Cơ quan chủ quản", "Owner"),
    "effective_report": ("Báo cáo có hiệu lực", "Effective report"),
    "as_of_rule": (
        "Quy tắc chọn báo cáo: với mỗi ngày, báo cáo có ngày báo cáo gần nhất không sau ngày đó;"
        " cùng ngày báo cáo thì lấy báo cáo nhận sau cùng (tệp nhận sau, rồi dòng sau).",
        "As-of rule: for each day, the report with the latest report date not after that day;"
        " among reports of the same date, the one received last (the later file, then the later"
        " line).",
    ),
    "line_as_received": ("Dòng nguyên văn như đã nhận", "The line as received"),
    "timeline": ("Diễn biến giai đoạn (theo báo cáo)", "Stage timeline (reported)"),
    "verified_timeline": (
        "Giai đoạn đã kiểm chứng qua các lần công bố",
        "Verified stage, publication by publication",
    ),
    "verified_timeline_explained": (
        "Giai đoạn đã kiểm chứng được đánh giá vào ngày dữ liệu của mỗi lần công bố (các quy tắc"
        " kiểm chứng xét các báo cáo gần nhất); mỗi dòng là một lần nó thay đổi.",
        "The verified stage is judged on each publication's data date (the verification rules"
        " look at the latest reports); each row is a publication where it changed.",
    ),
    "from_day": ("Từ ngày", "From"),
    "reports": ("Mọi dòng báo cáo đã nhận", "Every report row received"),
    "report_date": ("Ngày báo cáo", "Report date"),
    "line": ("dòng", "line"),
    "entry": ("mục", "entry"),
    "platform_status": ("Nền tảng", "Platform"),
    "data_status": ("Dữ liệu", "Data"),
    "records": ("Bản ghi", "Records"),
    "notes": ("Ghi chú", "Notes"),
    "fields": ("Các trường thông tin thu thập", "Fields it collects"),
    "field": ("Trường", "Field"),
    "type": ("Kiểu", "Type"),
    "original_source": ("Nguồn gốc", "Original source"),
    "duplicated": ("Trùng lặp ở {n} CSDL", "Duplicated in {n} databases"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "no_fields": ("Chưa nhận từ điển dữ liệu của cơ sở dữ liệu này.", "No data dictionary yet."),
    # feed line
    "feed_line": ("Dòng của tệp", "Feed line"),
    "rejected_because": ("Bị từ chối", "Rejected"),
    "line_unavailable": (
        "Không hiện được dòng này (tệp nén gzip, tệp JSON, hoặc dòng nằm quá xa đầu tệp); tệp"
        " được lưu nguyên văn trong raw.feed_file_chunks.",
        "This line cannot be shown (a gzip or JSON file, or a line too far into the file); the"
        " file is kept verbatim in raw.feed_file_chunks.",
    ),
    # quality runs
    "run": ("Lần chạy", "Run"),
    "dag_run": ("Lần chạy DAG", "DAG run"),
    "data_date": ("Ngày dữ liệu", "Data date"),
    "finished": ("Kết thúc", "Finished"),
    "passed": ("ĐẠT", "PASSED"),
    "failed": ("KHÔNG ĐẠT", "FAILED"),
    "warn": ("CẢNH BÁO", "WARNING"),
    "published": ("Đã công bố", "Published"),
    "not_published": ("Không công bố", "Not published"),
    "blocking": ("lỗi chặn", "blocking"),
    "national": ("cấp quốc gia", "national"),
    "warnings": ("cảnh báo", "warnings"),
    "word": ("Tiêu chí", "Word"),
    "expectation": ("Kỳ vọng", "Expectation"),
    "observed": ("Quan sát được", "Observed"),
    "offending_rows": ("Các dòng vi phạm", "Offending rows"),
    "held_files": ("Tệp bị giữ lại ở lần này", "Files held by this run"),
    "operator_actions": ("Thao tác rút / khôi phục tệp", "Withdraw / restore events"),
    "action_withdraw": ("rút", "withdraw"),
    "action_restore": ("khôi phục", "restore"),
    "by": ("bởi", "by"),
    "no_events": ("Chưa có thao tác nào.", "No event recorded."),
    "all_runs": ("Mọi lần chạy, mới nhất trước", "Every run, newest first"),
    "six_words": ("Sáu tiêu chí", "The six words"),
}

LIGHTS = {"GREEN": ("XANH", "GREEN"), "YELLOW": ("VÀNG", "YELLOW"), "RED": ("ĐỎ", "RED")}


def text(key: str, lang: str, **values: object) -> str:
    """The text `key` in `lang` ("vi" or "en"), with its {placeholders} filled in."""
    vi, en = TEXTS[key]
    chosen = vi if lang == "vi" else en
    return chosen.format(**values) if values else chosen


def light(name: str, lang: str) -> str:
    vi, en = LIGHTS.get(name, (name, name))
    return vi if lang == "vi" else en
