"""OpenLineage through Airflow's scheduler on the demo feeds: the events a catalogue would receive
(the default file transport, one JSON file per event) rebuild the graph feed file → raw → staging
→ marts, carry the quality gate's assertions on the marts, and hang from the Airflow run.

One module-scoped deployment of its own (test tracker database, private Airflow metadata
database, folders, services on free ports) and one DAG run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict, deque
from datetime import date
from pathlib import Path

import psycopg
import pytest
from conftest import airflow_deployment

from r71_tracker import demo_feeds
from r71_tracker.airflow_runs import run_dag_once

pytestmark = pytest.mark.integration

DAG = "resolution71_tracker"


@pytest.fixture(scope="module")
def lineage_run(tmp_path_factory, server_url, tracker_db_url):
    """(deployment environment, every OpenLineage event of one DAG run on the demo feeds)."""
    root = tmp_path_factory.mktemp("lineage")
    with airflow_deployment(root, server_url, tracker_db_url, "lineage") as env:
        outcome = run_dag_once(demo_feeds.LATEST_REPORT_DATE)
        assert outcome.succeeded, outcome.log_path.read_text()[-4000:]
        folder = Path(env["TRACKER_LOCAL_DIR"]) / "lineage"
        events = [json.loads(path.read_text()) for path in sorted(folder.glob("event-*.json"))]
        yield env, events


def _dag_run_id(events: list[dict]) -> str:
    (run_id,) = {event["run"]["runId"] for event in events if event["job"]["name"] == DAG}
    return run_id


def _parent(event: dict) -> dict | None:
    return event["run"].get("facets", {}).get("parent")


def _edges(events: list[dict]) -> dict[str, set[str]]:
    """dataset -> the datasets a job wrote from it (`namespace/name`)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for event in events:
        for source in event.get("inputs") or []:
            for target in event.get("outputs") or []:
                edges[f"{source['namespace']}/{source['name']}"].add(
                    f"{target['namespace']}/{target['name']}"
                )
    return edges


def _path(edges: dict[str, set[str]], start: str, goal_suffix: str) -> list[str] | None:
    """The shortest path of datasets from `start` to a dataset named `...goal_suffix`."""
    queue, seen = deque([[start]]), {start}
    while queue:
        path = queue.popleft()
        if path[-1].endswith(goal_suffix):
            return path
        for target in sorted(edges.get(path[-1], set()) - seen):
            seen.add(target)
            queue.append([*path, target])
    return None


def _layer(dataset: str) -> str:
    """file, or the schema of a table (`postgres://host:port/database.schema.table`)."""
    namespace, name = (
        dataset.split("/", 1) if dataset.startswith("file/") else dataset.rsplit("/", 1)
    )
    return "file" if namespace == "file" else name.split(".")[1]


def test_every_event_hangs_from_the_airflow_run(lineage_run):
    _env, events = lineage_run
    dag_run = _dag_run_id(events)
    assert {event["job"]["namespace"] for event in events} == {"resolution71"}
    tasks = [event for event in events if event["job"]["name"].startswith(f"{DAG}.")]
    models = [event for event in events if event not in tasks and event["job"]["name"] != DAG]
    assert {event["job"]["name"] for event in tasks} >= {
        f"{DAG}.{task}"
        for task in ("find_new_feed_files", "ingest_feed_file", "build_models", "quality_gate")
    }
    assert models, "the dbt build emitted no model job"
    for event in tasks:
        assert _parent(event)["run"]["runId"] == dag_run, event["job"]["name"]
    build_runs = {
        event["run"]["runId"] for event in tasks if event["job"]["name"] == f"{DAG}.build_models"
    }
    for event in models:
        parent = _parent(event)
        assert parent["job"]["name"] == f"{DAG}.build_models", event["job"]["name"]
        assert parent["run"]["runId"] in build_runs
        assert parent["root"]["run"]["runId"] == dag_run
        assert parent["root"]["job"]["name"] == DAG


def test_the_graph_runs_from_each_feed_file_through_raw_and_staging_to_the_marts(lineage_run):
    env, events = lineage_run
    edges = _edges(events)
    for path in sorted(Path(env["TRACKER_LANDING_DIR"]).iterdir()):
        mart = ".marts.database_fields" if "_fields_" in path.name else ".marts.stage_summary"
        route = _path(edges, f"file/{path.absolute()}", mart)
        assert route, f"no lineage from {path.name} to {mart}"
        layers = " ".join(_layer(dataset) for dataset in route)
        assert re.fullmatch(r"file raw( staging)+( marts)+", layers), (path.name, route)


