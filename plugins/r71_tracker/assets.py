"""The DAG's Airflow Assets: what a run consumes (the landing folder's feed files) and what it
produces (the published marts), so Airflow's Assets view shows the tracker's inputs and outputs.

Names are the tables' own (`marts.stage_summary`); URIs follow Airflow's (and OpenLineage's)
postgres://host:port/database/schema/table form for the tracker database, so the same table is the
same asset wherever it is named. The marts are the dbt project's public models, one per SQL file
under dbt_project/models/marts/.
"""

from __future__ import annotations

from airflow.sdk import Asset

from r71_tracker import database
from r71_tracker.config import settings

# The tracker database when none is configured yet: the embedded server's defaults.
_DEFAULT_DATABASE = "postgres://localhost:5432/tracker"


def _database_uri() -> str:
    url = settings().database_url
    if not url:
        return _DEFAULT_DATABASE
    return f"{database.server_namespace(url)}/{database.split_url(url).dbname}"


def feed_files() -> Asset:
    """The landing folder, where agencies' feed files arrive."""
    folder = settings().landing_dir.resolve()
    return Asset(name="resolution71.feed_files", uri=f"file://{folder}", group="feeds")


def published_marts() -> list[Asset]:
    """Every public mart the publish step swaps in."""
    marts = sorted((settings().project_root / "dbt_project" / "models" / "marts").rglob("*.sql"))
    base = _database_uri()
    return [
        Asset(name=f"marts.{path.stem}", uri=f"{base}/marts/{path.stem}", group="marts")
        for path in marts
    ]
