#!/usr/bin/env bash
# `make up`: the whole service on this machine with the reference demo data, in the background.
# Idempotent: a second run starts only what is down and sends the demo events only once
# (SIMUSAGE_DEMO=again sends another run; SIMUSAGE_DEMO=none sends none).
set -euo pipefail
SERVICE=up
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

VENV="${VENV:-$REPO_DIR/.venv}"
SIMUSAGE="$VENV/bin/simusage"
PYTHON="$VENV/bin/python"
[[ -x $SIMUSAGE ]] || die "no $SIMUSAGE: run 'make up' (it installs the virtualenv first)"
cd "$REPO_DIR"
# Where the worker's and the API's pid and log files go (a test runs its own pair beside yours).
RUN_DIR="${SIMUSAGE_RUN_DIR:-$STATE_DIR}"
mkdir -p "$RUN_DIR"

# A local demo: access control off, and said so loudly (it is never the default).
export SIMUSAGE_AUTH="${SIMUSAGE_AUTH:-off}"
export SIMUSAGE_API_HOST="${SIMUSAGE_API_HOST:-127.0.0.1}" SIMUSAGE_API_PORT="${SIMUSAGE_API_PORT:-8000}"
API="http://$SIMUSAGE_API_HOST:$SIMUSAGE_API_PORT"

"$REPO_DIR/scripts/services.sh" start postgres kafka
"$SIMUSAGE" migrate
"$SIMUSAGE" inventory import data/inventory.json

# start_process NAME ARGS...: run a simusage subcommand in the background unless it runs.
start_process() {
  local name=$1; shift
  local pidfile="$RUN_DIR/$name.pid"
  LOG="$RUN_DIR/$name.log"
  if pid_alive "$pidfile"; then log "$name already running (pid $(cat "$pidfile"))"; return 0; fi
  nohup "$SIMUSAGE" "$@" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$pidfile"
  log "$name started (pid $!, log: $LOG)"
}

start_process ingest ingest
start_process api serve
LOG="$RUN_DIR/api.log"
wait_until 60 "$RUN_DIR/api.pid" "API at $API" \
  "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$API/readyz', timeout=2)"

marker="$RUN_DIR/demo-events-sent"
case "${SIMUSAGE_DEMO:-once}" in
  none) log "no demo events sent (SIMUSAGE_DEMO=none)" ;;
  again) "$SIMUSAGE" produce --reference; touch "$marker" ;;
  *)
    if [[ -e $marker ]]; then log "demo events were sent before (SIMUSAGE_DEMO=again sends more)"
    else "$SIMUSAGE" produce --reference; touch "$marker"; fi ;;
esac

# Wait until the worker has caught up with the topic, so the examples below answer in full.
LOG="$RUN_DIR/ingest.log"
wait_until 120 "$RUN_DIR/ingest.pid" "ingest catching up" "$PYTHON" "$REPO_DIR/scripts/caught_up.py"

cat <<MSG

simusage is up. Access control is OFF for this local demo (SIMUSAGE_AUTH=off).
Dashboard: $API/
GraphiQL:  $API/graphql        metrics: $API/metrics, worker http://127.0.0.1:${SIMUSAGE_INGEST_METRICS_PORT:-9108}/metrics
Stop it:   make down

Daily usage of organization f00ff, 10th to 12th February 2020 (the demo data is from 2020):
  { organization(id: "f00ff") { usage(from: "2020-02-10", to: "2020-02-13", granularity: DAILY) {
      totalBytesUsed edges { node { start bytesUsed eventCount } } } } }

Hourly usage of SIM card 89440006, 10th February 2020 00:00 to 02:00 inclusive:
  { simCard(id: "89440006") { usage(from: "2020-02-10T00:00Z", to: "2020-02-10T03:00Z", granularity: HOURLY) {
      edges { node { start bytesUsed eventCount } } } } }

Try:  curl -s $API/graphql -H 'content-type: application/json' \\
        -d '{"query":"{ organization(id: \\"f00ff\\") { usage(from: \\"2020-02-10\\", to: \\"2020-02-13\\", granularity: DAILY) { totalBytesUsed } } }"}'
MSG
