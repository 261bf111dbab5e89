#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the
# version the server expects. The one copy of this step: docker-compose.yml
# (temporal-schema service) and the cluster test suite (cluster/) both run
# this file, with the same tool built from the same go.temporal.io/server
# version.
#
#   SQL_PLUGIN=postgres12 SQL_HOST=... SQL_PORT=... SQL_USER=... SQL_PASSWORD=... \
#   TEMPORAL_SCHEMA_DIR=.../schema/postgresql/v12 deploy/temporal/schema.sh
#
# TEMPORAL_SQL_TOOL names the tool (default temporal-sql-tool, as in the
# temporalio/admin-tools image). Every step is idempotent: a second run
# against the same databases succeeds, and update-schema applies only the
# versions a database lacks, so it also upgrades an older schema.
set -eu
: "${TEMPORAL_SCHEMA_DIR:?set TEMPORAL_SCHEMA_DIR to the server schema/postgresql/v12 directory}"
tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}

for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=${pair#*:}
  "$tool" --db "$db" create
  "$tool" --db "$db" setup-schema -v 0.0
  "$tool" --db "$db" update-schema -d "$TEMPORAL_SCHEMA_DIR/$dir/versioned"
done
echo "schema: temporal and temporal_visibility ready"
