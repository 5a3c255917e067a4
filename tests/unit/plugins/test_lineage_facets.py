"""The tracker's OpenLineage: what an ingest, a dbt build and a gate tell a lineage catalogue, and
how the Airflow processes are pointed at one (a file per event by default, HTTP when
OPENLINEAGE_URL is set). The events of a real DAG run: tests/integration/test_lineage.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from openlineage.client.serde import Serde

from r71_tracker import lineage
from r71_tracker.airflow_env import openlineage_settings
from r71_tracker.config import settings
from r71_tracker.feeds.report import FileReport

URL = "postgresql://tracker:secret@db.example:5433/tracker"
SCHEMAS = Path(__file__).parents[3] / "docs" / "lineage"
DIGEST = "ab" * 32


def _report(**changes) -> dict:
    values = {
        "path": Path("landing/MOH_2025-12-15.csv"),
        "original_name": "MOH_2025-12-15.csv",
        "outcome": "loaded",
        "sha256": DIGEST,
        "size_bytes": 977,
        "feed_format": "csv",
        "feed_kind": "status",
        "file_id": 7,
        "agency_code": "MOH",
        "received_at": datetime(2025, 12, 15, 8, tzinfo=UTC),
        "rows_received": 6,
        "rows_loaded": 5,
        "rows_rejected": 1,
        "rejected_by_reason": {"unknown_database": 1},
    }
    return FileReport(**(values | changes)).to_dict()


def _outputs(report: dict) -> dict[str, int | None]:
    _inputs, outputs = lineage.feed_file_datasets(report, URL)
    return {
        output.name: getattr(output.outputFacets.get("outputStatistics"), "rowCount", None)
        for output in outputs
    }


def _valid(facet, schema: str) -> None:
    document = json.loads((SCHEMAS / f"{schema}.json").read_text(encoding="utf-8"))
    jsonschema.validate(Serde.to_dict(facet), document)


def test_a_loaded_file_is_the_input_and_the_raw_tables_it_wrote_are_the_outputs() -> None:
    report = _report()
    (feed_file,), outputs = lineage.feed_file_datasets(report, URL)

    assert (feed_file.namespace, feed_file.name) == ("file", str(Path(report["path"]).absolute()))
    assert feed_file.facets["version"].datasetVersion == DIGEST
    assert feed_file.facets["ownership"].owners[0].name == "agency:MOH"
    received = feed_file.facets["resolution71_feedFile"]
    assert (received.rowsReceived, received.rowsLoaded, received.rowsRejected) == (6, 5, 1)
    assert feed_file.inputFacets["inputStatistics"].size == 977
    assert {output.namespace for output in outputs} == {"postgres://db.example:5433"}
    assert _outputs(report) == {
        "tracker.raw.feed_files": 1,
        "tracker.raw.feed_file_chunks": None,
        "tracker.raw.status_reports": 5,
        "tracker.raw.rejected_rows": 1,
    }
    _valid(received, "FeedFileDatasetFacet")


def test_a_fields_feed_writes_field_reports_and_a_clean_file_no_rejected_rows() -> None:
    report = _report(feed_kind="fields", rows_received=5, rows_rejected=0, rejected_by_reason={})
    assert _outputs(report) == {
        "tracker.raw.feed_files": 1,
        "tracker.raw.feed_file_chunks": None,
        "tracker.raw.field_reports": 5,
    }


def test_a_duplicate_writes_nothing_and_a_refused_file_only_its_refusal() -> None:
    assert _outputs(_report(outcome="duplicate")) == {}
    refused = _report(
        outcome="rejected",
        file_id=None,
        sha256=None,
        feed_kind=None,
        agency_code=None,
        received_at=None,
        rows_received=0,
        rows_loaded=0,
        rows_rejected=0,
        rejected_by_reason={},
        reason_code="symlink",
    )
    assert _outputs(refused) == {"tracker.raw.refused_files": 1}
    (feed_file,), _ = lineage.feed_file_datasets(refused, URL)
    assert "version" not in feed_file.facets and "ownership" not in feed_file.facets
    _valid(feed_file.facets["resolution71_feedFile"], "FeedFileDatasetFacet")


def _gate_row(relation: str, success: bool, severity: str = "blocking", **changes) -> dict:
    return {
        "word": "live",
        "severity": severity,
        "suite_name": f"live.marts.{relation.split('.')[1]}",
        "relation": relation,
        "expectation_type": "expect_column_values_to_be_between",
        "success": success,
        "observed_value": {"unexpected_count": 0 if success else 2},
        "unexpected_count": 0 if success else 2,
        "column": "days_since_last_report",
        "kwargs": {"column": "days_since_last_report", "max_value": 14, "mostly": 0.9},
        "notes": "Live: ministries report every 14 days.",
        "notes_vi": "Sống: các bộ báo cáo 14 ngày một lần.",
    } | changes


def test_the_gate_puts_one_assertion_per_expectation_on_each_relation_it_judged() -> None:
    rows = [
        _gate_row("marts.agency_feed_freshness", True),
        _gate_row("marts.agency_feed_freshness", False, "warning"),
        _gate_row("staging.int_status_reports_received", True, column=None),
    ]
    datasets = {dataset.name: dataset for dataset in lineage.gate_datasets(rows, URL)}

    assert set(datasets) == {
        "tracker.marts.agency_feed_freshness",
        "tracker.staging.int_status_reports_received",
    }
    passed, failed = (
        datasets["tracker.marts.agency_feed_freshness"]
        .inputFacets["dataQualityAssertions"]
        .assertions
    )
    assert (passed.success, passed.severity, failed.success, failed.severity) == (
        True,
        "error",
        False,
        "warn",
    )
    assert json.loads(failed.expected) == {"max_value": 14, "mostly": 0.9}
    assert json.loads(failed.actual) == {"unexpected_count": 2}
    assert failed.column == "days_since_last_report"
    assert failed.params["descriptionVi"].startswith("Sống")
    assert failed.params["unexpectedCount"] == 2


def test_dbt_datasets_and_jobs_take_the_names_people_read() -> None:
    manifest = {
        "nodes": {
            "model.r71_tracker.stage_summary": {
                "resource_type": "model",
                "database": "tracker",
                "schema": "build__candidate",
                "alias": "stage_summary",
            },
            "model.r71_tracker.stg_feeds__feed_files": {
                "resource_type": "model",
                "database": "tracker",
                "schema": "build__candidate__work",
                "alias": "stg_feeds__feed_files",
            },
            "seed.r71_tracker.registry_databases": {
                "resource_type": "seed",
                "database": "tracker",
                "schema": "staging",
                "alias": "registry_databases",
            },
        },
        "sources": {
            "source.r71_tracker.build.file_states": {
                "resource_type": "source",
                "database": "tracker",
                "schema": "build__candidate__work",
                "name": "file_states",
            }
        },
    }
    published = {"build__candidate": "marts", "build__candidate__work": "staging"}

    assert lineage._published_names(manifest, published) == {
        "tracker.build__candidate.stage_summary": "tracker.marts.stage_summary",
        "tracker.build__candidate__work.stg_feeds__feed_files": (
            "tracker.staging.stg_feeds__feed_files"
        ),
        "tracker.build__candidate__work.file_states": "tracker.raw.file_states",
    }
    jobs = {
        "tracker.build__candidate.r71_tracker.stage_summary.build.run": (
            "tracker.marts.r71_tracker.stage_summary.build.run"
        ),
        "tracker.build__candidate__work.r71_tracker.stg_feeds__feed_files.build.test": (
            "tracker.staging.r71_tracker.stg_feeds__feed_files.build.test"
        ),
        "tracker.build__candidate__work.source.r71_tracker.build.file_states.build.test": (
            "tracker.raw.source.r71_tracker.build.file_states.build.test"
        ),
        "test.r71_tracker.assert_stage_summary_adds_up_to_registry": (
            "test.r71_tracker.assert_stage_summary_adds_up_to_registry"
        ),
    }
    for built, expected in jobs.items():
        assert lineage._published_job_name(built, "tracker", published) == expected


def test_custom_facets_match_their_published_schemas() -> None:
    _valid(
        lineage.CandidateDatasetFacet(candidateSchema="candidate__20251215__abc"),
        "CandidateDatasetFacet",
    )
    gate_run = lineage.GateRunFacet(
        gateRunId="manual__2025-12-15__gate_1",
        success=False,
        blockingFailures=1,
        warnings=0,
        heldAgencies=["MOH"],
        candidateSchema="candidate__20251215__abc",
    )
    _valid(gate_run, "GateRunFacet")
    with pytest.raises(jsonschema.ValidationError):
        _valid(lineage.CandidateDatasetFacet(candidateSchema="marts"), "CandidateDatasetFacet")


def test_lineage_goes_to_a_file_per_event_unless_a_url_or_a_transport_is_given(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TRACKER_LOCAL_DIR", str(tmp_path))
    config = settings()

    default = openlineage_settings(config, {})
    assert default["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "resolution71"
    transport = json.loads(default["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport == {
        "type": "file",
        "log_file_path": str(tmp_path / "lineage" / "event"),
        "append": False,
    }
    assert (tmp_path / "lineage").is_dir()  # the client's file transport does not create it

    to_marquez = openlineage_settings(
        config, {"OPENLINEAGE_URL": "http://marquez:5000", "OPENLINEAGE_NAMESPACE": "r71-prod"}
    )
    assert to_marquez == {"AIRFLOW__OPENLINEAGE__NAMESPACE": "r71-prod"}
    own = openlineage_settings(config, {"AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}'})
    assert "AIRFLOW__OPENLINEAGE__TRANSPORT" not in own


def test_outside_an_airflow_task_nothing_is_emitted(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    assert lineage._running_task() is None
    lineage.emit_feed_file(_report())  # no task, no listener: returns without a word
