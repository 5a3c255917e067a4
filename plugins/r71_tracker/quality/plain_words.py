"""The quality gate's results in plain words, in English and Vietnamese.

The one place that turns a row of audit.expectation_results (its expectation type and arguments,
its observed value, its sample of offending rows) into sentences people read: `tracker audit`,
the quality run pages and the Airflow UI pages all call it, so the same check reads the same
everywhere. Nothing here reads the database or imports the modules that do (audit.py,
report.py): every function takes the stored values and returns text.

- `describe(type, kwargs, lang)`: what the expectation asks, e.g. "every stage is one of:
  centralized, in progress, not started" (a row condition as "where <column> <op> <value>",
  paths relative to the project, registry-sized value sets summarised);
- `observed(type, kwargs, observed_value, lang)`: what was found against the bar, e.g.
  "98 of 105 pass (93.3%) — bar: ≥ 95%";
- `cite_row(sample, lang)`: an offending row by its feed file and place (a CSV file's "line N",
  a JSON file's "entry N" counted from 1, as people count; raw.*.line_number stores a JSON
  entry's index, N − 1), then its fields in words;
- `word_name(word, lang)`: correct/complete/clean/live/unified/shared in either language.

Every expectation type the suites use has a template (tests/unit/plugins/test_plain_words.py
enumerates them from the suites, so a new type needs one); an unknown type falls back to its
arguments as "name: value".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from r71_tracker.config import settings
from r71_tracker.feeds.contract import feed_format
from r71_tracker.i18n import Lang, day, number, percent

WORDS_VI = {
    "correct": "đúng",
    "complete": "đủ",
    "clean": "sạch",
    "live": "sống",
    "unified": "thống nhất",
    "shared": "dùng chung",
}
_SEVERITY_VI = {"blocking": "chặn", "warning": "cảnh báo"}
_SUMMARISED_SET = 8  # a value set longer than this is named by its size, not listed
_LONGEST_VALUE = 60  # characters of a text value shown before it is cut with "…"

# Columns of the checked relations in words (English, Vietnamese); others read as their name
# with spaces for underscores.
_COLUMNS: dict[str, tuple[str, str]] = {
    "agency_code": ("agency", "cơ quan"),
    "connected_national": ("national platform connection", "kết nối nền tảng quốc gia"),
    "consumer_agencies": ("consumer agency count", "số cơ quan khai thác"),
    "data_status": ("data status", "trạng thái dữ liệu"),
    "database_code": ("database code", "mã cơ sở dữ liệu"),
    "databases_reported": ("count of databases reported", "số cơ sở dữ liệu đã báo cáo"),
    "days_from_report_to_receipt": (
        "delay from report to receipt (days)",
        "số ngày từ ngày báo cáo đến ngày nhận",
    ),
    "days_since_last_report": ("age of the last report (days)", "số ngày từ báo cáo gần nhất"),
    "effective_report_date": ("effective report date", "ngày báo cáo hiệu lực"),
    "evidence_file_id": ("evidence file id", "mã tệp bằng chứng"),
    "evidence_line_number": ("evidence line", "dòng bằng chứng"),
    "is_unreported": ("unreported", "chưa báo cáo"),
    "last_report_date": ("last report date", "ngày báo cáo gần nhất"),
    "notes": ("notes", "ghi chú"),
    "owner_agency_code": ("owner agency", "cơ quan chủ quản"),
    "platform_status": ("platform status", "trạng thái nền tảng"),
    "process_integrated": ("process integrated", "tích hợp quy trình"),
    "record_count": ("record count", "số bản ghi"),
    "records_not_updated_30d": (
        "count of records not updated in 30 days",
        "số bản ghi không cập nhật trong 30 ngày",
    ),
    "records_updated_30d": (
        "count of records updated in 30 days",
        "số bản ghi cập nhật trong 30 ngày",
    ),
    "report_date": ("report date", "ngày báo cáo"),
    "report_notes": ("report notes", "ghi chú báo cáo"),
    "rows_received": ("rows received", "số dòng nhận"),
    "rows_rejected": ("rows rejected", "số dòng bị loại"),
    "stage": ("stage", "giai đoạn"),
    "status_date": ("status date", "ngày trạng thái"),
}
# How a cited row names its key fields ("database X, agency Y"), first in this order.
_ROW_FIELDS: dict[str, tuple[str, str]] = {
    "database_code": ("database", "cơ sở dữ liệu"),
    "agency_code": ("agency", "cơ quan"),
    "owner_agency_code": ("owner agency", "cơ quan chủ quản"),
    "stage": ("stage", "giai đoạn"),
    "report_date": ("report date", "ngày báo cáo"),
    "status_date": ("status date", "ngày trạng thái"),
    "last_report_date": ("last report date", "ngày báo cáo gần nhất"),
}
# Keys of a sample that place it (cited as file and line/entry) or are shown elsewhere.
_PLACE_KEYS = frozenset(
    {
        "file_id",
        "file_name",
        "feed_format",
        "line_number",
        "evidence_file_id",
        "evidence_line_number",
        "raw_row",
    }
)
_OPERATORS: dict[str, tuple[str, str]] = {
    "==": ("is", "là"),
    "!=": ("is not", "không phải là"),
    "<": ("is less than", "nhỏ hơn"),
    "<=": ("is at most", "không lớn hơn"),
    ">": ("is more than", "lớn hơn"),
    ">=": ("is at least", "không nhỏ hơn"),
    "IN": ("is one of", "là một trong"),
    "NOT_IN": ("is not one of", "không thuộc"),
}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# An absolute path inside free text (an error message): a slash not preceded by a word, a dot,
# a colon or another slash (so no fraction, URL or "and/or"), then at least two components.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/[^\s'\"`,;()<>]+/[^\s'\"`,;()<>]+")


def pick(lang: Lang, en: str, vi: str) -> str:
    """The English or the Vietnamese of a text, by language."""
    return vi if lang == "vi" else en


def word_name(word: str, lang: Lang) -> str:
    """One of the six words in a language (an unknown word is returned as it is)."""
    return WORDS_VI.get(word, word) if lang == "vi" else word


def word_label(word: str) -> str:
    """Both names of a word, English first: "correct / đúng"."""
    return f"{word} / {WORDS_VI[word]}" if word in WORDS_VI else word


def severity_name(severity: str, lang: Lang) -> str:
    """`blocking` or `warning` in a language."""
    return _SEVERITY_VI.get(severity, severity) if lang == "vi" else severity


def column(name: str, lang: Lang) -> str:
    """A column in words: "effective report date", "ngày báo cáo hiệu lực"."""
    if name in _COLUMNS:
        return pick(lang, *_COLUMNS[name])
    return name.replace("_", " ")


# ---------------------------------------------------------------------------------------------
# Paths and values


def shown_path(path: str | Path) -> str:
    """A path as people may see it: relative to the project root; under a folder set by an
    environment variable outside the root, from that variable ("$TRACKER_LOCAL_DIR/gx/…");
    anything else by its last two parts ("…/seeds/registry.csv"). Never an absolute path."""
    given = Path(path)
    if not given.is_absolute():
        return str(given)
    config = settings()
    bases = (
        ("", config.project_root),
        ("$TRACKER_LOCAL_DIR", config.local_dir),
        ("$TRACKER_SEEDS_DIR", config.registry_dir),
        ("$TRACKER_LANDING_DIR", config.landing_dir),
        ("$TRACKER_PUBLISHED_DIR", config.published_dir),
    )
    for label, base in bases:
        for root in dict.fromkeys((base, base.resolve())):
            if given == root:
                return label or "."
            if given.is_relative_to(root):
                inside = str(given.relative_to(root))
                return f"{label}/{inside}" if label else inside
    return "…/" + "/".join(given.parts[-2:])


def relative_paths(text: str) -> str:
    """Free text (an error message, a note) with every absolute path in it made `shown_path`."""
    return _ABSOLUTE_PATH.sub(lambda found: shown_path(found.group(0)), text)


def _cut(text: str, *, keep_spaces: bool = False) -> str:
    """One line of at most _LONGEST_VALUE characters; `keep_spaces` keeps leading, trailing and
    repeated spaces (quoted text whose spacing is the problem shown)."""
    text = re.sub(r"\s", " ", text) if keep_spaces else " ".join(text.split())
    return text if len(text) <= _LONGEST_VALUE else text[: _LONGEST_VALUE - 1] + "…"


def value(item: Any, lang: Lang) -> str:
    """A stored value in words: yes/no (có/không), numbers and days as the language writes them,
    paths relative to the project, long lists by their size, long text cut."""
    if item is None:
        return pick(lang, "none", "không có")
    if isinstance(item, bool):
        return pick(lang, "yes", "có") if item else pick(lang, "no", "không")
    if isinstance(item, int | float):
        return number(item, lang, digits=2)
    if isinstance(item, date):
        return day(item, lang)
    if isinstance(item, str):
        if _ISO_DAY.fullmatch(item):
            return day(date.fromisoformat(item), lang)
        if item.startswith("/"):
            return shown_path(item)
        return _cut(relative_paths(item))
    if isinstance(item, Mapping):
        return "; ".join(f"{column(str(k), lang)}: {value(v, lang)}" for k, v in item.items())
    if isinstance(item, Sequence):
        if len(item) > _SUMMARISED_SET:
            return pick(lang, f"{len(item)} values", f"{len(item)} giá trị")
        return ", ".join(value(v, lang) for v in item)
    return _cut(str(item))


def _code(item: Any, lang: Lang) -> str:
    """A value of an enum or a condition: codes read with spaces ("in progress")."""
    if isinstance(item, str) and not _ISO_DAY.fullmatch(item):
        return item.replace("_", " ")
    return value(item, lang)


# ---------------------------------------------------------------------------------------------
# What an expectation asks


def _one_of(values: Sequence[Any], lang: Lang) -> str:
    if len(values) > _SUMMARISED_SET:
        return pick(
            lang, f"is one of {len(values)} listed values", f"là một trong {len(values)} giá trị"
        )
    if len(values) == 1:
        return pick(lang, "is ", "là ") + _code(values[0], lang)
    listed = ", ".join(_code(v, lang) for v in values)
    return pick(lang, "is one of: ", "là một trong: ") + listed


def _between(kwargs: Mapping[str, Any], lang: Lang) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return pick(
            lang,
            f"is between {value(low, lang)} and {value(high, lang)}",
            f"nằm trong khoảng từ {value(low, lang)} đến {value(high, lang)}",
        )
    if low is not None:
        if kwargs.get("strict_min"):
            return pick(lang, "is more than ", "lớn hơn ") + value(low, lang)
        return pick(lang, "is at least ", "không nhỏ hơn ") + value(low, lang)
    if high is not None:
        if kwargs.get("strict_max"):
            return pick(lang, "is less than ", "nhỏ hơn ") + value(high, lang)
        return pick(lang, "is at most ", "không lớn hơn ") + value(high, lang)
    return pick(lang, "has any value", "có giá trị bất kỳ")


def _every(kwargs: Mapping[str, Any], predicate: str, lang: Lang) -> str:
    """Every row: "every <column> <predicate>"; with `mostly`: "in at least p of rows,
    <column> <predicate>"."""
    name = column(str(kwargs.get("column", "?")), lang)
    mostly = kwargs.get("mostly")
    if isinstance(mostly, int | float) and mostly < 1:
        share = percent(mostly, lang)
        return pick(
            lang,
            f"in at least {share} of rows, {name} {predicate}",
            f"ở ít nhất {share} số bản ghi, {name} {predicate}",
        )
    return pick(lang, f"every {name} {predicate}", f"mọi {name} đều {predicate}")


