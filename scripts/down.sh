#!/usr/bin/env bash
# `make down`: stop what `make up` started (the API, the worker, Kafka, PostgreSQL). Data stays.
#   scripts/down.sh [--keep-services]   the latter stops only the API and the worker
set -euo pipefail
SERVICE=down
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
RUN_DIR="${SIMUSAGE_RUN_DIR:-$STATE_DIR}"

for name in api ingest; do
  if pid_alive "$RUN_DIR/$name.pid"; then
    stop_pid "$RUN_DIR/$name.pid" 30
    log "$name stopped"
  fi
done
[[ ${1:-} == --keep-services ]] || "$REPO_DIR/scripts/services.sh" stop postgres kafka
