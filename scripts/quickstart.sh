#!/usr/bin/env bash
# Quick start: install, build, prepare the demo target on the local PostgreSQL, and run Stint on its embedded
# default (SQLite in ./data, one process, the demo policy) with its portal at http://localhost:7070/. Demo API
# tokens are printed on first start.
#
#   scripts/quickstart.sh [--with mariadb,redis] [stint server options]
#
# --with (or env STINT_DEMO_TARGETS) also prepares those demo targets (scripts/demo-targets.sh: the machine's
# MariaDB as its root; a redis-server of the demo's own) and has the demo policy include demo-mariadb and
# demo-redis (examples/demo-targets/). Without it, nothing else changes.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=${STINT_DEMO_TARGETS:-}
data_dir=${STINT_DATA_DIR:-data}
key_dir=${STINT_KEY_DIR:-}
port_arg=
server_args=()
while [ $# -gt 0 ]; do
  case $1 in
  --with)
    targets=${2:?--with needs a list of demo targets: mariadb,redis}
    shift 2
    continue
    ;;
  --with=*)
    targets=${1#--with=}
    shift
    continue
    ;;
  # Passed on to the server, and noted: the demo targets keep their files where the server keeps its own.
  --data-dir) data_dir=${2:-} ;;
  --data-dir=*) data_dir=${1#*=} ;;
  --key-dir) key_dir=${2:-} ;;
  --key-dir=*) key_dir=${1#*=} ;;
  # The demo identity provider's callback names the server's port.
  --port) port_arg=${2:-} ;;
  --port=*) port_arg=${1#*=} ;;
  esac
  server_args+=("$1")
  shift
done

# Stint needs Node 22.3 or later. Where the machine's node is older or missing, a pinned Node 26 from the npm
# registry is unpacked into .tools/ (ignored by git) and used for everything below; native addons are built
# against the headers of the node that runs them (scripts/node-runtime.sh).
QUICKSTART_NODE=26.12.1
# shellcheck source=node-runtime.sh
. scripts/node-runtime.sh
system_node=$(command -v node || true)
use_supported_node "$QUICKSTART_NODE" .tools
if [ "$(command -v node)" != "$system_node" ]; then
  echo "using Node $(node -v) from .tools/ (the machine's node is $("$system_node" -v 2>/dev/null || echo missing))" >&2
  echo "  (to use the stint CLI from another shell: export PATH=\"$(dirname "$(command -v node)"):\$PWD/bin:\$PATH\")" >&2
fi

node_modules_current || install_node_modules
npm run build
if command -v psql >/dev/null 2>&1; then
  psql "${STINT_DEMO_SUPERUSER_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -v ON_ERROR_STOP=1 -q \
    -f scripts/demo-target.sql \
    || echo "warning: could not prepare the demo target; requests will fail at issuance until it exists" >&2
fi
if [ -n "$targets" ]; then
  export STINT_DEMO_TARGETS=$targets
  rc=0
  scripts/demo-targets.sh --data-dir "$data_dir" ${key_dir:+--key-dir "$key_dir"} "$targets" || rc=$?
  [ "$rc" -ne 2 ] || exit 2
  [ "$rc" -eq 0 ] ||
    echo "warning: could not prepare every demo target (above); requests on it fail at issuance until it is" >&2
fi

# The portal signs in at an OpenID provider. Unless STINT_OIDC_ISSUER names a real one, a demo provider
# (scripts/demo-idp.ts: pick a demo user, no password) runs beside the server for as long as it does.
port=${port_arg:-${STINT_PORT:-7070}}
if [ -z "${STINT_OIDC_ISSUER:-}" ]; then
  idp_port=${STINT_DEMO_IDP_PORT:-7071}
  STINT_OIDC_CLIENT_SECRET=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))')
  export STINT_OIDC_CLIENT_SECRET STINT_DEMO_IDP_PORT=$idp_port STINT_DEMO_PORTAL_URL="http://localhost:$port"
  node --import tsx scripts/demo-idp.ts &
  idp_pid=$!
  trap 'kill "$idp_pid" 2>/dev/null || true' EXIT
  node -e '
    const url = `http://127.0.0.1:${process.argv[1]}/.well-known/openid-configuration`;
    const until = Date.now() + 15000;
    (async () => {
      for (;;) {
        try { if ((await fetch(url)).ok) return; } catch {}
        if (Date.now() > until) { console.error("the demo identity provider did not start"); process.exit(1); }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();' "$idp_port"
  # http on this machine only: browsers allow secure cookies and WebAuthn on http://localhost.
  export STINT_OIDC_ISSUER="http://127.0.0.1:$idp_port" STINT_OIDC_ALLOW_INSECURE_ISSUER=1 \
    STINT_OIDC_CLIENT_ID=stint-portal STINT_OIDC_REDIRECT_URI="http://localhost:$port/auth/callback" \
    STINT_WEBAUTHN_ORIGIN="http://localhost:$port"
fi
node dist/cli/main.js server --demo "${server_args[@]}"