def test_the_feed_file_carries_its_digest_and_counts(lineage_run):
    env, events = lineage_run
    received = {}
    for event in events:
        for dataset in event.get("inputs") or []:
            facet = dataset.get("facets", {}).get("resolution71_feedFile")
            if facet:
                received[Path(dataset["name"]).name] = (dataset, facet)
    landing = Path(env["TRACKER_LANDING_DIR"])
    assert set(received) == {path.name for path in landing.iterdir()}
    with psycopg.connect(env["TRACKER_DATABASE_URL"]) as conn:
        counts = {
            name: (sha, rows_received, rows_loaded, rows_rejected)
            for name, sha, rows_received, rows_loaded, rows_rejected in conn.execute(
                "select original_name, sha256, rows_received, rows_loaded, rows_rejected"
                " from raw.feed_files"
            )
        }
    for name, (dataset, facet) in received.items():
        digest = hashlib.sha256((landing / name).read_bytes()).hexdigest()
        assert facet["sha256"] == digest == dataset["facets"]["version"]["datasetVersion"]
        assert facet["sizeBytes"] == (landing / name).stat().st_size
        assert facet["rowsReceived"] == facet["rowsLoaded"] + facet["rowsRejected"]
        assert counts[name] == (
            digest,
            facet["rowsReceived"],
            facet["rowsLoaded"],
            facet["rowsRejected"],
        )


def test_the_gate_assertions_sit_on_the_marts_it_judged(lineage_run):
    env, events = lineage_run
    gate = [
        dataset
        for event in events
        if event["job"]["name"] == f"{DAG}.quality_gate"
        for dataset in event.get("inputs") or []
    ]
    judged = {
        dataset["name"].split(".", 1)[1]: dataset["inputFacets"]["dataQualityAssertions"]
        for dataset in gate
    }
    assert "marts.stage_history" in judged
    assert "marts.database_current_status" in judged
    with psycopg.connect(env["TRACKER_DATABASE_URL"]) as conn:
        recorded = conn.execute(
            "select count(*), count(*) filter (where success) from audit.expectation_results"
            " where run_id = (select max(run_id) from audit.gate_runs)"
        ).fetchone()
    assertions = [item for facet in judged.values() for item in facet["assertions"]]
    assert (len(assertions), sum(item["success"] for item in assertions)) == recorded
    assert all(item["params"]["word"] for item in assertions)


def test_publish_overwrites_every_mart_with_the_candidate_the_gate_passed(lineage_run):
    env, events = lineage_run
    published = {
        dataset["name"].split(".", 1)[1]: dataset["facets"]
        for event in events
        if event["job"]["name"] == f"{DAG}.publish"
        for dataset in event.get("outputs") or []
    }
    assert {"marts.stage_summary", "marts.stage_history", "marts.agency_scorecard"} <= set(
        published
    )
    with psycopg.connect(env["TRACKER_DATABASE_URL"]) as conn:
        (candidate,) = conn.execute(
            "select candidate_schema from audit.publications order by publication_id desc limit 1"
        ).fetchone()
    for facets in published.values():
        assert facets["lifecycleStateChange"]["lifecycleStateChange"] == "OVERWRITE"
        assert facets["resolution71_candidate"]["candidateSchema"] == candidate


def test_a_gate_that_stops_the_run_still_tells_the_catalogue_what_failed(lineage_run):
    """A run judged half a year after the last report: the gate fails on freshness, nothing is
    published, and its failed assertions reach the catalogue."""
    env, before = lineage_run
    late = date(2026, 6, 1)
    outcome = run_dag_once(late)
    assert not outcome.succeeded

    folder = Path(env["TRACKER_LOCAL_DIR"]) / "lineage"
    events = [json.loads(path.read_text()) for path in sorted(folder.glob("event-*.json"))]
    (dag_run,) = {event["run"]["runId"] for event in events if event["job"]["name"] == DAG} - {
        _dag_run_id(before)
    }
    this_run = [
        event
        for event in events
        if event["run"]["runId"] == dag_run
        or (_parent(event) or {}).get("run", {}).get("runId") == dag_run
    ]
    gate = [event for event in this_run if event["job"]["name"] == f"{DAG}.quality_gate"]
    assert "FAIL" in {event["eventType"] for event in gate}
    failed = [
        assertion
        for event in gate
        for dataset in event.get("inputs") or []
        for assertion in dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
        if not assertion["success"]
    ]
    assert any(item["severity"] == "error" for item in failed), failed
    gate_run = next(
        event["run"]["facets"]["resolution71_gateRun"]
        for event in gate
        if "resolution71_gateRun" in event["run"]["facets"]
    )
    assert gate_run["success"] is False and gate_run["blockingFailures"] >= 1
    published = [
        event
        for event in this_run
        if event["job"]["name"] == f"{DAG}.publish" and event.get("outputs")
    ]
    assert published == []
