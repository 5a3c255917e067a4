"""The tracker inside Airflow 3: its pages in Airflow's navigation and links from its tasks.

Airflow's API server mounts the pages' FastAPI app (r71_tracker.web.app) under /tracker; every
route first runs Airflow's own `requires_access_dag` check (may the caller read the runs of the
tracker DAG?) through Airflow's auth manager, so plugin routes are never open to an anonymous
request. The `quality_gate` and `publish` tasks carry a link to their run's quality page
(r71_tracker.web.links, pushed by the task when it ends). This file only wires; the logic lives
in the r71_tracker package.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.plugins_manager import AirflowPlugin

from r71_tracker.airflow_env import DAG_ID
from r71_tracker.web.app import PREFIX, create_app
from r71_tracker.web.links import QualityRunLink

_CATEGORY = "Resolution 71"


class TrackerPlugin(AirflowPlugin):
    name = "resolution71_tracker"
    fastapi_apps = [
        {
            "app": create_app(
                access=requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID)
            ),
            "url_prefix": PREFIX,
            "name": "Resolution 71 tracker",
        }
    ]
    external_views = [
        {
            "name": name,
            "href": f"{PREFIX}{path}",
            "url_route": route,
            "destination": "nav",
            "category": _CATEGORY,
        }
        for name, path, route in (
            ("Overview / Tổng quan", "/", "r71-overview"),
            ("Quality runs / Kiểm tra chất lượng", "/quality-runs", "r71-quality-runs"),
            ("dbt docs (lineage)", "/dbt-docs/", "r71-dbt-docs"),
        )
    ]
    operator_extra_links = [QualityRunLink()]
