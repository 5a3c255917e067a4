#!/bin/bash
# Runs once, when the postgres service initialises an empty data volume (docker-entrypoint-initdb.d):
# the tracker's warehouse as its own database `tracker`, owned by its own login `tracker`, beside
# Airflow's metadata database `airflow`. CREATEROLE lets the tracker's migrations (run by the
# airflow-init service: `tracker db start`) create the six least-privilege roles of sql/roles.sql.
# The password comes from the environment and reaches psql through \getenv, never a command line.
set -euo pipefail
: "${TRACKER_DB_PASSWORD:?TRACKER_DB_PASSWORD is empty: set it in .env (see .env.example)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv tracker_password TRACKER_DB_PASSWORD
create role tracker login createrole password :'tracker_password';
create database tracker owner tracker;
SQL
