"""OpenLineage events from the tracker's own steps, so its lineage reaches a lineage catalogue
(Marquez, DataHub, any OpenLineage backend): feed file → raw tables → dbt staging → marts, with the
quality gate's verdicts on the datasets it judged.

Airflow's OpenLineage provider (a listener, configured by `airflow_env.openlineage_settings`) emits
a START and a COMPLETE or FAIL event for every DAG run and task, but a Python task reports no
datasets of its own. This module adds, from inside the task that did the work:

- ingest (`emit_feed_file`): the feed file as the input dataset (its SHA-256 as the version, size,
  rows received, loaded and rejected, the agency as owner) and the raw tables it wrote as outputs;
- the dbt build (`emit_dbt_build`): one job per model and per tested model, with inputs, outputs,
  schema and documentation (column lineage only where the SQL names its columns, which this
  project's `select *` import CTEs do not), built in-process from dbt's artifacts after the build by
  openlineage-integration-common's dbt processor (what `dbt-ol` runs, without its wrapper
  process); each event's parent is the Airflow task that ran the build, its root the DAG run;
- the quality gate (`emit_gate`): the standard `dataQualityAssertions` facet on each relation it
  judged, one assertion per expectation, in the gate run's plain words; no maintained
  integration exists for GX 1.x;
- publish (`emit_publication`): every published mart as an output, overwritten
  (`lifecycleStateChange`) by the candidate the gate passed.

Datasets keep the names people read: `<database>.marts.<model>` and `<database>.staging.<model>`
(the dbt docs' names), and `raw.<table>`, although a run's build writes its own candidate schemas
(write-audit-publish): a facet (`resolution71_candidate`) names the candidate schema actually
written, which becomes `marts` only when the run's gate passes. Custom facets are prefixed
`resolution71_`; their JSON Schemas are in docs/lineage/.

Outside a running Airflow task (the CLI, the tests of single steps), or when OpenLineage is
disabled, every function here does nothing. A lineage failure never fails the step: it is logged.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

import attr
from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    input_statistics_input_dataset,
    lifecycle_state_change_dataset,
    output_statistics_output_dataset,
    ownership_dataset,
)

from r71_tracker import database
from r71_tracker.config import settings

LOG = logging.getLogger(__name__)
P = ParamSpec("P")

FILE_NAMESPACE = "file"  # OpenLineage's name of the local file system
RAW_SCHEMA = "raw"
FEED_TABLES = {"status": "status_reports", "fields": "field_reports"}
_SCHEMA_BASE = "urn:resolution71-tracker:lineage:"


def _schema_url(name: str) -> str:
    return f"{_SCHEMA_BASE}{name}:1-0-0"


@attr.define
class FeedFileDatasetFacet(DatasetFacet):
    """What the tracker received of a feed file (docs/lineage/FeedFileDatasetFacet.json)."""

    fileId: int | None  # noqa: N815 (OpenLineage facets are camelCase)
    agencyCode: str | None  # noqa: N815
    originalName: str  # noqa: N815
    sha256: str | None
    sizeBytes: int | None  # noqa: N815
    feedFormat: str | None  # noqa: N815
    feedKind: str | None  # noqa: N815
    receivedAt: str | None  # noqa: N815
    outcome: str
    rowsReceived: int  # noqa: N815
    rowsLoaded: int  # noqa: N815
    rowsRejected: int  # noqa: N815
    rejectedByReason: dict[str, int]  # noqa: N815
    reasonCode: str | None  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("FeedFileDatasetFacet")


@attr.define
class CandidateDatasetFacet(DatasetFacet):
    """The candidate schema a build wrote this model to; it is published as `marts` only when the
    run's quality gate passes, and the publish task names it again on the marts it overwrote
    (docs/lineage/CandidateDatasetFacet.json)."""

    candidateSchema: str  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("CandidateDatasetFacet")


@attr.define
class GateRunFacet(RunFacet):
    """One quality gate run, as the tracker's audit trail records it (`tracker audit --run`)
    (docs/lineage/GateRunFacet.json)."""

    gateRunId: str  # noqa: N815
    success: bool
    blockingFailures: int  # noqa: N815
    warnings: int
    heldAgencies: list[str]  # noqa: N815
    candidateSchema: str | None  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return _schema_url("GateRunFacet")


def _running_task() -> Any | None:
    """The Airflow task instance running this code when OpenLineage is on, else None.

    Airflow's task runner puts AIRFLOW_CTX_DAG_ID in the environment of the task it runs: checked
    first, so the CLI never imports Airflow for this."""
    if not os.environ.get("AIRFLOW_CTX_DAG_ID"):
        return None
    from airflow.providers.openlineage.api import is_openlineage_active
    from airflow.providers.openlineage.utils.utils import get_task_instance_from_context

    if not is_openlineage_active():
        return None
    try:
        return get_task_instance_from_context()
    except Exception:  # noqa: BLE001 (no task context: nothing to attribute lineage to)
        return None


def _emitter(
    what: str,
) -> Callable[[Callable[Concatenate[Any, P], None]], Callable[P, None]]:
    """An emitter that runs only inside a running Airflow task with OpenLineage on (it gets the
    task instance first) and never fails the step: a failure is logged, naming `what`."""

    def decorate(emit_events: Callable[Concatenate[Any, P], None]) -> Callable[P, None]:
        @functools.wraps(emit_events)
        def emit(*args: P.args, **kwargs: P.kwargs) -> None:
            task_instance = _running_task()
            if task_instance is None:
                return
            try:
                emit_events(task_instance, *args, **kwargs)
            except Exception:  # noqa: BLE001 (lineage never fails a step)
                LOG.warning("OpenLineage: %s was not emitted", what, exc_info=True)

        return emit

    return decorate


def table_dataset(schema: str, table: str, url: str | None = None) -> tuple[str, str]:
    """(namespace, name) of a table of the tracker database, as OpenLineage names it."""
    url = url or database.tracker_url()
    return database.server_namespace(url), f"{database.split_url(url).dbname}.{schema}.{table}"


# -- ingest -----------------------------------------------------------------------------------


def feed_file_datasets(
    report: Mapping[str, Any], url: str
) -> tuple[list[InputDataset], list[OutputDataset]]:
    """The feed file (input) and the raw tables its ingest wrote (outputs), from its load report
    (`FileReport.to_dict()`)."""
    facet = FeedFileDatasetFacet(
        fileId=report.get("file_id"),
        agencyCode=report.get("agency_code"),
        originalName=str(report["original_name"]),
        sha256=report.get("sha256"),
        sizeBytes=report.get("size_bytes"),
        feedFormat=report.get("feed_format"),
        feedKind=report.get("feed_kind"),
        receivedAt=report.get("received_at"),
        outcome=str(report["outcome"]),
        rowsReceived=int(report.get("rows_received") or 0),
        rowsLoaded=int(report.get("rows_loaded") or 0),
        rowsRejected=int(report.get("rows_rejected") or 0),
        rejectedByReason=dict(report.get("rejected_by_reason") or {}),
        reasonCode=report.get("reason_code"),
    )
    facets: dict[str, DatasetFacet] = {"resolution71_feedFile": facet}
    if facet.sha256:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=facet.sha256
        )
    if facet.agencyCode:
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=f"agency:{facet.agencyCode}", type="AGENCY")]
        )
    feed_file = InputDataset(
        namespace=FILE_NAMESPACE,
        name=str(Path(str(report["path"])).absolute()),
        facets=facets,
        inputFacets={
            "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=facet.rowsReceived, size=facet.sizeBytes, fileCount=1
            )
        },
    )
    return [feed_file], [
        _output(table, rows, url) for table, rows in _raw_tables_written(facet).items()
    ]


def _raw_tables_written(facet: FeedFileDatasetFacet) -> dict[str, int | None]:
    """The raw tables an ingest wrote rows to, with the rows it wrote (None: not counted)."""
    if facet.outcome == "duplicate":  # the same bytes were received before: nothing was written
        return {}
    if facet.fileId is None:  # nothing of the file was received: its refusal is on record
        return {"refused_files": 1}
    written: dict[str, int | None] = {"feed_files": 1, "feed_file_chunks": None}
    if facet.feedKind in FEED_TABLES:
        written[FEED_TABLES[facet.feedKind]] = facet.rowsLoaded
    if facet.rowsRejected:
        written["rejected_rows"] = facet.rowsRejected
    return written


def _output(table: str, rows: int | None, url: str) -> OutputDataset:
    namespace, name = table_dataset(RAW_SCHEMA, table, url)
    statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)
    return OutputDataset(
        namespace=namespace,
        name=name,
        outputFacets={"outputStatistics": statistics} if rows is not None else {},
    )


@_emitter("the feed file's lineage")
def emit_feed_file(_task_instance: Any, report: Mapping[str, Any]) -> None:
    """The ingest task's lineage: its feed file in, the raw tables it wrote out."""
    from airflow.providers.openlineage.api import emit_dataset_lineage

    inputs, outputs = feed_file_datasets(report, database.tracker_url())
    emit_dataset_lineage(inputs=list(inputs), outputs=list(outputs))


