"""Airflow's scheduler, dag-processor and api-server, started on demand for one Airflow home.

With CeleryExecutor (`TRACKER_CELERY_BROKER_URL` set, airflow_env.py) the services also include
the triggerer and the Celery workers `worker1` ... `worker<N>` (`airflow celery worker
--celery-hostname worker<N>@<host>`), started, fingerprinted, reused and stopped like the others.

`tracker run` needs a scheduler (LocalExecutor), a dag-processor (it serialises the DAG) and an
api-server (the REST API, the UI and the Execution API the tasks report to). Like the embedded
PostgreSQL they start when first needed and keep running for the next run:

- each is a background process in a session and process group of its own
  (`start_new_session`), its pid in `<airflow home>/services/<name>.pid`, its output in
  `<airflow home>/services/<name>.log`;
- `services.json` beside them records each one's pid and start time, the API port and a
  fingerprint of the settings and code they were started with (hashes, no secrets); a later
  `tracker run` with the same settings reuses them, one with other settings (another database,
  landing folder, port...) or changed code restarts them when no DAG run is active and otherwise
  stops with one line;
- every process of theirs, task processes included (the Task SDK gives those process groups of
  their own, in the same session), keeps its service's session id, so `stop_services` finds and
  ends all of them and leaves nothing behind;
- they create no scheduled runs (`[scheduler] use_job_schedule` off): only the runs `tracker run`
  triggers. `make airflow` (`airflow standalone`) keeps the real daily schedule; while it runs for
  this home, `tracker run` uses it instead of starting services (`standalone.json`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import httpx
import psycopg

from r71_tracker import database
from r71_tracker.airflow_env import (
    WORKER_HOSTNAME_VARIABLE,
    airflow_command,
    airflow_environment,
    celery_concurrency,
    celery_workers,
)
from r71_tracker.config import Settings, settings

SERVICES = ("scheduler", "dag-processor", "api-server")  # with LocalExecutor
CELERY_EXECUTOR = "CeleryExecutor"
START_TIMEOUT_S = 240.0
# The settings a service was started with, hashed: a change means the services must restart.
_NOT_FINGERPRINTED = {"TRACKER_DEBUG", "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"}


class ServicesError(RuntimeError):
    """The Airflow services could not be started or reached (one line: why and what to do)."""


Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Services:
    """Running Airflow services of one home, and how to reach their API."""

    home: Path
    port: int
    kind: str  # "on-demand" or "standalone"
    started: list[str] = field(default_factory=list)  # services started by this call

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def log_dir(self) -> Path:
        return services_dir(self.home)


def is_celery(env: dict[str, str]) -> bool:
    return env.get("AIRFLOW__CORE__EXECUTOR") == CELERY_EXECUTOR


def service_commands(env: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    """{service: (`airflow` arguments, environment additions)} of the services `env` needs."""
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        name: ([name], {}) for name in SERVICES
    }
    if not is_celery(env):
        return commands
    commands["triggerer"] = (["triggerer"], {})
    host = socket.gethostname()
    for number in range(1, celery_workers() + 1):
        hostname = f"worker{number}@{host}"
        args = ["celery", "worker", "--celery-hostname", hostname]
        args += ["--concurrency", str(celery_concurrency())]
        # One log server per machine is enough (every worker writes to the same log folder),
        # and a second one could not bind the same port.
        args += ["--skip-serve-logs"] if number > 1 else []
        extra = {
            WORKER_HOSTNAME_VARIABLE: hostname,
            # Task instances report the worker's Celery hostname, not only the machine's.
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "r71_tracker.airflow_env.worker_hostname",
        }
        commands[f"worker{number}"] = (args, extra)
    return commands


# --- migration ------------------------------------------------------------------------------


def _schema_version(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        exists = database.scalar(conn, "select to_regclass('public.alembic_version')")
        if exists is None:
            return None
        row = conn.execute("select version_num from alembic_version").fetchone()
        return row[0] if row else None


def prepare_airflow(config: Settings | None = None) -> bool:
    """Migrate Airflow's metadata database unless already done; True when it ran.

    `airflow db migrate` costs about 5 s even when there is nothing to do, so a stamp records the
    schema revision this Airflow version left; it only counts while the database still has it.
    """
    config = config or settings()
    env = airflow_environment(config)
    stamp = config.airflow_home / "migrated"
    revision = _schema_version(database.airflow_url(config))
    expected = f"{metadata.version('apache-airflow')} {revision}"
    if revision is not None and stamp.exists() and stamp.read_text().strip() == expected:
        return False
    config.airflow_home.mkdir(parents=True, exist_ok=True)
    done = airflow_command(["db", "migrate"], env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stderr[-2000:]}")
    version = _schema_version(database.airflow_url(config))
    stamp.write_text(f"{metadata.version('apache-airflow')} {version}\n")
    return True


# --- processes ------------------------------------------------------------------------------


def services_dir(home: Path) -> Path:
    return home / "services"


@contextlib.contextmanager
def home_lock(home: Path, name: str) -> Iterator[None]:
    """An exclusive lock on `<home>/services/<name>.lock` (processes of this machine take turns)."""
    folder = services_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Proc(NamedTuple):
    ppid: int
    sid: int  # session id: a service's whole tree keeps the one its leader created
    start: int  # start time in clock ticks since boot: with the pid, a process's identity


def _proc(pid: int) -> _Proc | None:
    """The live (not zombie) process `pid`, from /proc (environ and cmdline do not identify
    Airflow's processes: they rename themselves over that memory)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return _Proc(ppid=int(fields[1]), sid=int(fields[3]), start=int(fields[19]))


def _table() -> dict[int, _Proc]:
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (proc := _proc(int(entry.name))) is not None:
            table[int(entry.name)] = proc
    return table


def _recorded(home: Path) -> dict[str, list[int]]:
    """[pid, start] of each on-demand service as started (services.json)."""
    pids = _read_json(services_dir(home) / "services.json").get("pids", {})
    return {name: ids for name, ids in pids.items() if isinstance(ids, list) and len(ids) == 2}


def _is(pid: int | None, start: int | None, table: dict[int, _Proc] | None = None) -> bool:
    """Process `pid` still runs and is the one that started at `start` (not a reused pid)."""
    if not pid:
        return False
    proc = table.get(pid) if table is not None else _proc(pid)
    return proc is not None and proc.start == start


def members(home: Path, table: dict[int, _Proc] | None = None) -> dict[int, int]:
    """Every live process of this home's services, {pid: start}: the sessions of the on-demand
    services (task processes included: the Task SDK gives them process groups of their own, in
    the same session) and the tree of `airflow standalone`."""
    table = table if table is not None else _table()
    sessions = set()
    for pid, start in _recorded(home).values():
        leader = table.get(pid)
        if leader is None or leader.start == start:  # a leader's pid reused: not that session
            sessions.add(pid)
    found = {pid: proc.start for pid, proc in table.items() if proc.sid in sessions}
    standalone = _read_json(services_dir(home) / "standalone.json")
    if _is(standalone.get("pid"), standalone.get("start"), table):
        found[standalone["pid"]] = standalone["start"]
    found.update(_descendants(found, table))
    found.pop(os.getpid(), None)
    return found


def _descendants(roots: dict[int, int], table: dict[int, _Proc]) -> dict[int, int]:
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, todo = {}, list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and child not in roots:
                found[child] = table[child].start
                todo.append(child)
    return found


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def base_environment(config: Settings) -> dict[str, str]:
    """Airflow's environment for this home (what `airflow standalone` gets too)."""
    return airflow_environment(config)


def _service_environment(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    # Only the runs `tracker run` triggers: no scheduled run of "today" when it unpauses the DAG.
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    # The UI and API of on-demand services answer on this machine only unless told otherwise.
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    return env


def fingerprint(env: dict[str, str]) -> dict[str, str]:
    """Hashes of the settings that shape what the services do (secrets never stored in clear)."""
    keys = [
        key
        for key in env
        if (key.startswith(("TRACKER_", "AIRFLOW__")) or key in ("AIRFLOW_HOME", "PYTHONPATH"))
        and key not in _NOT_FINGERPRINTED
    ]
    return {key: hashlib.sha256(env[key].encode()).hexdigest()[:16] for key in sorted(keys)}


def code_version(config: Settings) -> str:
    """A hash of the DAG files' and plugins' Python sources (path, size, mtime): on-demand
    services started before the code changed restart, so tasks never run code they imported
    earlier and the api-server serves the current plugins."""
    digest = hashlib.sha256()
    for folder in (config.dags_dir, config.project_root / "plugins"):
        for path in sorted(folder.rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _changed(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(
        key for key in recorded.keys() | current.keys() if recorded.get(key) != current.get(key)
    )


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host if host not in ("", "localhost") else "127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _health(port: int) -> dict:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5, trust_env=False
        )
    except httpx.HTTPError:
        return {}
    return response.json() if response.status_code == 200 else {}


def _healthy(health: dict, triggerer: bool = False) -> bool:
    parts = ("metadatabase", "scheduler", "dag_processor") + (("triggerer",) if triggerer else ())
    return all((health.get(part) or {}).get("status") == "healthy" for part in parts)


def _log_tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


# --- start, reuse, stop ---------------------------------------------------------------------


def _standalone(config: Settings) -> dict:
    state = _read_json(services_dir(config.airflow_home) / "standalone.json")
    return state if _is(state.get("pid"), state.get("start")) else {}


def record_standalone(config: Settings, env: dict[str, str]) -> None:
    """Called by `tracker airflow-standalone` before it becomes `airflow standalone` (same pid)."""
    folder = services_dir(config.airflow_home)
    folder.mkdir(parents=True, exist_ok=True)
    me = _proc(os.getpid())
    if me is None:  # no readable /proc: no process of the services could be told apart either
        raise ServicesError(f"cannot read /proc/{os.getpid()}/stat: Airflow's services untracked")
    state = {
        "pid": os.getpid(),
        "start": me.start,
        "port": int(env["AIRFLOW__API__PORT"]),
        "fingerprint": fingerprint(env),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / "standalone.json").write_text(json.dumps(state, indent=1) + "\n", "utf-8")


def running_services(config: Settings) -> dict[str, list[int]]:
    """{service: [pid, start]} of the on-demand services of this home that run (the Celery
    workers and triggerer included when they were started)."""
    recorded = _recorded(config.airflow_home)
    return {name: ids for name, ids in recorded.items() if _is(ids[0], ids[1])}


def _active_runs(port: int, home: Path) -> list[str]:
    """Run ids of DAG runs queued or running on the services answering on `port` (best effort)."""
    from r71_tracker.airflow_api import AirflowApi

    try:
        with AirflowApi(f"http://127.0.0.1:{port}", home) as api:
            runs = api.get(
                "/api/v2/dags/~/dagRuns", params={"state": ["queued", "running"], "limit": 100}
            )["dag_runs"]
    except Exception:  # the services cannot answer: they cannot be running anything either
        return []
    return [f"{run['dag_id']}/{run['dag_run_id']}" for run in runs]


def _start(
    name: str, config: Settings, env: dict[str, str], command: tuple[list[str], dict[str, str]]
) -> list[int]:
    folder = services_dir(config.airflow_home)
    airflow = Path(sys.executable).with_name("airflow")
    log_path = folder / f"{name}.log"
    args, extra = command
    with log_path.open("a", encoding="utf-8") as log:
        log.write(
            f"\n=== {datetime.now(UTC).isoformat(timespec='seconds')} airflow {' '.join(args)}\n"
        )
        log.flush()
        process = subprocess.Popen(
            [str(airflow), *args],
            env={**env, **extra},
            cwd=config.project_root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a session and process group of its own
        )
    (folder / f"{name}.pid").write_text(f"{process.pid}\n")
    proc = _proc(process.pid)
    return [process.pid, proc.start if proc else 0]


def _wait_until_healthy(
    config: Settings, port: int, pids: dict[str, list[int]], timeout: float
) -> None:
    folder = services_dir(config.airflow_home)
    deadline = time.monotonic() + timeout
    while True:
        for name, ids in pids.items():
            if not _is(ids[0], ids[1]):
                tail = _log_tail(folder / f"{name}.log", 3)
                raise ServicesError(
                    f"airflow {name} exited while starting (log {folder / f'{name}.log'}): {tail}"
                )
        if _healthy(_health(port), "triggerer" in pids):
            return
        if time.monotonic() > deadline:
            raise ServicesError(
                f"the Airflow services did not report healthy within {timeout:.0f} s"
                f" (logs in {folder}); `tracker airflow stop`, then try again"
            )
        time.sleep(1)


def ensure_services(config: Settings | None = None, echo: Echo | None = None) -> Services:
    """The running Airflow services of this home, started (migrating first) if needed."""
    config = config or settings()
    echo = echo or _quiet
    home = config.airflow_home
    with home_lock(home, "services"):
        prepare_airflow(config)
        base = base_environment(config)
        env = _service_environment(base)
        current = fingerprint(base)  # as `record_standalone` computes it
        code = code_version(config)
        port = int(env["AIRFLOW__API__PORT"])
        commands = service_commands(env)

        standalone = _standalone(config)
        if standalone:
            changed = _changed(standalone.get("fingerprint", {}), current)
            if changed:
                raise ServicesError(
                    f"`make airflow` (airflow standalone, pid {standalone['pid']}) runs for {home}"
                    f" with other settings ({', '.join(changed)}): use its settings or stop it"
                )
            if not _healthy(_health(standalone["port"])):
                raise ServicesError(
                    f"`make airflow` (airflow standalone, pid {standalone['pid']}) runs for {home}"
                    " but is not healthy yet: wait for it, or stop it"
                )
            return Services(home, standalone["port"], "standalone")

        state_path = services_dir(home) / "services.json"
        state = _read_json(state_path)
        running = running_services(config)
        if running:
            changed = _changed(state.get("fingerprint", {}), current)
            changed += ["code"] if state.get("code") != code else []
            if changed:
                active = _active_runs(state.get("port", port), home)
                if active:
                    raise ServicesError(
                        f"the Airflow services of {home} started with other settings or code"
                        f" ({', '.join(changed)}) and DAG run(s) {', '.join(active)} are active:"
                        " wait for them, or `tracker airflow stop` (ends them), then run again"
                    )
                echo(
                    f"Airflow services: {', '.join(changed)} changed since they started: restarting"
                )
                stop_services(config)
                running = {}
            elif set(running) == set(commands) and _healthy(_health(port), "triggerer" in commands):
                return Services(home, port, "on-demand")

        missing = [name for name in commands if name not in running]
        if "api-server" in missing and not _port_free(env["AIRFLOW__API__HOST"], port):
            raise ServicesError(
                f"port {port} is taken (`make airflow`, or Airflow services of another checkout?):"
                " stop that, or set AIRFLOW__API__PORT to a free port"
            )
        started = time.monotonic()
        for name in missing:
            running[name] = _start(name, config, env, commands[name])
        state = {
            "port": port,
            "fingerprint": current,
            "code": code,
            "pids": running,
            "started_at": state.get("started_at") if not missing else _now(),
        }
        state_path.write_text(json.dumps(state, indent=1) + "\n", "utf-8")
        if missing:
            echo(
                f"Airflow services: starting {', '.join(missing)} for {home}"
                f" (logs and pids in {services_dir(home)}) ..."
            )
        _wait_until_healthy(config, port, running, START_TIMEOUT_S)
        if missing:
            echo(f"Airflow services: up in {time.monotonic() - started:.0f} s")
        return Services(home, port, "on-demand", missing)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_for_end(home: Path, tracked: dict[int, int], grace: float) -> None:
    """Until no process of the home is left: a second SIGTERM after 5 s (the scheduler may need
    it), SIGKILL after `grace` s. Processes seen once stay tracked, even when orphaned."""
    deadline = time.monotonic() + grace
    second = time.monotonic() + 5
    while tracked:
        time.sleep(0.2)
        table = _table()
        tracked = {pid: start for pid, start in tracked.items() if _is(pid, start, table)}
        tracked.update(members(home, table))
        tracked.update(_descendants(tracked, table))
        if second and time.monotonic() > second:
            second = 0.0
            for pid in tracked:
                _signal(pid, signal.SIGTERM)
        if tracked and time.monotonic() > deadline:
            for pid in tracked:
                _signal(pid, signal.SIGKILL)


def stop_services(config: Settings | None = None, *, grace: float = 20.0) -> list[str]:
    """Stop every Airflow service process of this home, their task processes included.

    SIGTERM to each on-demand service's process group (SIGINT to `airflow standalone`), then
    SIGTERM again after 5 s to every process of theirs left, SIGKILL after `grace` seconds.
    Returns what was stopped, one entry per service.
    """
    config = config or settings()
    home = config.airflow_home
    tracked = members(home)
    stopped = []
    names = set(SERVICES) | set(_recorded(home))
    for name, (pid, _start_time) in running_services(config).items():
        stopped.append(f"{name} (pid {pid})")
        _signal_group(pid, signal.SIGTERM)
    standalone = _standalone(config)
    if standalone:
        stopped.append(f"airflow standalone (pid {standalone['pid']})")
        _signal(standalone["pid"], signal.SIGINT)
    if tracked and not stopped:
        stopped.append(f"{len(tracked)} leftover process(es)")
        for pid in tracked:
            _signal(pid, signal.SIGTERM)
    _wait_for_end(home, tracked, grace)
    folder = services_dir(home)
    for name in (
        *(f"{service}.pid" for service in sorted(names)),
        "services.json",
        "standalone.json",
    ):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    return stopped


def service_status(config: Settings | None = None) -> dict:
    """What runs for this home: each service's pid (or None), the port, the API's health."""
    config = config or settings()
    home = config.airflow_home
    folder = services_dir(home)
    standalone = _standalone(config)
    state = _read_json(folder / "services.json")
    running = running_services(config)
    port = standalone.get("port") or state.get("port")
    names = list(service_commands(base_environment(config)))
    names += [name for name in running if name not in names]
    return {
        "home": str(home),
        "kind": "standalone" if standalone else "on-demand",
        "standalone_pid": standalone.get("pid"),
        "services": {name: running[name][0] if running.get(name) else None for name in names},
        "port": port,
        "health": _health(port) if port and (running or standalone) else {},
        "logs": str(folder),
        "processes": len(members(home)),
    }
