"""The six words' suites build offline from the reviewed bars, and every check explains itself."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from expectations.context import BARS_FILE, WORDS, BarsError, SuiteContext, load_bars
from expectations.words import clean, complete, correct, live, shared, unified
from r71_tracker.quality.gate import registry_codes
from r71_tracker.registry import RegistryError

RUN_DATE = date(2025, 12, 15)
MODULES = (correct, complete, clean, live, unified, shared)
VIETNAMESE_LETTERS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùý")


def _context(**changes) -> SuiteContext:
    values = {
        "run_date": RUN_DATE,
        "bars": load_bars(),
        "registry_dir": Path("/registry"),
        "registry_sha256": "0" * 64,
        "database_count": 3,
    }
    return SuiteContext(**{**values, **changes})


def test_one_module_per_word_and_every_suite_named_word_layer_dataset():
    assert tuple(module.WORD for module in MODULES) == WORDS
    names = []
    for module in MODULES:
        suites = module.build_suites(_context())
        assert suites, module.WORD
        for suite in suites:
            word, layer, dataset = suite.name.split(".")
            assert word == module.WORD == suite.meta["word"]
            assert layer in {"staging", "intermediate", "seeds", "marts"}
            assert suite.meta["relation"].endswith(f".{dataset}")
            assert suite.meta["trace_columns"]
            json.dumps(suite.to_json_dict())  # the file context stores suites as JSON
            names.append(suite.name)
    assert len(names) == len(set(names))


def test_every_expectation_says_why_and_names_its_word():
    for module in MODULES:
        for suite in module.build_suites(_context()):
            for expectation in suite.expectations:
                assert expectation.notes and expectation.notes.split(":")[0].lower() == (
                    module.WORD
                ), expectation
                assert expectation.meta["word"] == module.WORD
                assert expectation.meta["why"]


def test_every_expectation_says_why_in_english_and_in_vietnamese():
    """The gate records both notes; the Vietnamese pages and `tracker audit --lang vi` show the
    Vietnamese one, which starts with the word's Vietnamese name (bars.yml `vi`)."""
    bars = load_bars()
    for module in MODULES:
        for suite in module.build_suites(_context()):
            for expectation in suite.expectations:
                english, vietnamese = expectation.notes, expectation.meta.get("notes_vi")
                assert english and english.strip(), expectation
                assert vietnamese and vietnamese.strip(), expectation
                assert vietnamese != english, vietnamese
                assert VIETNAMESE_LETTERS & set(vietnamese.lower()), vietnamese
                word_vi = bars[module.WORD].vi
                assert vietnamese.startswith(f"{word_vi[0].upper()}{word_vi[1:]}: "), vietnamese
                assert "{" not in vietnamese and "None" not in vietnamese, vietnamese
                assert vietnamese == " ".join(vietnamese.split()), vietnamese


def test_every_blocking_rule_says_in_bars_yml_whether_it_is_national_or_an_agencys():
    """A blocking rule bars.yml does not classify would silently count as national; an agency
    rule must be one the gate can attribute to feed files (holds.offending_files)."""
    from r71_tracker.quality.holds import offending_files

    bars = load_bars()
    used: dict[str, set[str]] = {word: set() for word in WORDS}
    for module in MODULES:
        for suite in module.build_suites(_context()):
            for expectation in suite.expectations:
                rule = expectation.meta["rule"]
                used[module.WORD].add(rule)
                if bars[module.WORD].mode != "blocking":
                    continue
                declared = bars[module.WORD].rules.get(rule)
                assert declared is not None, f"bars.yml: {module.WORD}.rules.{rule} is missing"
                assert declared.why
                if declared.scope == "agency":
                    assert "file_id" in suite.meta["trace_columns"], rule
                    row = {
                        "relation": suite.meta["relation"],
                        "expectation_type": expectation.expectation_type,
                        "expectation_kwargs": expectation.configuration.kwargs,
                    }
                    with pytest.raises(AttributeError):  # supported: reaches the connection
                        offending_files(None, row)
    for word, word_bars in bars.items():
        assert set(word_bars.rules) <= used[word], f"bars.yml: {word} declares unused rules"
    scopes = {
        f"{word}.{rule}": declared.scope
        for word, word_bars in bars.items()
        for rule, declared in word_bars.rules.items()
    }
    assert scopes["clean.file_quarantine_share"] == "agency"
    assert scopes["complete.fresh_share"] == "national"
    assert scopes["correct.registry_codes"] == "national"


def test_a_rule_scope_other_than_national_or_agency_is_refused(tmp_path: Path):
    document = yaml.safe_load(BARS_FILE.read_text("utf-8"))
    document["clean"]["rules"]["file_quarantine_share"]["scope"] = "regional"
    changed = tmp_path / "bars.yml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    with pytest.raises(BarsError, match="clean.rules.file_quarantine_share.scope"):
        load_bars(changed)


