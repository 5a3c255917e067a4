"""How the tracker hands a database to dbt: environment variables only, never argv."""

from __future__ import annotations

import subprocess
import sys

from r71_tracker import transform


def test_dbt_env_splits_the_url_for_profiles_yml() -> None:
    env = transform.dbt_env("postgresql://tracker:s%40cret@db.internal:6543/tracker")
    assert env == {
        "TRACKER_DB_HOST": "db.internal",
        "TRACKER_DB_PORT": "6543",
        "TRACKER_DB_USER": "tracker",
        "TRACKER_DB_PASSWORD": "s@cret",
        "TRACKER_DB_NAME": "tracker",
        "TRACKER_DB_ROLE": "tracker_transformer",  # dbt acts as the transformer (SET ROLE)
        "DO_NOT_TRACK": "1",
    }


def test_dbt_env_reads_the_unix_socket_directory_as_host() -> None:
    env = transform.dbt_env("postgresql://postgres:@/tracker?host=/srv/pgdata")
    assert (env["TRACKER_DB_HOST"], env["TRACKER_DB_PORT"]) == ("/srv/pgdata", "5432")
    assert env["TRACKER_DB_PASSWORD"] == ""


def test_importing_transform_does_not_import_dbt() -> None:
    """DAG files may import the module at parse time: dbt (seconds to import) must stay unloaded."""
    probe = (
        "import sys, r71_tracker.transform; "
        "print(sorted(m for m in sys.modules if m == 'dbt' or m.startswith('dbt.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