def _registry(kwargs: Mapping[str, Any], lang: Lang) -> str:
    databases = kwargs.get("code_set") == "databases"
    kind = pick(
        lang, "database" if databases else "agency", "cơ sở dữ liệu" if databases else "cơ quan"
    )
    where = shown_path(str(kwargs["registry_dir"])) if kwargs.get("registry_dir") else "?"
    version = str(kwargs.get("registry_sha256") or "")[:12]
    return pick(
        lang,
        f"is {'a database' if databases else 'an agency'} code of the registry file of record"
        f" ({where}, version {version})",
        f"là mã {kind} trong tệp danh mục chính thức ({where}, phiên bản {version})",
    )


def _in_set(kwargs: Mapping[str, Any], lang: Lang) -> str:
    return _every(kwargs, _one_of(list(kwargs.get("value_set") or []), lang), lang)


def _in_registry(kwargs: Mapping[str, Any], lang: Lang) -> str:
    return _every(kwargs, _registry(kwargs, lang), lang)


def _values_between(kwargs: Mapping[str, Any], lang: Lang) -> str:
    return _every(kwargs, _between(kwargs, lang), lang)


def _not_null(kwargs: Mapping[str, Any], lang: Lang) -> str:
    return _every(kwargs, pick(lang, "is filled in", "có giá trị"), lang)