def test_bars_come_from_bars_yml_and_every_bar_says_why():
    bars = load_bars()
    assert set(bars) == set(WORDS)
    for word in bars.values():
        assert word.mode in ("blocking", "warning") and word.why and word.vi
        assert set(word.bars) == set(word.bar_reasons) == set(word.bar_reasons_vi)
        assert all(reason for reason in word.bar_reasons.values())
        for name, reason_vi in word.bar_reasons_vi.items():
            assert reason_vi != word.bar_reasons[name]
            assert VIETNAMESE_LETTERS & set(reason_vi.lower()), reason_vi
    # on the demo every word passes; live and shared never stop a run
    assert {word: bars[word].mode for word in ("live", "shared")} == {
        "live": "warning",
        "shared": "warning",
    }


def test_a_bar_changed_in_the_file_changes_the_check(tmp_path: Path):
    document = yaml.safe_load(BARS_FILE.read_text(encoding="utf-8"))
    document["complete"]["bars"]["reported_share"]["value"] = 0.5
    changed = tmp_path / "bars.yml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    suites = complete.build_suites(_context(bars=load_bars(changed)))
    mostly = [
        expectation.mostly
        for suite in suites
        for expectation in suite.expectations
        if expectation.meta.get("bar") == "reported_share"
    ]
    assert mostly == [0.5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("shared"), "word 'shared' is missing"),
        (lambda d: d["live"].update(mode="maybe"), "live.mode must be blocking or warning"),
        (lambda d: d["clean"].update(why=""), "clean.why must say why"),
        (
            lambda d: d["live"]["bars"]["max_report_age_days"].update(why=" "),
            "live.bars.max_report_age_days.why",
        ),
        (
            lambda d: d["shared"]["bars"]["used_connected_share"].pop("why_vi"),
            "shared.bars.used_connected_share.why_vi must say why in Vietnamese",
        ),
        (
            lambda d: d["shared"]["bars"]["used_connected_share"].update(value="most"),
            "must be a number",
        ),
        (lambda d: d.update(beautiful={"mode": "warning"}), "unknown word(s) beautiful"),
    ],
)
def test_a_bars_file_without_a_reason_or_a_mode_is_refused(tmp_path: Path, change, message):
    document = yaml.safe_load(BARS_FILE.read_text(encoding="utf-8"))
    change(document)
    broken = tmp_path / "bars.yml"
    broken.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BarsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_bars(broken)


def test_the_run_date_sets_the_freshness_windows():
    [current, _] = complete.build_suites(_context())
    window = [e for e in current.expectations if e.meta.get("bar") == "fresh_share"][0]
    assert (window.min_value, window.max_value) == (date(2025, 11, 15), RUN_DATE)
    [_, live_current] = live.build_suites(_context())
    newest = live_current.expectations[0]
    assert (newest.min_value, newest.max_value) == (date(2025, 12, 1), RUN_DATE)


def test_registry_codes_come_from_the_registry_csv_as_ingest_reads_it(tmp_path):
    (tmp_path / "registry_agencies.csv").write_text("agency_code\nMOJ\nMOF\n", encoding="utf-8")
    databases = tmp_path / "registry_databases.csv"
    databases.write_text(
        "database_code,owner_agency_code\nMOJ-CIVIL-STATUS,MOJ\n MOF-FINANCE ,MOF\n",
        encoding="utf-8",
    )

    assert registry_codes(tmp_path) == ["MOF-FINANCE", "MOJ-CIVIL-STATUS"]

    databases.write_text(
        "database_code,owner_agency_code\nMOJ-CIVIL-STATUS,MOJ\nMOJ-CIVIL-STATUS,MOJ\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryError, match="appears twice"):
        registry_codes(tmp_path)


def test_registry_membership_reads_the_file_version_the_suites_were_built_with(tmp_path):
    from expectations.registry_membership import codes_of_registry_version as codes_of
    from expectations.registry_membership import registry_sha256

    (tmp_path / "registry_agencies.csv").write_text("agency_code\nMOJ\nMOF\n", encoding="utf-8")
    databases = tmp_path / "registry_databases.csv"
    databases.write_text(
        "database_code,owner_agency_code\nMOJ-CIVIL-STATUS,MOJ\n", encoding="utf-8"
    )
    built_with = registry_sha256(tmp_path)

    assert codes_of(str(tmp_path), "databases", built_with) == ["MOJ-CIVIL-STATUS"]
    assert codes_of(str(tmp_path), "agencies", built_with) == ["MOF", "MOJ"]

    # replaced between building the suites and running them: an error, never a silent pass
    databases.write_text("database_code,owner_agency_code\nMOF-FINANCE,MOF\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="changed since the suites were built"):
        codes_of(str(tmp_path), "databases", built_with)