# -- the dbt build ----------------------------------------------------------------------------


@_emitter("the dbt build's lineage")
def emit_dbt_build(
    task_instance: Any, target_dir: Path, url: str, schemas: Mapping[str, tuple[str, str]]
) -> None:
    """One job per dbt model (and per tested model) of the build whose artifacts are in
    `target_dir`, each a child of the Airflow task that ran it.

    `schemas` maps each schema the build wrote to (the published name, the candidate's own
    name): a candidate is built under fixed schema names (transform.build) that are neither.
    Sources read from a build schema are raw tables (the build's frozen copy of
    `raw.file_states`)."""
    from airflow.providers.openlineage.api import emit

    for event in dbt_build_events(target_dir, url, schemas, _parent_of(task_instance)):
        emit(event)


def dbt_build_events(
    target_dir: Path, url: str, schemas: Mapping[str, tuple[str, str]], parent: Any | None = None
) -> list[RunEvent]:
    """The OpenLineage events of a dbt build from its artifacts, datasets named as published."""
    from airflow.providers.openlineage.conf import namespace as job_namespace
    from airflow.providers.openlineage.plugins.adapter import _PRODUCER
    from openlineage.common.provider.dbt.local import (  # type: ignore[import-untyped]
        DbtLocalArtifactProcessor,
    )

    server = database.server_namespace(url)

    class TrackerDbtProcessor(DbtLocalArtifactProcessor):
        """dbt's artifacts as OpenLineage events, the server named as the tracker names it (the
        profile holds only environment variables)."""

        def extract_namespace(self, profile: dict) -> str:  # noqa: ARG002
            return server

    processor = TrackerDbtProcessor(
        producer=_PRODUCER,
        job_namespace=job_namespace(),
        project_dir=str(settings().dbt_project_dir),
        target_path=str(target_dir),
        skip_errors=True,
        logger=LOG,
    )
    if parent is not None:
        processor.dbt_run_metadata = parent
    events = processor.parse().events()
    database_name = database.split_url(url).dbname
    published = {built: names[0] for built, names in schemas.items()}
    names = _published_names(processor.manifest, published)
    for event in events:
        _rename(event, names, {built: names[1] for built, names in schemas.items()})
        event.job.name = _published_job_name(event.job.name, database_name, published)
    return events