def _unique(kwargs: Mapping[str, Any], lang: Lang) -> str:
    name = column(str(kwargs.get("column", "?")), lang)
    return pick(lang, f"every {name} appears only once", f"mỗi {name} chỉ xuất hiện một lần")


def _row_count(kwargs: Mapping[str, Any], lang: Lang) -> str:
    count = value(kwargs.get("value"), lang)
    return pick(lang, f"the table has exactly {count} rows", f"bảng có đúng {count} bản ghi")


def _max_between(kwargs: Mapping[str, Any], lang: Lang) -> str:
    name = column(str(kwargs.get("column", "?")), lang)
    dated = any(
        isinstance(kwargs.get(key), str) and _ISO_DAY.fullmatch(kwargs[key])
        for key in ("min_value", "max_value")
    )
    largest = pick(lang, "the newest " if dated else "the largest ", "")
    suffix = pick(lang, "", " mới nhất" if dated else " lớn nhất")
    return f"{largest}{name}{suffix} {_between(kwargs, lang)}"


# The unexpected-rows checks of the suites, recognised by their query (GX does not keep an
# UnexpectedRowsExpectation's description among its arguments).
_QUERIES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], Lang], str]], ...] = (
    (
        re.compile(r"pg_constraint.*stage_history|stage_history.*pg_constraint", re.S),
        lambda _, lang: pick(
            lang,
            "the stage history's primary key (database code, status date) is in place",
            "khóa chính của lịch sử giai đoạn (mã cơ sở dữ liệu, ngày trạng thái) đang có hiệu lực",
        ),
    ),
    (
        re.compile(r"nfc\s+normalized", re.I),
        lambda _, lang: pick(
            lang,
            "every report note is Unicode NFC-normalised and trimmed",
            "mọi ghi chú báo cáo đều được chuẩn hóa Unicode NFC và cắt khoảng trắng thừa",
        ),
    ),
    (
        re.compile(r"rows_rejected\s*>\s*([0-9.]+)\s*\*\s*rows_received"),
        lambda found, lang: pick(
            lang,
            f"no new file has more than {percent(float(found[1]), lang)} of its rows quarantined",
            f"không tệp mới nào có quá {percent(float(found[1]), lang)} số dòng bị cách ly",
        ),
    ),
)


