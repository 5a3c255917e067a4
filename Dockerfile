# syntax=docker/dockerfile:1
# The tracker's one image: the official Airflow 3.3.2 image (Python 3.11) with the project installed
# at the same pins as `make setup` (requirements.lock: dbt, Great Expectations, the tracker's code).
# Every service of docker-compose.yml and of deploy/helm/values.yaml runs it.
#   docker build --build-arg TRACKER_CODE_VERSION=$(git rev-parse HEAD) -t r71-tracker:latest .
# Not built on the development machines (they have no Docker engine): tests/unit/test_compose.py
# checks its shape only.
FROM apache/airflow:3.3.2-python3.11

# The image has no git: the quality gate records this as the code that judged (gate.code_version).
ARG TRACKER_CODE_VERSION=unknown

# The project at /opt/airflow/project (read by dbt, the gate, the DAG); the tracker's local state
# (GX context, dbt target) and its published output outside it, on volumes. AIRFLOW_HOME stays the
# image's /opt/airflow (logs in /opt/airflow/logs, a volume too).
ENV TRACKER_PROJECT_ROOT=/opt/airflow/project \
    TRACKER_LOCAL_DIR=/opt/airflow/state \
    TRACKER_LANDING_DIR=/opt/airflow/data/landing \
    TRACKER_PUBLISHED_DIR=/opt/airflow/data/published \
    TRACKER_DAGS_DIR=/opt/airflow/project/dags \
    TRACKER_CODE_VERSION=${TRACKER_CODE_VERSION} \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/project/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    PYTHONPATH=/opt/airflow/project \
    DO_NOT_TRACK=1

# Folders the volumes mount on, owned by the airflow user (uid 50000, group 0 as in the official
# image) so a new named volume starts with that ownership.
USER root
RUN mkdir -p /opt/airflow/project /opt/airflow/state /opt/airflow/data/landing \
        /opt/airflow/data/published /opt/airflow/logs \
    && chown -R airflow:0 /opt/airflow/project /opt/airflow/state /opt/airflow/data /opt/airflow/logs \
    && chmod -R g+rwX /opt/airflow/state /opt/airflow/data /opt/airflow/logs

# Dependencies first (a layer that changes only with the lock), as the airflow user, the way the
# official image's docs extend it. requirements.lock pins apache-airflow==3.3.2 itself, so pip
# cannot move Airflow; pip compiles the installed modules to bytecode.
USER airflow
COPY --chown=airflow:0 requirements.lock /opt/airflow/project/requirements.lock
RUN pip install --no-cache-dir -r /opt/airflow/project/requirements.lock

# The project itself, without dependencies (as `make setup`: editable, so the r71_tracker and
# expectations packages are the files under /opt/airflow/project, one copy on sys.path), then the
# DAG, plugin and suite modules compiled to bytecode.
COPY --chown=airflow:0 . /opt/airflow/project
RUN pip install --no-cache-dir --no-deps -e /opt/airflow/project \
    && python -m compileall -q /opt/airflow/project/dags /opt/airflow/project/plugins \
        /opt/airflow/project/expectations \
    && python -c "import expectations, r71_tracker.config, dbt.version, great_expectations"

VOLUME ["/opt/airflow/state", "/opt/airflow/data/landing", "/opt/airflow/data/published", "/opt/airflow/logs"]
WORKDIR /opt/airflow/project
USER airflow
