#!/usr/bin/env bash
# Private PostgreSQL cluster (Debian's `postgresql` package) for dev/test: own data dir,
# own port on 127.0.0.1, never the system cluster. With `standby`: a hot standby of it
# (pg_basebackup, streaming replication) on its own port, for the API's read replica.
#   scripts/postgres.sh start|stop|restart|status [standby]
set -euo pipefail
ROLE="${2:-primary}"
SERVICE=postgres
[[ $ROLE == standby ]] && SERVICE=standby
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

PRIMARY_PORT="${SIMUSAGE_PG_PORT:-55432}"
PORT="$PRIMARY_PORT"
[[ $ROLE == standby ]] && PORT="${SIMUSAGE_STANDBY_PORT:-55434}"
LOG="$STATE_DIR/$SERVICE.log"
URL="postgresql://simusage:simusage@127.0.0.1:$PORT/simusage"

install() {
  if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    log "installing Debian's postgresql package"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

# Postgres refuses to run as root, so it runs as the `postgres` OS user, which must be able
# to reach its data dir. That is $STATE_DIR/postgres unless a parent of the state dir is
# closed to it (e.g. a clone under /root) or the socket path would exceed the 107-byte
# limit; then /tmp/simusage-<hash> instead. We do not chmod anything outside our state dir.
pg_root() {
  local root="$STATE_DIR/$SERVICE"
  if ! runuser -u postgres -- test -x "$STATE_DIR" || ((${#root} > 80)); then
    root="/tmp/simusage-$(echo -n "$STATE_DIR" | sha256sum | cut -c1-12)/$SERVICE"
  fi
  echo "$root"
}

PG_ROOT="" DATA="" SOCK=""
init_paths() {
  PG_ROOT="$(pg_root)"; DATA="$PG_ROOT/data"; SOCK="$PG_ROOT/socket"
}

as_pg() { runuser -u postgres -- "$@"; }
pgctl() { as_pg "$(pg_bin)/pg_ctl" -D "$DATA" "$@"; }
# Running = pg_ctl sees a live postmaster AND it accepts connections (a just-killed
# postmaster can still look alive to pg_ctl for a moment).
postmaster_seen() { [[ -f "$DATA/PG_VERSION" ]] && pgctl status >/dev/null 2>&1; }
ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres; }
running() { postmaster_seen && ready; }
settled() { running || ! postmaster_seen; }
psql_admin() { "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres; }

write_config() {
  # Re-written at every start so changes here (and SIMUSAGE_PG_PORT) take effect.
  cat >"$DATA/simusage.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
# Dev-box sizing (24 GB RAM, 2 cores); durability settings stay at their safe defaults.
shared_buffers = 256MB
max_connections = 200
# A standby answers reads while it replays; the primary keeps WAL for it while it lags.
hot_standby = on
wal_keep_size = 512MB
EOF
  # Where the machine has TimescaleDB for this PostgreSQL, preload it: without it, CREATE
  # EXTENSION fails and `auto` storage mode falls back to plain PostgreSQL.
  local version
  version="$(basename "$(dirname "$(pg_bin)")")"
  if [[ -f /usr/share/postgresql/$version/extension/timescaledb.control ]]; then
    echo "shared_preload_libraries = 'timescaledb'" >>"$DATA/simusage.conf"
    log "TimescaleDB is installed for PostgreSQL $version: preloaded"
  fi
  chown postgres:postgres "$DATA/simusage.conf"
}

start() {
  install
  init_paths
  # A postmaster that pg_ctl sees but that does not answer is starting, stopping or was
  # just killed: give it a moment to settle either way.
  postmaster_seen && wait_until 30 - "PostgreSQL in $DATA (neither up nor down)" settled
  if running; then
    log "already running on 127.0.0.1:$PORT; DATABASE_URL=$URL"; return 0
  fi
  port_open "$PORT" && die "port $PORT is already taken by another process"
  if [[ $ROLE == standby ]] && ! port_open "$PRIMARY_PORT"; then
    die "the primary is not running on 127.0.0.1:$PRIMARY_PORT: scripts/postgres.sh start first"
  fi
  mkdir -p "$PG_ROOT" "$SOCK"
  chown postgres:postgres "$PG_ROOT" "$SOCK"
  if [[ $ROLE == standby && -d "$DATA" ]]; then
    # A stopped standby may have fallen behind the WAL the primary keeps: start from a fresh
    # copy every time (a dev/test replica; a production one uses a replication slot).
    log "discarding the previous standby copy in $DATA"
    rm -rf "$DATA"
  fi
  if [[ ! -f "$DATA/PG_VERSION" && $ROLE == standby ]]; then
    log "pg_basebackup of 127.0.0.1:$PRIMARY_PORT into $DATA"
    # -R: standby.signal and primary_conninfo, so that it streams from the primary.
    as_pg "$(pg_bin)/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$DATA" \
      -R -X stream -c fast >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "pg_basebackup failed"; }
  elif [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb in $DATA"
    # trust auth (socket and 127.0.0.1 only): a local dev/test cluster, never exposed.
    as_pg "$(pg_bin)/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth=trust \
      >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "initdb failed"; }
    echo "include 'simusage.conf'" >>"$DATA/postgresql.conf"
  fi
  write_config
  log "starting on 127.0.0.1:$PORT (data: $DATA, log: $LOG)"
  # No `-l`: the log file is opened by this (root) shell, so it may live where the
  # postgres user cannot write. `-w`: return only once the server accepts connections.
  pgctl -w -t 60 start >>"$LOG" 2>&1 </dev/null || {
    tail -n 40 "$LOG" >&2; die "server did not start (log: $LOG)"; }
  wait_until 30 - "PostgreSQL on 127.0.0.1:$PORT" ready
  if [[ $ROLE == standby ]]; then
    log "ready: a hot standby of 127.0.0.1:$PRIMARY_PORT; SIMUSAGE_READ_DATABASE_URL=$URL"
    return 0
  fi
  psql_admin <<'SQL'
SELECT 'CREATE ROLE simusage LOGIN SUPERUSER PASSWORD ''simusage'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'simusage') \gexec
SELECT format('CREATE DATABASE %I OWNER simusage', d)
  FROM unnest(ARRAY['simusage', 'simusage_test']) AS d
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
SQL
  log "ready: DATABASE_URL=$URL (test database: simusage_test)"
}

stop() {
  init_paths
  if ! postmaster_seen; then log "not running"; return 0; fi
  # fast: roll back open sessions and shut down cleanly (a checkpoint, no crash recovery).
  pgctl -w -t 60 -m fast stop >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "stop failed"; }
  log "stopped"
}

status() {
  init_paths
  if running; then
    log "running on 127.0.0.1:$PORT (data: $DATA); DATABASE_URL=$URL"
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