def _unexpected_rows(kwargs: Mapping[str, Any], lang: Lang) -> str:
    query = str(kwargs.get("unexpected_rows_query") or "")
    for pattern, words in _QUERIES:
        if found := pattern.search(query):
            return words(found, lang)
    return pick(
        lang, "the check's query finds no row", "truy vấn kiểm tra không trả về bản ghi nào"
    )


Template = Callable[[Mapping[str, Any], Lang], str]
TEMPLATES: dict[str, Template] = {
    "expect_column_values_to_be_in_set": _in_set,
    "expect_every_value_in_set": _in_set,
    "expect_column_values_to_be_in_registry": _in_registry,
    "expect_every_value_in_registry": _in_registry,
    "expect_column_values_to_be_between": _values_between,
    "expect_every_value_at_least": _values_between,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_unique": _unique,
    "expect_table_row_count_to_equal": _row_count,
    "expect_column_max_to_be_between": _max_between,
    "unexpected_rows_expectation": _unexpected_rows,
}
_IMPLIED = frozenset({"row_condition", "condition_parser", "batch_id", "result_format"})


def arguments(kwargs: Mapping[str, Any] | None, lang: Lang) -> str:
    """An expectation's arguments as "name: value; …" (paths relative to the project, long value
    sets by their size, a row condition in words), for readers who want them all."""
    shown = []
    for key, item in (kwargs or {}).items():
        if item is None or key in ("batch_id", "result_format", "condition_parser"):
            continue
        words = condition(item, lang) if key == "row_condition" else value(item, lang)
        shown.append(f"{key.replace('_', ' ')}: {words}")
    return "; ".join(shown)


