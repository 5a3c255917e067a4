"""Which failures stop the nation and which hold back one agency's files.

expectations/bars.yml gives every blocking rule a scope. A failed `national` rule stops the
publication. A failed `agency` rule is attributed to the feed files whose rows broke it, counted
over every offending row of the judged relation (never a sample): files first judged in this run
(file_state `new`) are held; if the rule also fails on a file published before, holding back new
files cannot fix it, and the failure counts as national.

Great Expectations is not imported here: attribution is plain SQL on the relation GX judged, run
on a connection whose search path is the gate's (the candidate first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

NATIONAL = "national"
AGENCY = "agency"


@dataclass(frozen=True)
class HeldFile:
    """A new file an agency rule failed on: held out of the build, its agency held."""

    file_id: int
    agency_code: str | None
    file_name: str
    rules: tuple[str, ...]
    failing_rows: int
    reason: str  # one line, the rules and counts


@dataclass(frozen=True)
class Attribution:
    """The blocking failures of one gate run, sorted by what they stop."""

    national: list[dict[str, Any]] = field(default_factory=list)  # failed result rows
    held: dict[int, HeldFile] = field(default_factory=dict)

    @property
    def held_agencies(self) -> list[str]:
        return sorted({held.agency_code for held in self.held.values() if held.agency_code})


def rule_of(row: dict[str, Any]) -> str | None:
    return (row["expectation"].meta or {}).get("rule")


def scope_of(row: dict[str, Any], bars: dict[str, Any]) -> str:
    """A blocking rule's scope from bars.yml; a rule bars.yml does not classify is national."""
    word = bars.get(row["word"])
    rule = word.rules.get(rule_of(row) or "") if word is not None else None
    return rule.scope if rule is not None else NATIONAL


def attribute(conn: psycopg.Connection, failed: list[dict[str, Any]], bars: dict) -> Attribution:
    """Sort the failed blocking results; for agency rules, find every offending file.

    `conn` must have the gate's search path (the judged relations and `file_states` resolve
    through it).
    """
    attribution = Attribution()
    counts: dict[int, dict[str, int]] = {}  # file -> rule -> failing rows
    file_rules: set[str] = set()  # rules judging whole files (one row per file)
    for row in failed:
        if row["severity"] != "blocking":
            continue
        if scope_of(row, bars) != AGENCY or _not_evaluated(row):
            attribution.national.append(row)
            continue
        per_file = offending_files(conn, row)
        states = _file_states(conn, sorted(per_file))
        published = sorted(file_id for file_id in per_file if states.get(file_id) != "new")
        if not per_file or published:
            row["national_because"] = (
                f"the agency rule {rule_of(row)} also fails on file(s) published before"
                f" ({', '.join(map(str, published[:5]))}): withdraw them or review the bar"
                if published
                else f"the agency rule {rule_of(row)} failed on no traceable file"
            )
            attribution.national.append(row)
            continue
        rule = rule_of(row) or row["expectation_type"]
        if row["relation"].endswith(".feed_file_loads"):
            file_rules.add(rule)
        for file_id, rows in per_file.items():
            counts.setdefault(file_id, {})[rule] = rows
    for file_id, agency, name, received, rejected in _files(conn, sorted(counts)):
        rules = counts[file_id]
        reasons = []
        for rule, rows in sorted(rules.items()):
            if rule in file_rules:  # judged the file as a whole: its quarantined rows failed
                rules[rule] = rejected
                reasons.append(f"{rule}: {rejected} of {received} rows quarantined")
            else:
                reasons.append(f"{rule}: {rows} failing row(s)")
        attribution.held[file_id] = HeldFile(
            file_id, agency, name, tuple(sorted(rules)), sum(rules.values()), "; ".join(reasons)
        )
    return attribution


def _not_evaluated(row: dict[str, Any]) -> bool:
    observed = row.get("observed_value")
    return isinstance(observed, dict) and "error" in observed


def offending_files(conn: psycopg.Connection, row: dict[str, Any]) -> dict[int, int]:
    """Every offending row of a failed agency rule, counted per feed file (file_id)."""
    table = sql.Identifier(row["relation"].split(".", 1)[1])
    kwargs = row["expectation_kwargs"]
    kind = row["expectation_type"]
    if kind == "unexpected_rows_expectation":
        query = sql.SQL("select file_id, count(*) from ({}) as offending group by file_id").format(
            sql.SQL(kwargs["unexpected_rows_query"].replace("{batch}", "{}")).format(table)
        )
        params: tuple | None = None
    elif kind == "expect_every_value_in_set":
        query = sql.SQL(
            "select file_id, count(*) from {} where {} is not null and not ({} = any(%s))"
            " group by file_id"
        ).format(table, sql.Identifier(kwargs["column"]), sql.Identifier(kwargs["column"]))
        params = (list(kwargs["value_set"]),)
    elif kind == "expect_every_value_at_least":
        query = sql.SQL("select file_id, count(*) from {} where {} < %s group by file_id").format(
            table, sql.Identifier(kwargs["column"])
        )
        params = (kwargs["min_value"],)
    else:
        raise ValueError(
            f"an agency rule must be a per-file expectation, not {kind}: declare its rule national"
            " in expectations/bars.yml"
        )
    return {int(file_id): int(rows) for file_id, rows in conn.execute(query, params) if file_id}


def _file_states(conn: psycopg.Connection, file_ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        "select file_id, file_state from file_states where file_id = any(%s)", (file_ids,)
    )
    return dict(rows.fetchall())


def _files(conn: psycopg.Connection, file_ids: list[int]) -> list[tuple]:
    return conn.execute(
        "select file_id, agency_code, original_name, rows_received, rows_rejected"
        " from raw.feed_files"
        " where file_id = any(%s) order by file_id",
        (file_ids,),
    ).fetchall()
