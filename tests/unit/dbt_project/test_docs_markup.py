"""How the dbt docs site shows the project's descriptions: a column's description is listed as
plain text in the model's column table, so markdown emphasis there (`**VI:**`) shows as raw
asterisks. Read straight from the YAML and the `{% docs %}` blocks, no dbt run needed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[3] / "dbt_project"
_SKIPPED = {"target", "dbt_packages", "logs"}
_DOC_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)
_DOC_CALL = re.compile(r"""{{\s*doc\(\s*['"](\w+)['"]\s*\)\s*}}""")


def _project_files(pattern: str) -> Iterator[Path]:
    for path in sorted(PROJECT.glob(f"**/{pattern}")):
        if not _SKIPPED & set(path.relative_to(PROJECT).parts):
            yield path


def _doc_blocks() -> dict[str, str]:
    return {
        match[1]: match[2]
        for path in _project_files("*.md")
        for match in _DOC_BLOCK.finditer(path.read_text(encoding="utf-8"))
    }


def _column_descriptions() -> Iterator[tuple[str, str]]:
    """(file: node.column, description with its doc() blocks inlined) for every column of every
    model, seed, snapshot and source table."""
    blocks = _doc_blocks()
    for path in _project_files("*.yml"):
        properties = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(properties, dict) or properties.get("version") != 2:
            continue  # dbt_project.yml, profiles.yml: no properties
        nodes = [
            node for key in ("models", "seeds", "snapshots") for node in properties.get(key) or []
        ]
        nodes += [table for source in properties.get("sources") or [] for table in source["tables"]]
        for node in nodes:
            for column in node.get("columns") or []:
                text = _DOC_CALL.sub(lambda call: blocks[call[1]], column.get("description") or "")
                yield f"{path.relative_to(PROJECT)}: {node['name']}.{column['name']}", text


def test_the_descriptions_are_found() -> None:
    described = dict(_column_descriptions())
    assert len(described) > 200
    assert "doc(" not in "".join(described.values())  # every doc() block was inlined


def test_no_column_description_uses_markdown_emphasis() -> None:
    emphasised = [where for where, text in _column_descriptions() if "**" in text]
    assert emphasised == []


def test_every_column_description_that_names_languages_names_both() -> None:
    """A description split by language reads `VI: … EN: …` (a doc block) or `VI / EN`."""
    half = [where for where, text in _column_descriptions() if ("VI:" in text) != ("EN:" in text)]
    assert half == []