def _fallback(expectation_type: str, kwargs: Mapping[str, Any], lang: Lang) -> str:
    """An unknown type: its name in words, then its arguments as "name: value" (its row
    condition follows as "where …", as for every type)."""
    shown = arguments({k: v for k, v in kwargs.items() if k not in _IMPLIED}, lang)
    name = expectation_type.replace("_", " ")
    return f"{name} ({shown})" if shown else name


def condition(row_condition: Any, lang: Lang) -> str:
    """A GX row condition in words: "stage is centralized and national platform connection:
    yes" (a legacy condition string is shown as it is)."""
    if not isinstance(row_condition, Mapping):
        return _cut(str(row_condition))
    kind = row_condition.get("type")
    if kind in ("and", "or"):
        joiner = {"and": pick(lang, " and ", " và "), "or": pick(lang, " or ", " hoặc ")}[kind]
        return joiner.join(condition(part, lang) for part in row_condition.get("conditions", []))
    named = row_condition.get("column")
    name = column(str(named.get("name") if isinstance(named, Mapping) else named), lang)
    if kind == "nullity":
        empty = row_condition.get("is_null")
        return f"{name} " + (
            pick(lang, "is empty", "để trống")
            if empty
            else pick(lang, "is filled in", "có giá trị")
        )
    if kind == "comparison":
        operator = str(row_condition.get("operator"))
        parameter = row_condition.get("parameter")
        if isinstance(parameter, bool) and operator in ("==", "!="):
            parameter = parameter if operator == "==" else not parameter
            return f"{name}: {value(parameter, lang)}"
        words = pick(lang, *_OPERATORS.get(operator, (operator, operator)))
        if isinstance(parameter, list):
            words += ":"
        shown = (
            ", ".join(_code(item, lang) for item in parameter)
            if isinstance(parameter, list)
            else _code(parameter, lang)
        )
        return f"{name} {words} {shown}"
    if kind == "pass_through":
        return _cut(str(row_condition.get("pass_through_filter")))
    return value(row_condition, lang)


def describe(expectation_type: str, kwargs: Mapping[str, Any] | None, lang: Lang) -> str:
    """What an expectation asks, in words, with its row condition as "where …"."""
    kwargs = kwargs or {}
    template = TEMPLATES.get(expectation_type)
    text = template(kwargs, lang) if template else _fallback(expectation_type, kwargs, lang)
    if kwargs.get("row_condition"):
        text += pick(lang, ", where ", ", khi ") + condition(kwargs["row_condition"], lang)
    return text


# ---------------------------------------------------------------------------------------------
# What was observed


def _counted(kwargs: Mapping[str, Any], observed_value: Mapping[str, Any], lang: Lang) -> str:
    """A per-row check's counts against its bar (GX judges the rows with a value, so the rows
    judged are derived from the unexpected count and its percentage when there is one)."""
    rows = int(observed_value.get("element_count") or 0)
    unexpected = int(observed_value.get("unexpected_count") or 0)
    share_unexpected = observed_value.get("unexpected_percent")
    judged = round(unexpected * 100 / share_unexpected) if unexpected and share_unexpected else rows
    passing = judged - unexpected
    mostly = kwargs.get("mostly")
    if isinstance(mostly, int | float) and mostly < 1:
        share = percent(passing / judged if judged else 1.0, lang)
        bar = percent(mostly, lang)
        return pick(
            lang,
            f"{number(passing, lang)} of {number(judged, lang)} pass ({share}) — bar: ≥ {bar}",
            f"{number(passing, lang)} trên {number(judged, lang)} đạt ({share}) — ngưỡng: ≥ {bar}",
        )
    if unexpected:
        return pick(
            lang,
            f"{number(unexpected, lang)} of {number(judged, lang)} rows break the rule"
            " — bar: none may",
            f"{number(unexpected, lang)} trên {number(judged, lang)} bản ghi vi phạm"
            " — ngưỡng: không bản ghi nào",
        )
    if judged:
        return pick(
            lang,
            f"all {number(judged, lang)} rows pass",
            f"cả {number(judged, lang)} bản ghi đều đạt",
        )
    return pick(lang, "no row to judge", "không có bản ghi nào để xét")


