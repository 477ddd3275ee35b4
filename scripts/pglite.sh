#!/usr/bin/env bash
# Test-only TimescaleDB: in-memory PGlite (WASM PostgreSQL 17 + TimescaleDB 2.23) served
# on 127.0.0.1 by scripts/pglite/server.mjs. Debian has no TimescaleDB package and
# no other download is possible here; this one comes from npm.
#   scripts/pglite.sh start|stop|restart|status
# Every start is an empty database (with the timescaledb extension created): `restart`
# is the way to get a fresh one. ONE client connection at a time; others wait their turn.
set -euo pipefail
SERVICE=pglite
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

PORT="${SIMUSAGE_PGLITE_PORT:-55433}"
APP="$REPO_DIR/scripts/pglite"
PIDFILE="$STATE_DIR/pglite.pid"
LOG="$STATE_DIR/pglite.log"
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

install() {
  command -v node >/dev/null || { apt-get update && apt-get install -y nodejs npm; }
  # Reinstall only when the lock file changed since the last install.
  local stamp="$APP/node_modules/.simusage-lock.sha256" want
  want="$(sha256sum "$APP/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "installing npm packages into $APP/node_modules"
    (cd "$APP" && npm ci --no-audit --no-fund) >>"$LOG" 2>&1 \
      || { tail -n 30 "$LOG" >&2; die "npm ci failed"; }
    echo "$want" >"$stamp"
  fi
}

start() {
  if pid_alive "$PIDFILE"; then
    [[ "$(cat "$PIDFILE.port" 2>/dev/null)" == "$PORT" ]] ||
      die "running (pid $(cat "$PIDFILE")) on another port than $PORT: stop it first"
    log "already running (pid $(cat "$PIDFILE")); DATABASE_URL=$URL"; return 0
  fi
  port_open "$PORT" && die "port $PORT is already taken by another process"
  install
  log "starting on 127.0.0.1:$PORT (log: $LOG)"
  # setsid: own session, so the server outlives the calling shell/terminal.
  SIMUSAGE_PGLITE_PORT="$PORT" setsid nohup node "$APP/server.mjs" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  echo "$PORT" >"$PIDFILE.port"
  # The server listens only once PGlite has booted and created the extension.
  wait_until 60 "$PIDFILE" "PGlite on 127.0.0.1:$PORT" port_open "$PORT"
  log "ready: DATABASE_URL=$URL (fresh in-memory database, TimescaleDB created)"
}

stop() {
  if ! pid_alive "$PIDFILE"; then log "not running"; rm -f "$PIDFILE"; return 0; fi
  rm -f "$PIDFILE.port"
  stop_pid "$PIDFILE" 10
  log "stopped"
}

status() {
  if pid_alive "$PIDFILE" && port_open "$PORT"; then
    log "running (pid $(cat "$PIDFILE")); DATABASE_URL=$URL"
  else
    log "not running"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  *) usage ;;
esac
