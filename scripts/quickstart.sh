#!/usr/bin/env bash
# Quick start: install, build, prepare the demo target on the local PostgreSQL, and run Stint on its embedded
# default (SQLite in ./data, one process, the demo policy). Demo API tokens are printed on first start.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stint needs Node 22 or later. Where the machine's node is older or missing, a pinned Node 26 from the npm
# registry is unpacked into .tools/ (ignored by git) and used for everything below.
QUICKSTART_NODE=26.12.1
# shellcheck source=node-runtime.sh
. scripts/node-runtime.sh
if [ "$(node_major)" -lt 22 ]; then
  echo "node $(node -v 2>/dev/null || echo missing) is older than 22: using Node $QUICKSTART_NODE in .tools/" >&2
  bin=$(node_runtime "$QUICKSTART_NODE" .tools)
  export PATH="$bin:$PATH"
  export npm_config_nodedir
  npm_config_nodedir=$(node_headers "$QUICKSTART_NODE" .tools)
  echo "  (to use the stint CLI from another shell: export PATH=\"$bin:\$PWD/bin:\$PATH\")" >&2
fi

npm ci --no-audit --no-fund
npm run build
if command -v psql >/dev/null 2>&1; then
  psql "${STINT_DEMO_SUPERUSER_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -v ON_ERROR_STOP=1 -q \
    -f scripts/demo-target.sql \
    || echo "warning: could not prepare the demo target; requests will fail at issuance until it exists" >&2
fi
exec node --max-old-space-size=128 dist/cli/main.js server --demo "$@"
