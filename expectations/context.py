"""What every word's suites are built from: the run's date, the reviewed bars, the registry.

The bars come from expectations/bars.yml (one reviewed file, each bar with a sentence saying why,
in English and in Vietnamese); the registry codes from the registry file of record, not from the
tables being checked (checking a mart against the seed it was built from would be circular).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, TypedDict

import yaml

BARS_FILE = Path(__file__).with_name("bars.yml")
WORDS: tuple[str, ...] = ("correct", "complete", "clean", "live", "unified", "shared")
MODES = ("blocking", "warning")
SCOPES = ("national", "agency")  # what a blocking rule's failure stops (bars.yml, `rules`)
CodeSet = Literal["databases", "agencies"]  # the code sets of the registry


class BarsError(ValueError):
    """bars.yml is not as the gate needs it; the message names the word and the key."""


@dataclass(frozen=True)
class RuleScope:
    """What a blocking rule's failure stops: `national` (nothing is published) or `agency` (the
    failing files are held, the rest publishes), with the reviewed sentence why."""

    scope: str
    why: str


@dataclass(frozen=True)
class WordBars:
    """One word's mode and bars (name -> value), as reviewed in bars.yml, each bar's reason in
    English (bar_reasons) and Vietnamese (bar_reasons_vi)."""

    word: str
    vi: str
    mode: str
    why: str
    bars: dict[str, float]
    bar_reasons: dict[str, str]
    bar_reasons_vi: dict[str, str]
    rules: dict[str, RuleScope] = field(default_factory=dict)

    def bar(self, name: str) -> float:
        if name not in self.bars:
            raise BarsError(f"bars.yml: {self.word} has no bar {name!r}")
        return self.bars[name]


def load_bars(path: Path = BARS_FILE) -> dict[str, WordBars]:
    """Every word's bars; a missing word, mode, reason or value fails with one line."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    words: dict[str, WordBars] = {}
    for word in WORDS:
        entry = document.get(word)
        if not isinstance(entry, dict):
            raise BarsError(f"{path.name}: word {word!r} is missing")
        mode = entry.get("mode")
        if mode not in MODES:
            raise BarsError(f"{path.name}: {word}.mode must be blocking or warning, got {mode!r}")
        if not str(entry.get("why") or "").strip():
            raise BarsError(f"{path.name}: {word}.why must say why the word is {mode}")
        values: dict[str, float] = {}
        reasons: dict[str, str] = {}
        reasons_vi: dict[str, str] = {}
        for name, bar in (entry.get("bars") or {}).items():
            if not isinstance(bar, dict) or not isinstance(bar.get("value"), int | float):
                raise BarsError(f"{path.name}: {word}.bars.{name}.value must be a number")
            if not str(bar.get("why") or "").strip():
                raise BarsError(f"{path.name}: {word}.bars.{name}.why must say why")
            if not str(bar.get("why_vi") or "").strip():
                raise BarsError(
                    f"{path.name}: {word}.bars.{name}.why_vi must say why in Vietnamese"
                )
            values[name], reasons[name] = float(bar["value"]), " ".join(str(bar["why"]).split())
            reasons_vi[name] = " ".join(str(bar["why_vi"]).split())
        words[word] = WordBars(
            word,
            str(entry.get("vi", "")),
            mode,
            " ".join(str(entry["why"]).split()),
            values,
            reasons,
            reasons_vi,
            _rules(path, word, entry.get("rules") or {}),
        )
    unknown = sorted(set(document) - set(WORDS))
    if unknown:
        raise BarsError(f"{path.name}: unknown word(s) {', '.join(unknown)}")
    return words


def _rules(path: Path, word: str, rules: dict) -> dict[str, RuleScope]:
    scopes: dict[str, RuleScope] = {}
    for name, rule in rules.items():
        scope = rule.get("scope") if isinstance(rule, dict) else None
        if scope not in SCOPES:
            raise BarsError(f"{path.name}: {word}.rules.{name}.scope must be national or agency")
        if not str(rule.get("why") or "").strip():
            raise BarsError(f"{path.name}: {word}.rules.{name}.why must say why")
        scopes[name] = RuleScope(scope, " ".join(str(rule["why"]).split()))
    return scopes


class RegistryArgs(TypedDict):
    """The registry arguments of ExpectColumnValuesToBeInRegistry (SuiteContext.registry)."""

    registry_dir: str
    code_set: CodeSet
    registry_sha256: str


@dataclass(frozen=True)
class SuiteContext:
    """The inputs of one gate run's suites."""

    run_date: date
    bars: dict[str, WordBars]
    registry_dir: Path  # the registry file of record (registry_databases.csv, _agencies.csv)
    registry_sha256: str  # of those files, as the suites were built
    database_count: int

    def registry(self, code_set: CodeSet) -> RegistryArgs:
        """The arguments of ExpectColumnValuesToBeInRegistry for one code set of the registry
        (databases or agencies): where the files are and which version of them judges."""
        return {
            "registry_dir": str(self.registry_dir),
            "code_set": code_set,
            "registry_sha256": self.registry_sha256,
        }
