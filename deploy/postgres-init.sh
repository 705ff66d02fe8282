#!/usr/bin/env bash
# Creates the broker's vault database beside Temporal's (run once by the postgres image).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE USER broker WITH PASSWORD '${BROKER_DB_PASSWORD}';
CREATE DATABASE broker OWNER broker;
SQL
