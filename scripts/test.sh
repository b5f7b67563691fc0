#!/usr/bin/env bash
# Runs every test from a fresh clone: installs what the tests need, then the whole suite.
#
#   ./scripts/test.sh                 every test, on Node 26 (or the machine's node when it is 22.3 or later)
#   ./scripts/test.sh --full          lint, type-check and build first (CI's main leg)
#   ./scripts/test.sh test/audit      only those files (any vitest arguments)
#   STINT_NODE=22.23.5 ./scripts/test.sh   on that pinned Node line
#
# What it sets up, each only where missing:
# - Debian packages: the PostgreSQL 15 server binaries (the credential tests start their own scram-sha-256 cluster
#   with initdb + pg_ctl), OpenLDAP (slapd + ldap-utils, for the directory tests), MariaDB, Redis and OpenSSH
#   servers (the target kinds' tests start their own with real authentication), openssl (the Kubernetes double's
#   test CA), chromium (the portal's end-to-end tests), asciinema (reads recordings back), the build tools node-gyp needs to compile better-sqlite3
#   offline.
# - A supported Node (22+), with npm_config_nodedir set to that node's own headers (scripts/node-runtime.sh).
# - node_modules from package-lock.json, reinstalled when it was built for another Node ABI.
# The services the tests talk to (PostgreSQL on 127.0.0.1:5432) are the machine's own.
set -euo pipefail
cd "$(dirname "$0")/.."

PINNED_NODE=26.12.1
TOOLS=${STINT_TOOLS:-$PWD/.tools}
FULL=0
if [ "${1:-}" = "--full" ]; then
  FULL=1
  shift
fi

need_apt=()
{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null 2>&1; } ||
  need_apt+=(postgresql postgresql-client)
{ [ -x /usr/sbin/slapd ] && command -v ldapadd >/dev/null 2>&1; } || need_apt+=(slapd ldap-utils)
[ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
{ [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null 2>&1; } || need_apt+=(mariadb-server)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
{ command -v make >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; } ||
  need_apt+=(build-essential python3)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# asciinema reads back the SSH proxy's recordings (`asciinema cat`), the format check beside our own parser.
command -v asciinema >/dev/null 2>&1 || need_apt+=(asciinema)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# shellcheck source=node-runtime.sh
. scripts/node-runtime.sh
use_supported_node "$PINNED_NODE" "$TOOLS"
echo "node $(node -v) ($(command -v node)), headers $npm_config_nodedir" >&2
# An engines mismatch (ours or a dependency's) is an error here, not a warning to scroll past.
export npm_config_engine_strict=true
node_modules_current || install_node_modules

if [ "$FULL" = 1 ]; then
  npm run lint
  npm run typecheck
  npm run build
fi
if [ $# -eq 0 ]; then
  # The whole suite: the portal's browser tests run on their own after the rest. Beside the heavier files (each
  # starting real servers) a headless browser missed its 15 s waits; alone they pass, and run in well under a minute.
  npx vitest run --exclude 'test/portal/**'
  exec npx vitest run test/portal
fi
exec npx vitest run "$@"
