"""thống nhất / unified — one stage per database per day, one owner per database, one code set."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.context import SuiteContext
from expectations.registry_membership import ExpectColumnValuesToBeInRegistry
from expectations.words._queries import STAGE_HISTORY_KEY_MISSING
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
        # One stage per database per day is enforced by the database itself: the mart's contract
        # declares a primary key on (database_code, status_date), so PostgreSQL refuses a second
        # stage when dbt builds it. The gate checks that this guarantee is in place (a catalog
        # lookup) instead of grouping the whole history again on every run.
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=STAGE_HISTORY_KEY_MISSING,
            description="stage_history's primary key (database_code, status_date) is in place",
            notes=(
                "Unified: one stage per database per day. The history's primary key on "
                "(database_code, status_date) makes PostgreSQL refuse a second stage for a "
                "database on a day; a missing key is a failure."
            ),
            meta=meta(
                WORD,
                "one_stage_per_day",
                "one stage per database per day",
                notes_vi=(
                    "Thống nhất: mỗi cơ sở dữ liệu có một giai đoạn mỗi ngày. Khóa chính của lịch "
                    "sử trên (database_code, status_date) khiến PostgreSQL từ chối giai đoạn thứ "
                    "hai của cùng một cơ sở dữ liệu trong cùng một ngày; thiếu khóa này là không "
                    "đạt."
                ),
            ),
        ),
    ]
    registry = [
        gxe.ExpectColumnValuesToBeUnique(
            column="database_code",
            notes="Unified: a database appears once in the registry, so it has one owner.",
            meta=meta(
                WORD,
                "one_owner_per_database",
                "one owner per database",
                notes_vi=(
                    "Thống nhất: mỗi cơ sở dữ liệu chỉ xuất hiện một lần trong danh mục, nên chỉ "
                    "có một cơ quan chủ quản."
                ),
            ),
        ),
        ExpectColumnValuesToBeInRegistry(
            column="owner_agency_code",
            **context.registry("agencies"),
            notes=(
                "Unified: every database is owned by a current agency of the registry (after the "
                "2025 ministry mergers and transfers no database may stay with a dissolved one)."
            ),
            meta=meta(
                WORD,
                "owners_are_current",
                "owners are current agencies",
                notes_vi=(
                    "Thống nhất: mọi cơ sở dữ liệu đều thuộc một cơ quan hiện hành trong danh mục "
                    "(sau đợt hợp nhất và chuyển giao các bộ năm 2025, không cơ sở dữ liệu nào "
                    "được để lại cho một cơ quan đã giải thể)."
                ),
            ),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="owner_agency_code",
            notes="Unified: every database has an owner.",
            meta=meta(
                WORD,
                "one_owner_per_database",
                "one owner per database",
                notes_vi="Thống nhất: mọi cơ sở dữ liệu đều có cơ quan chủ quản.",
            ),
        ),
        ExpectColumnValuesToBeInRegistry(
            column="database_code",
            **context.registry("databases"),
            notes=(
                "Unified: the registry the marts were built from is the registry file of record "
                "(a replaced file not re-seeded shows up here)."
            ),
            meta=meta(
                WORD,
                "one_registry",
                "one registry",
                notes_vi=(
                    "Thống nhất: danh mục dùng để dựng dữ liệu công bố (marts) chính là tệp danh "
                    "mục chính thức (một tệp đã được thay mà chưa nạp lại sẽ lộ ra ở đây)."
                ),
            ),
        ),
    ]
    fields = [
        ExpectColumnValuesToBeInRegistry(
            column="database_code",
            **context.registry("databases"),
            notes=(
                "Unified: the data dictionaries name databases with the status feeds' codes, so "
                "both feeds speak of the same databases."
            ),
            meta=meta(
                WORD,
                "codes_consistent_across_feeds",
                "codes consistent across feeds",
                notes_vi=(
                    "Thống nhất: từ điển dữ liệu gọi tên cơ sở dữ liệu bằng đúng mã của báo cáo "
                    "trạng thái, nên cả hai luồng dữ liệu nói về cùng những cơ sở dữ liệu."
                ),
            ),
        ),
    ]
    return [
        word_suite(WORD, STAGE_HISTORY, history),
        word_suite(WORD, REGISTRY, registry),
        word_suite(WORD, DATABASE_FIELDS, fields),
    ]
