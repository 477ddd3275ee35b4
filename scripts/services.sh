#!/usr/bin/env bash
# Install-if-missing and start/stop the services the project needs for dev and tests.
#   scripts/services.sh start|stop|restart|status [postgres] [kafka] [pglite]
# With no service named: all three. State and logs: ${SIMUSAGE_STATE_DIR:-<repo>/.run}.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cmd="${1:-}"
case "$cmd" in
  start | stop | restart | status) shift ;;
  *) echo "usage: $0 start|stop|restart|status [postgres] [kafka] [pglite]" >&2; exit 2 ;;
esac
services=("$@")
((${#services[@]})) || services=(postgres kafka pglite)

rc=0
for s in "${services[@]}"; do
  case "$s" in
    postgres | kafka | pglite) ;;
    *) echo "unknown service: $s (postgres, kafka, pglite)" >&2; exit 2 ;;
  esac
  if [[ $cmd == start || $cmd == restart ]]; then
    "$here/$s.sh" "$cmd"          # a service that cannot start stops the run (CI must fail)
  else
    "$here/$s.sh" "$cmd" || rc=1  # stop/status: report on every service, fail if any did
  fi
done
exit "$rc"
