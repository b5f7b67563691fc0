#!/usr/bin/env bash
# Quick start: install, build, prepare the demo target on the local PostgreSQL, and run Stint on its embedded
# default (SQLite in ./data, one process, the demo policy). Demo API tokens are printed on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm run build
if command -v psql >/dev/null 2>&1; then
  psql "${STINT_DEMO_SUPERUSER_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -v ON_ERROR_STOP=1 -q \
    -f scripts/demo-target.sql \
    || echo "warning: could not prepare the demo target; requests will fail at issuance until it exists" >&2
fi
exec node --max-old-space-size=128 dist/cli/main.js server --demo "$@"
