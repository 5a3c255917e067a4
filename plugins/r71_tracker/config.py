"""Settings, read from the environment each time they are needed (never at DAG parse time).

Every setting has a default that works from a fresh clone; README lists them all. A numeric or
enumerated setting is parsed only when a command uses it, so a wrong value fails that command with
one line naming the variable and the value (ConfigError), and leaves every other command working.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAX_FEED_BYTES = 200 * 1024 * 1024
DEFAULT_FRESHNESS_MAX_AGE_DAYS = 14
DEFAULT_ALERT_SMTP_PORT = 25
LARGE_CSV_PATHS = ("arrow", "sql")


class ConfigError(ValueError):
    """A setting's value is unusable; the message is the whole story (variable, value, rule)."""


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def whole_number(
    name: str,
    default: int,
    *,
    unit: str | None,
    minimum: int,
    maximum: int | None = None,
    text: str | None = None,
) -> int:
    """The whole number set in variable `name` (or `text`, its value read earlier); `default`
    when unset or blank. Anything else than digits within [minimum, maximum] is a ConfigError."""
    value = os.environ.get(name) if text is None else text
    if value is None or not value.strip():
        return default
    number = int(value.strip()) if re.fullmatch(r"[0-9]+", value.strip()) else None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        what = f"a whole number of {unit}" if unit else "a whole number"
        bounds = f"≥ {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ConfigError(f"{name} must be {what} {bounds}, got {value!r}")
    return number


def one_of(name: str, choices: tuple[str, ...]) -> str:
    """The value of variable `name`, one of `choices` (case and spaces ignored); the first choice
    when unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return choices[0]
    if value.strip().lower() not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value.strip().lower()


def large_csv_path() -> str:
    """TRACKER_LARGE_CSV_PATH: how a large CSV is judged first, `arrow` (default) or `sql`."""
    return one_of("TRACKER_LARGE_CSV_PATH", LARGE_CSV_PATHS)


def set_based_min_bytes(default: int) -> int:
    """TRACKER_SET_BASED_MIN_BYTES: files at least this large are "large" (0 = every CSV)."""
    return whole_number("TRACKER_SET_BASED_MIN_BYTES", default, unit="bytes", minimum=0)


def alert_smtp_port() -> int:
    """TRACKER_ALERT_SMTP_PORT: the SMTP relay's port (default 25)."""
    return whole_number(
        "TRACKER_ALERT_SMTP_PORT",
        DEFAULT_ALERT_SMTP_PORT,
        unit=None,
        minimum=1,
        maximum=65535,
    )


@dataclass(frozen=True)
class Settings:
    """Where things live and the limits the pipeline applies.

    The limits are kept as the text found in the environment and parsed when read (the
    properties below), so only the commands that use a limit fail when it is invalid.
    """

    project_root: Path
    local_dir: Path
    landing_dir: Path
    published_dir: Path
    database_url: str | None
    registry_dir: Path  # TRACKER_SEEDS_DIR: the registry ingest validates against
    dags_dir: Path  # TRACKER_DAGS_DIR: the DAG folder Airflow's services parse (default dags/)
    max_feed_bytes_text: str | None = None  # TRACKER_MAX_FEED_BYTES as set
    freshness_max_age_days_text: str | None = None  # TRACKER_FRESHNESS_MAX_AGE_DAYS as set

    @property
    def max_feed_bytes(self) -> int:
        return whole_number(
            "TRACKER_MAX_FEED_BYTES",
            DEFAULT_MAX_FEED_BYTES,
            unit="bytes",
            minimum=1,
            text=self.max_feed_bytes_text or "",
        )

    @property
    def freshness_max_age_days(self) -> int:
        return whole_number(
            "TRACKER_FRESHNESS_MAX_AGE_DAYS",
            DEFAULT_FRESHNESS_MAX_AGE_DAYS,
            unit="days",
            minimum=1,
            text=self.freshness_max_age_days_text or "",
        )

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

    @property
    def lineage_dir(self) -> Path:
        """Where OpenLineage events are written when no OPENLINEAGE_URL is set (one JSON file
        per event)."""
        return self.local_dir / "lineage"


def settings() -> Settings:
    """Read the settings from the environment now (the limits are checked when used)."""
    root = _path("TRACKER_PROJECT_ROOT", PROJECT_ROOT)
    return Settings(
        project_root=root,
        local_dir=_path("TRACKER_LOCAL_DIR", root / ".local"),
        landing_dir=_path("TRACKER_LANDING_DIR", root / "data" / "landing"),
        published_dir=_path("TRACKER_PUBLISHED_DIR", root / "data" / "published"),
        database_url=os.environ.get("TRACKER_DATABASE_URL") or None,
        registry_dir=_path("TRACKER_SEEDS_DIR", root / "dbt_project" / "seeds"),
        dags_dir=_path("TRACKER_DAGS_DIR", root / "dags"),
        max_feed_bytes_text=os.environ.get("TRACKER_MAX_FEED_BYTES"),
        freshness_max_age_days_text=os.environ.get("TRACKER_FRESHNESS_MAX_AGE_DAYS"),
    )
