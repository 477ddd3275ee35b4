#!/bin/sh
# Installs the bench-only peer (PostGraphile 5 on Node 22, both from npm) into bench/peer/node_modules
# with `npm ci`, only when node_modules is missing or older than package-lock.json. Never a runtime
# dependency of simusage. Needs npm (any Node will do for the install itself).
set -eu
cd "$(dirname "$0")"
stamp=node_modules/.package-lock.json  # written by npm ci / npm install
if [ -x node_modules/.bin/node ] && [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ] \
   && [ ! package.json -nt "$stamp" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "bench/peer/install.sh: npm is needed" >&2; exit 1; }
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error  # no package has install scripts
touch "$stamp"
