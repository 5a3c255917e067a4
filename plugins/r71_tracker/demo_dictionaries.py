"""Demo data dictionaries (feed contract v1.1 `fields` feed): what the named databases collect.

The Government's complaint is that the same citizen data is collected again and again: citizen ID,
full name, date of birth and address sit in most databases, each ministry spelling them its own
way, and for some fields no database (or more than one) says it is the original source. The demo
dictionaries tell that story with data a reader can check by hand:

- citizen ID, full name, tax code and enterprise code are collected by many databases with exactly
  one original source (the population database, the finance and business registers): master data
  copied correctly, not listed as waste;
- date of birth, permanent address and social insurance number are claimed as original by two
  databases each (`several_original_sources`);
- phone number, e-mail and occupation are collected by many and owned by none
  (`no_original_source`);
- VSS first claims full name as its own, then corrects its dictionary on the latest report date:
  only the latest dictionary of a database counts;
- two rows break a rule (a field listed twice, a boolean written `có`) and are quarantined.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType
from typing import NamedTuple

DICTIONARY_REPORT_DATE = date(2025, 12, 1)
CORRECTION_REPORT_DATE = date(2025, 12, 15)


class Field(NamedTuple):
    """One information field as an agency's dictionary lists it."""

    name: str
    field_type: str
    is_original_source: bool | str  # a string only for a row the quarantine must catch


# Per database: its fields, spelled as that agency's systems spell them (the tracker's field-name
# normalisation and the analysts' alias seed make "Số CCCD" and "citizen_id" one field).
DICTIONARIES: Mapping[str, tuple[Field, ...]] = MappingProxyType(
    {
        "MPS-POPULATION": (
            Field("Số định danh cá nhân", "text", True),
            Field("Họ và tên", "text", True),
            Field("Ngày sinh", "date", True),
            Field("Giới tính", "text", True),
            Field("Địa chỉ thường trú", "text", True),
            Field("Nghề nghiệp", "text", False),
            Field("Số điện thoại", "text", False),
        ),
        "MPS-EID": (
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
            Field("Ảnh chân dung", "image", True),
        ),
        "MPS-LOCATION-ID": (
            Field("Mã định danh địa điểm", "text", True),
            Field("Địa chỉ thường trú", "text", True),
        ),
        "MPS-EXIT-ENTRY": (
            Field("Số CCCD", "text", False),
            Field("Họ tên", "text", False),
            Field("Ngày sinh", "date", False),
            Field("Số hộ chiếu", "text", True),
        ),
        "MOJ-CIVIL-STATUS": (
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
            Field("Ngày sinh", "date", True),
            Field("Nơi sinh", "text", True),
        ),
        "MOJ-NOTARIZATION": (
            Field("Số CCCD", "text", False),
            Field("Họ tên", "text", False),
            Field("Địa chỉ thường trú", "text", "có"),
            Field("Số điện thoại", "text", False),
        ),
        "VSS-INSURANCE": (
            Field("Mã số BHXH", "text", True),
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
            Field("Ngày sinh", "date", False),
            Field("Số điện thoại", "text", False),
            Field("Nghề nghiệp", "text", False),
            Field("Mã số thuế", "text", False),
        ),
        "MOHA-SOCIAL-SECURITY": (
            Field("Mã số BHXH", "text", True),
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
        ),
        "MOHA-CIVIL-SERVANTS": (
            Field("Số CCCD", "text", False),
            Field("Họ tên", "text", False),
            Field("Ngày sinh", "date", False),
            Field("Chức vụ", "text", True),
            Field("Email", "text", False),
        ),
        "MOH-HEALTH": (
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
            Field("Ngày sinh", "date", False),
            Field("Mã số BHXH", "text", False),
            Field("Số điện thoại", "text", False),
            Field("Số điện thoại", "text", False),
            Field("Email", "text", False),
        ),
        "MOET-EDUCATION": (
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
            Field("Ngày sinh", "text", False),
            Field("Địa chỉ thường trú", "text", False),
            Field("Số điện thoại", "text", False),
            Field("Email", "text", False),
        ),
        "SBV-BANKING": (
            Field("citizen_id", "string", False),
            Field("full_name", "string", False),
            Field("date_of_birth", "date", False),
            Field("credit_score", "integer", True),
        ),
        "MOF-FINANCE": (
            Field("Mã số thuế", "text", True),
            Field("Mã số doanh nghiệp", "text", False),
        ),
        "MOF-BUSINESS-REG": (
            Field("Mã số doanh nghiệp", "text", True),
            Field("Mã số thuế", "text", False),
            Field("Số CCCD", "text", False),
            Field("Họ tên", "text", False),
            Field("Số điện thoại", "text", False),
            Field("Email", "text", False),
        ),
        "MAE-LAND": (
            Field("Số định danh cá nhân", "text", False),
            Field("Họ và tên", "text", False),
            Field("Địa chỉ thường trú", "text", False),
            Field("Số thửa đất", "text", True),
        ),
    }
)

