#!/usr/bin/env bash
# Quick start: install, build, prepare the demo target on the local PostgreSQL, and run Stint on its embedded
# default (SQLite in ./data, one process, the demo policy). Demo API tokens are printed on first start.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stint needs Node 22 or later. Where the machine's node is older or missing, a pinned Node 26 from the npm
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
exec node --max-old-space-size=128 dist/cli/main.js server --demo "$@"
