#!/usr/bin/env bash
# Install-if-missing and start/stop the services the project needs for dev and tests.
#   scripts/services.sh start|stop|restart|status [postgres] [kafka] [pglite] [standby]
# With no service named: the first three (standby: a read replica of postgres, on demand). State and logs: ${SIMUSAGE_STATE_DIR:-<repo>/.run}.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cmd="${1:-}"
case "$cmd" in
  start | stop | restart | status) shift ;;
  *) echo "usage: $0 start|stop|restart|status [postgres] [kafka] [pglite] [standby]" >&2; exit 2 ;;
esac
services=("$@")
((${#services[@]})) || services=(postgres kafka pglite)

rc=0
for s in "${services[@]}"; do
  case "$s" in
    postgres | kafka | pglite) script=("$here/$s.sh") ;;
    standby) script=("$here/postgres.sh") ;;
    *) echo "unknown service: $s (postgres, kafka, pglite, standby)" >&2; exit 2 ;;
  esac
  role=()
  [[ $s == standby ]] && role=(standby)
  if [[ $cmd == start || $cmd == restart ]]; then
    "${script[@]}" "$cmd" "${role[@]}"          # a service that cannot start stops the run
  else
    "${script[@]}" "$cmd" "${role[@]}" || rc=1  # stop/status: report on every one, fail if any did
  fi
done
exit "$rc"