# VSS's first dictionary claims full name as its own; its correction (the latest report date)
# does not. Only a database's latest dictionary counts, so full name keeps one original source.
FIRST_CLAIMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"VSS-INSURANCE": frozenset({"Họ và tên"})}
)

# What the duplicated-fields mart must list on the demo (canonical names, after the alias seed).
EXPECTED_DUPLICATED_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "ngay_sinh": "several_original_sources",
        "dia_chi_thuong_tru": "several_original_sources",
        "ma_so_bao_hiem_xa_hoi": "several_original_sources",
        "so_dien_thoai": "no_original_source",
        "dia_chi_thu_dien_tu": "no_original_source",
        "nghe_nghiep": "no_original_source",
    }
)
# Rows the quarantine must catch in the dictionaries (reason -> rows).
EXPECTED_BAD_DICTIONARY_ROWS: Mapping[str, int] = MappingProxyType(
    {"duplicate_field_in_file": 2, "bad_boolean": 1}
)


class DictionaryFile(NamedTuple):
    """One agency's dictionary on one report date, as rows named like the contract's fields."""

    agency_code: str
    report_date: date
    rows: list[dict[str, object]]
    delivered_on: date


def dictionary_files(owners: Mapping[str, str]) -> list[DictionaryFile]:
    """Every agency's dictionary (one file per agency), then VSS's correction; databases the
    registry (which an operator may replace) does not have are left out."""
    by_agency: dict[str, list[dict[str, object]]] = {}
    for database, fields in DICTIONARIES.items():
        if database not in owners:
            continue
        claimed_at_first = FIRST_CLAIMS.get(database, frozenset())
        by_agency.setdefault(owners[database], []).extend(
            _row(owners[database], database, field, DICTIONARY_REPORT_DATE, claimed_at_first)
            for field in fields
        )
    delivered = DICTIONARY_REPORT_DATE + timedelta(days=1)
    files = [
        DictionaryFile(agency, DICTIONARY_REPORT_DATE, rows, delivered)
        for agency, rows in by_agency.items()
    ]
    for database in FIRST_CLAIMS:
        if database not in owners:
            continue
        agency = owners[database]
        rows = [
            _row(agency, database, field, CORRECTION_REPORT_DATE, frozenset())
            for field in DICTIONARIES[database]
        ]
        delivered = CORRECTION_REPORT_DATE + timedelta(days=1)
        files.append(DictionaryFile(agency, CORRECTION_REPORT_DATE, rows, delivered))
    return files


def _row(
    agency: str, database: str, field: Field, report_date: date, claimed: frozenset[str]
) -> dict[str, object]:
    return {
        "report_date": report_date.isoformat(),
        "agency_code": agency,
        "database_code": database,
        "field_name": field.name,
        "field_type": field.field_type,
        "is_original_source": True if field.name in claimed else field.is_original_source,
    }
