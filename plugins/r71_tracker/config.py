"""Settings, read from the environment each time they are needed (never at DAG parse time).

Every setting has a default that works from a fresh clone; README lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Where things live and the limits the pipeline applies."""

    project_root: Path
    local_dir: Path
    landing_dir: Path
    published_dir: Path
    database_url: str | None
    max_feed_bytes: int
    freshness_max_age_days: int
    registry_dir: Path  # TRACKER_SEEDS_DIR: the registry ingest validates against

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_root / "dbt_project"

    @property
    def seeds_dir(self) -> Path:
        return self.registry_dir

    @property
    def embedded_pgdata(self) -> Path:
        return self.local_dir / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.local_dir / "airflow"

    @property
    def gx_dir(self) -> Path:
        return self.local_dir / "gx"

    @property
    def dbt_target_dir(self) -> Path:
        return self.local_dir / "dbt_target"


def settings() -> Settings:
    """Read the settings from the environment now."""
    root = _path("TRACKER_PROJECT_ROOT", PROJECT_ROOT)
    return Settings(
        project_root=root,
        local_dir=_path("TRACKER_LOCAL_DIR", root / ".local"),
        landing_dir=_path("TRACKER_LANDING_DIR", root / "data" / "landing"),
        published_dir=_path("TRACKER_PUBLISHED_DIR", root / "data" / "published"),
        database_url=os.environ.get("TRACKER_DATABASE_URL") or None,
        max_feed_bytes=int(os.environ.get("TRACKER_MAX_FEED_BYTES", 200 * 1024 * 1024)),
        freshness_max_age_days=int(os.environ.get("TRACKER_FRESHNESS_MAX_AGE_DAYS", 14)),
        registry_dir=_path("TRACKER_SEEDS_DIR", root / "dbt_project" / "seeds"),
    )
