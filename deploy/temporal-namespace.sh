#!/bin/sh
# The namespace the broker uses (TEMPORAL_NAMESPACE, default "default"), created once the server is
# healthy; run by the temporal-namespace service (temporalio/admin-tools). The broker registers its
# own search attributes when it starts.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
i=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 60 ] || { echo "temporal at $TEMPORAL_ADDRESS is not healthy" >&2; exit 1; }
  sleep 2
done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$ns" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$ns" --retention "${TEMPORAL_RETENTION:-30d}"
echo "namespace $ns ready"