def _published_names(manifest: Mapping[str, Any], published: Mapping[str, str]) -> dict[str, str]:
    """`database.schema.table` as built -> as published, for every relation in a build schema."""
    names = {}
    for node in [*manifest.get("nodes", {}).values(), *manifest.get("sources", {}).values()]:
        schema = node.get("schema")
        if schema not in published:
            continue
        source = node.get("resource_type") == "source"
        table = node["name"] if source else node.get("alias")
        schema_read = RAW_SCHEMA if source else published[schema]
        names[f"{node['database']}.{schema}.{table}"] = f"{node['database']}.{schema_read}.{table}"
    return names


def _published_job_name(job: str, database_name: str, published: Mapping[str, str]) -> str:
    """dbt-ol's job name (`database.schema.<node>.build.run|test`) with the published schema (a
    source's: raw)."""
    for built in sorted(published, key=len, reverse=True):
        prefix = f"{database_name}.{built}."
        if job.startswith(prefix):
            node = job[len(prefix) :]
            schema = RAW_SCHEMA if node.startswith("source.") else published[built]
            return f"{database_name}.{schema}.{node}"
    return job


def _rename(event: RunEvent, names: Mapping[str, str], own: Mapping[str, str]) -> None:
    """Give the event's datasets (their column lineage too) their published names; an output
    written to a candidate names it in `resolution71_candidate`."""
    for dataset in event.inputs or []:
        _rename_dataset(dataset, names)
    for output in event.outputs or []:
        built_schema = output.name.split(".")[1]
        _rename_dataset(output, names)
        if built_schema in own:
            output.facets = (output.facets or {}) | {
                "resolution71_candidate": CandidateDatasetFacet(candidateSchema=own[built_schema])
            }


def _rename_dataset(dataset: Any, names: Mapping[str, str]) -> None:
    dataset.name = names.get(dataset.name, dataset.name)
    lineage = (dataset.facets or {}).get("columnLineage")
    for field in getattr(lineage, "fields", {}).values():
        for source in field.inputFields:
            source.name = names.get(source.name, source.name)


