"""DAG integrity: every DAG file imports cleanly, fast, and declares what STYLE.md requires."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import get_type_hints

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_one_dag_per_file_named_after_it(dagbag, path):
    dag_ids = [dag_id for dag_id, dag in dagbag.dags.items() if Path(dag.fileloc) == path]
    assert dag_ids == [path.stem]


def test_dag_files_parse_well_under_a_second(dagbag):
    # Airflow itself is already imported here, as in the dag-processor: this is the file's own cost.
    slow = {s.file: s.duration for s in dagbag.dagbag_stats if s.duration > timedelta(seconds=0.5)}
    assert slow == {}


def test_tracker_dag_declares_schedule_owner_retries_tags_and_docs(dagbag):
    dag = dagbag.dags["resolution71_tracker"]
    assert dag.schedule == "@daily" or str(dag.timetable.summary) == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.start_date.tzinfo is not None
    assert {"resolution71", "quality-gate"} <= set(dag.tags)
    assert dag.doc_md and "Inputs" in dag.doc_md and "Outputs" in dag.doc_md
    for task in dag.tasks:
        assert task.owner == "data-platform", task.task_id
        assert task.retries >= 2, task.task_id


def test_tracker_dag_wires_ingest_build_gate_publish(dagbag):
    dag = dagbag.dags["resolution71_tracker"]
    assert set(dag.task_ids) == {
        "find_new_feed_files",
        "ingest_feed_file",
        "build_models",
        "quality_gate",
        "publish",
        "alert_late_feeds",
    }
    ingest = dag.get_task("ingest_feed_file")
    assert ingest.is_mapped, "one mapped task per feed file"
    # the build waits for find itself too: a cleared run may expand the ingest from its last try
    assert dag.get_task("build_models").upstream_task_ids == {
        "find_new_feed_files",
        "ingest_feed_file",
    }
    assert dag.get_task("build_models").trigger_rule == "none_failed"
    assert dag.get_task("quality_gate").upstream_task_ids == {"build_models"}
    assert dag.get_task("publish").upstream_task_ids == {"quality_gate"}
    assert dag.get_task("publish").trigger_rule == "all_success"
    # late feeds are alerted whether or not the gate passes: beside it, after the build
    assert dag.get_task("alert_late_feeds").upstream_task_ids == {"build_models"}
    assert dag.get_task("alert_late_feeds").downstream_task_ids == set()
    # each result goes downstream whole, one XCom: no task pushes its keys one by one
    assert [task.task_id for task in dag.tasks if task.multiple_outputs] == []


def test_tracker_dag_alerts_through_airflow_notifiers(dagbag):
    from airflow.sdk import BaseNotifier

    from r71_tracker.alerts import BlockingSuiteNotifier, DagRunFailedNotifier

    def kinds(callbacks) -> list[type]:
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert all(isinstance(callback, BaseNotifier) for callback in callbacks)
        return [type(callback) for callback in callbacks]

    dag = dagbag.dags["resolution71_tracker"]
    assert kinds(dag.on_failure_callback) == [DagRunFailedNotifier]
    for task in dag.tasks:  # the failing task knows the exception: it raises the run's alert
        expected = [DagRunFailedNotifier]
        if task.task_id == "quality_gate":
            expected = [BlockingSuiteNotifier, DagRunFailedNotifier]
        assert kinds(task.on_failure_callback) == expected, task.task_id


def _returns_a_mapping(function) -> bool | None:
    """Whether the declared return type is a dict (any Mapping), by Airflow's own rule for
    inferring multiple_outputs; None when the function declares no return type."""
    if "return" not in function.__annotations__:
        return None

    def declared(): ...

    declared.__annotations__ = {"return": function.__annotations__["return"]}
    returned = get_type_hints(declared, function.__globals__)["return"]
    origin = getattr(returned, "__origin__", returned)
    return isinstance(origin, type) and issubclass(origin, Mapping)


_NOT_WRITTEN = object()


def _multiple_outputs_written(function) -> object:
    """The value of `multiple_outputs=` written in the function's @task(...) decorator, else a
    sentinel (bare @task, or the keyword left out)."""
    definition = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    for decorator in definition.decorator_list:
        for keyword in decorator.keywords if isinstance(decorator, ast.Call) else []:
            if keyword.arg == "multiple_outputs":
                return ast.literal_eval(keyword.value)
    return _NOT_WRITTEN


def test_tasks_returning_a_dict_set_multiple_outputs_explicitly(dagbag):
    """`-> dict` silently makes Airflow push every key as an XCom of its own (multiple_outputs
    inferred True); a task returning a dict says which it means, and every task declares its
    return type so this check sees the dicts."""
    from airflow.sdk.bases.decorator import DecoratedMappedOperator, DecoratedOperator

    problems = []
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if not isinstance(task, DecoratedOperator | DecoratedMappedOperator):
                continue
            function = task.python_callable
            returns_a_mapping = _returns_a_mapping(function)
            written = _multiple_outputs_written(function)
            if returns_a_mapping is None:
                problems.append(f"{dag.dag_id}.{task.task_id}: no return type declared")
            elif returns_a_mapping and written is _NOT_WRITTEN:
                problems.append(f"{dag.dag_id}.{task.task_id}: returns a dict, no multiple_outputs")
            elif written is not _NOT_WRITTEN and written != task.multiple_outputs:
                problems.append(f"{dag.dag_id}.{task.task_id}: multiple_outputs not applied")
    assert problems == []


def test_dag_files_only_wire_tasks():
    heavy = ("great_expectations", "dbt", "pandas", "psycopg", "sqlalchemy")
    for path in DAG_FILES:
        text = path.read_text("utf-8")
        top_level_imports = [
            line for line in text.splitlines() if line.startswith(("import ", "from "))
        ]
        assert not [line for line in top_level_imports if any(h in line for h in heavy)], path
        assert "select " not in text.lower(), f"{path.name}: SQL belongs in dbt or the package"


def test_tracker_dag_declares_its_assets_and_links_tasks_to_their_quality_page(dagbag):
    """The Assets view shows the feeds in and the published marts out; the gate and publish
    tasks link to their run's quality page; the DAG's docs link the overview."""
    from r71_tracker.web.links import QualityRunLink

    dag = dagbag.dags["resolution71_tracker"]
    marts = sorted(p.stem for p in (DAGS_DIR.parent / "dbt_project/models/marts").rglob("*.sql"))
    inlets = dag.get_task("find_new_feed_files").inlets
    outlets = dag.get_task("publish").outlets
    assert [asset.name for asset in inlets] == ["resolution71.feed_files"]
    assert inlets[0].uri.startswith("file:///")
    assert sorted(asset.name for asset in outlets) == [f"marts.{name}" for name in marts]
    for task_id in ("quality_gate", "publish"):
        links = dag.get_task(task_id).operator_extra_links
        assert [type(link) for link in links] == [QualityRunLink], task_id

    class Key:
        run_id = "scheduled__2025-12-15T00:00:00+00:00"

    link = QualityRunLink().get_link(None, ti_key=Key())
    assert link == "/tracker/quality-runs/scheduled__2025-12-15T00%3A00%3A00%2B00%3A00"
    assert "(/tracker/)" in dag.doc_md