def observed(
    expectation_type: str, kwargs: Mapping[str, Any] | None, observed_value: Any, lang: Lang
) -> str:
    """What a check found, against its bar: "98 of 105 pass (93.3%) — bar: ≥ 95%"."""
    kwargs = kwargs or {}
    if isinstance(observed_value, Mapping) and "error" in observed_value:
        error = relative_paths(str(observed_value["error"]))
        return pick(lang, "could not be evaluated: ", "không đánh giá được: ") + error
    if isinstance(observed_value, Mapping) and "element_count" in observed_value:
        return _counted(kwargs, observed_value, lang)
    if expectation_type == "expect_table_row_count_to_equal":
        found, bar = value(observed_value, lang), value(kwargs.get("value"), lang)
        return pick(
            lang, f"{found} rows — bar: exactly {bar}", f"{found} bản ghi — ngưỡng: đúng {bar}"
        )
    if expectation_type == "expect_column_max_to_be_between":
        found = value(observed_value, lang)
        bar = _between(kwargs, lang).removeprefix("is ").removeprefix("nằm ")
        return pick(lang, f"found {found} — bar: {bar}", f"thấy {found} — ngưỡng: {bar}")
    if expectation_type == "unexpected_rows_expectation" and isinstance(observed_value, int):
        if not observed_value:
            return pick(lang, "no offending row", "không có bản ghi vi phạm")
        return pick(
            lang,
            f"{number(observed_value, lang)} offending row(s) — bar: none",
            f"{number(observed_value, lang)} bản ghi vi phạm — ngưỡng: không bản ghi nào",
        )
    return value(observed_value, lang)


# ---------------------------------------------------------------------------------------------
# The rows behind a failure


def place(sample: Mapping[str, Any], lang: Lang) -> str:
    """Where an offending row came from: "MOJ_2025-12-15.csv, line 12" or
    "SBV_2025-12-15.json, entry 3" (entries counted from 1); "" when it has no feed file."""
    name = sample.get("file_name")
    if not name:
        return ""
    line = sample.get("line_number")
    if line is None:
        line = sample.get("evidence_line_number")
    shown = shown_path(str(name))
    if line is None:
        return shown
    kind = str(sample.get("feed_format") or feed_format(str(name)) or "")
    if kind.startswith("json"):
        return f"{shown}, " + pick(lang, "entry ", "mục ") + str(int(line) + 1)
    return f"{shown}, " + pick(lang, "line ", "dòng ") + str(line)


def _field(key: str, item: Any, lang: Lang) -> str:
    label = pick(lang, *_ROW_FIELDS[key]) if key in _ROW_FIELDS else column(key, lang)
    if isinstance(item, str) and not _ISO_DAY.fullmatch(item) and (" " in item or not item):
        return f"{label} “{_cut(relative_paths(item), keep_spaces=True)}”"
    return f"{label} {value(item, lang)}"


def fields(row: Mapping[str, Any], lang: Lang, skip: frozenset[str] = frozenset()) -> str:
    """A row's fields in words, its keys first: "database X, agency Y, stage Z, notes “…”"
    (empty values left out, `skip` keys too)."""
    keys = [key for key in _ROW_FIELDS if key in row]
    keys += [key for key in row if key not in _ROW_FIELDS]
    return ", ".join(
        _field(key, row[key], lang)
        for key in keys
        if key not in skip and row[key] is not None and row[key] != ""
    )


def cite_row(sample: Mapping[str, Any], lang: Lang) -> str:
    """An offending row: its feed file and line (CSV) or entry (JSON), then its fields in words:
    "MOH_2025-04-07.csv, line 12: database MOH-HEALTH, agency MOH, report date 2025-04-07"."""
    where = place(sample, lang)
    if not where and sample.get("original_name"):
        where = shown_path(str(sample["original_name"]))
    described = fields(sample, lang, _PLACE_KEYS | {"original_name"})
    if where and described:
        return f"{where}: {described}"
    return where or described or pick(lang, "(no detail kept)", "(không lưu chi tiết)")


def loaded_row(raw_row: Mapping[str, Any], lang: Lang) -> str:
    """The loaded raw row a sample points at, in words: "loaded as: report date …, …"."""
    return pick(lang, "loaded as: ", "đã nạp: ") + fields(raw_row, lang)
