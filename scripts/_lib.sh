# Shared helpers for scripts/<service>.sh. Sourced, not run.
# shellcheck shell=bash

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${SIMUSAGE_STATE_DIR:-$REPO_DIR/.run}"
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"   # absolute: daemons must not depend on our cwd

log() { printf '[%s] %s\n' "${SERVICE:-services}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${SERVICE:-services}" "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp: no nc needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when process $1 is alive. A killed process lingers as a zombie until init reaps
# it: that one counts as dead.
proc_alive() { kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }
# True when the pid recorded in file $1 is alive.
pid_alive() { local pid; pid="$(cat "$1" 2>/dev/null)" && [[ -n $pid ]] && proc_alive "$pid"; }

# wait_until SECONDS PIDFILE DESCRIPTION CMD...: poll CMD every 0.5s until it succeeds.
# Fails fast if the process in PIDFILE ("-": none) died, and on timeout; either way with
# the log tail, so a broken start explains itself instead of hanging.
wait_until() {
  local timeout=$1 pidfile=$2 what=$3; shift 3
  local deadline=$((SECONDS + timeout)) why=""
  until "$@" >/dev/null 2>&1; do
    if [[ $pidfile != - ]] && ! pid_alive "$pidfile"; then why="process exited"
    elif ((SECONDS >= deadline)); then why="not ready after ${timeout}s"; fi
    if [[ -n $why ]]; then
      echo "----- last 40 lines of $LOG -----" >&2
      tail -n 40 "$LOG" >&2 2>/dev/null || true
      die "$what: $why (log: $LOG)"
    fi
    sleep 0.5
  done
}

# stop_pid PIDFILE SECONDS: SIGTERM so the service shuts down cleanly, SIGKILL only
# if it has not exited within SECONDS. Only ever signals the pid we recorded.
stop_pid() {
  local pidfile=$1 timeout=$2 pid
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while proc_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "pid $pid still alive after ${timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$pidfile"
}

usage() { echo "usage: $0 start|stop|restart|status" >&2; exit 2; }