def _parent_of(task_instance: Any) -> Any:
    """The running Airflow task as the parent of child runs, its DAG run as their root."""
    from airflow.providers.openlineage.plugins import macros
    from openlineage.common.provider.dbt.facets import (  # type: ignore[import-untyped]
        ParentRunMetadata,
    )

    return ParentRunMetadata(
        run_id=macros.lineage_run_id(task_instance),
        job_name=macros.lineage_job_name(task_instance),
        job_namespace=macros.lineage_job_namespace(),
        root_parent_run_id=macros.lineage_root_run_id(task_instance),
        root_parent_job_name=macros.lineage_root_job_name(task_instance),
        root_parent_job_namespace=macros.lineage_root_job_namespace(task_instance),
    )


# -- publication ------------------------------------------------------------------------------


def publication_datasets(candidate: str, url: str) -> list[OutputDataset]:
    """Every relation of the published marts, overwritten by the candidate `candidate`."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'marts' order by table_name"
            )
        ]
    overwritten = lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
        lifecycleStateChange=lifecycle_state_change_dataset.LifecycleStateChange.OVERWRITE
    )
    outputs = []
    for table in tables:
        namespace, name = table_dataset("marts", table, url)
        facets = {
            "lifecycleStateChange": overwritten,
            "resolution71_candidate": CandidateDatasetFacet(candidateSchema=candidate),
        }
        outputs.append(OutputDataset(namespace=namespace, name=name, facets=facets))
    return outputs


@_emitter("the publication's lineage")
def emit_publication(_task_instance: Any, candidate: str) -> None:
    """The publish task's lineage: every published mart, overwritten by the candidate the gate
    passed, so a catalogue shows when what people read last changed."""
    from airflow.providers.openlineage.api import emit_dataset_lineage

    emit_dataset_lineage(outputs=list(publication_datasets(candidate, database.tracker_url())))


# -- the quality gate -------------------------------------------------------------------------


def gate_datasets(results: Iterable[Mapping[str, Any]], url: str) -> list[InputDataset]:
    """Each relation the gate judged, with one assertion per expectation on it.

    `results`: the gate run's rows (`GateResult.results`): relation `schema.table`, word,
    severity, expectation type and arguments (the bar), column, success, observed value,
    unexpected count, notes in English and Vietnamese. A blocking word's expectation is an
    `error` assertion, a warning word's a `warn` one."""
    by_relation: dict[str, list[data_quality_assertions_dataset.Assertion]] = {}
    for row in results:
        bar = {key: value for key, value in (row.get("kwargs") or {}).items() if key != "column"}
        by_relation.setdefault(row["relation"], []).append(
            data_quality_assertions_dataset.Assertion(
                assertion=row["expectation_type"],
                success=bool(row["success"]),
                column=row.get("column"),
                severity="error" if row["severity"] == "blocking" else "warn",
                name=f"{row['word']}: {row['expectation_type']}",
                description=row.get("notes"),
                expected=_json(bar) if bar else None,
                actual=None if row.get("observed_value") is None else _json(row["observed_value"]),
                params={
                    "word": row["word"],
                    "suite": row["suite_name"],
                    "unexpectedCount": row.get("unexpected_count"),
                    "descriptionVi": row.get("notes_vi"),
                },
            )
        )
    datasets = []
    for relation, assertions in sorted(by_relation.items()):
        schema, table = relation.split(".", 1)
        namespace, name = table_dataset(schema, table, url)
        facet = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=assertions
        )
        datasets.append(
            InputDataset(
                namespace=namespace, name=name, inputFacets={"dataQualityAssertions": facet}
            )
        )
    return datasets


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@_emitter("the quality gate's lineage")
def emit_gate(_task_instance: Any, result: Any) -> None:
    """The gate task's lineage: every relation it judged, with its assertions; the gate run (id,
    verdict, held agencies) as a run facet, so an auditor finds it in the tracker's audit."""
    from airflow.providers.openlineage.api import emit_dataset_lineage

    gate_run = GateRunFacet(
        gateRunId=result.run_id,
        success=result.success,
        blockingFailures=len(result.failures),
        warnings=len(result.warnings),
        heldAgencies=list(result.held_agencies),
        candidateSchema=result.candidate,
    )
    emit_dataset_lineage(
        inputs=list(gate_datasets(result.results, database.tracker_url())),
        additional_run_facets={"resolution71_gateRun": gate_run},
    )
