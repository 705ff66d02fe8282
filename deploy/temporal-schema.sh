#!/bin/sh
# Temporal's schema on PostgreSQL, run by the temporal-schema service (temporalio/admin-tools) before
# the server starts: create the two databases if missing, then set up or update both schemas to the
# version this admin-tools image carries. Idempotent: every `docker compose up` runs it.
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u "$POSTGRES_USER" "$@"; }
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  dir="$schema/temporal/versioned"
  [ "$db" = temporal_visibility ] && dir="$schema/visibility/versioned"
  tool --db "$db" create || true   # "already exists" is fine
  tool --db "$db" setup-schema -v 0.0 || true   # only on an empty database
  tool --db "$db" update-schema -d "$dir"
done
echo "temporal schema ready"
