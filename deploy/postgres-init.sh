#!/usr/bin/env bash
# Creates the broker's vault database and user beside Temporal's (the postgres image runs this once,
# on an empty data directory). The password never becomes SQL text: psql quotes the variable
# (:'broker_password' is a string literal, whatever quotes, backslashes or semicolons it holds).
# test/deploy/postgres-init.test.ts runs this against a real PostgreSQL with such a password.
set -euo pipefail
: "${BROKER_DB_PASSWORD:?set BROKER_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  --set=broker_password="$BROKER_DB_PASSWORD" <<'SQL'
CREATE USER broker WITH PASSWORD :'broker_password';
CREATE DATABASE broker OWNER broker;
SQL
