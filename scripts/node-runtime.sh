# Sourced by .ci/run and scripts/quickstart.sh, never run on its own.
#
# Stint needs Node 22.3 or later. A machine whose own node is older (or missing) gets a pinned runtime from the
# npm registry: the `node-linux-<arch>` package ships the node binary with its C headers, which node-gyp needs
# to build better-sqlite3 offline when no prebuilt binary downloads, and the `npm` package ships npm with its
# dependencies bundled. Both are unpacked under a tools folder (ignored by git) and reused on the next run.

# npm for a machine that has none (or one older than 10); otherwise the machine's own npm is used, with its
# configuration and whatever the machine patched (this machine kind's npm knows node-gyp's `nodedir` key,
# which a stock npm 11 warns about).
STINT_NPM_VERSION=11.19.1
STINT_REGISTRY=${npm_config_registry:-https://registry.npmjs.org}
STINT_REGISTRY=${STINT_REGISTRY%/}

# The node major of `node` on PATH, or 0 when there is none that runs.
# Whether the node on PATH is one Stint supports: 22.3 or later (process.getBuiltinModule, which the CLI uses).
node_supported() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 3) ? 0 : 1)' 2>/dev/null
}

# _fetch_package <name> <version> <dest>: <dest>/package holds the package, its integrity checked. With npm at
# hand `npm pack` checks it; without (a machine with no node yet), curl fetches the tarball and the registry's
# sha512 is compared by hand.
_fetch_package() {
  local name=$1 version=$2 dest=$3 tmp integrity actual
  [ -f "$dest/package/package.json" ] && return 0
  tmp=$(mktemp -d)
  if command -v npm >/dev/null 2>&1 && npm --version >/dev/null 2>&1; then
    (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
  else
    command -v curl >/dev/null 2>&1 || {
      echo "need npm or curl to fetch $name@$version" >&2
      rm -rf "$tmp"
      return 1
    }
    curl -fsSL "$STINT_REGISTRY/$name/-/$name-$version.tgz" -o "$tmp/$name-$version.tgz"
    integrity=$(curl -fsSL "$STINT_REGISTRY/$name/$version" | grep -o '"integrity": *"sha512-[^"]*"' | head -n 1 |
      sed 's/.*"\(sha512-[^"]*\)"/\1/')
    actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$name-$version.tgz" | base64 | tr -d '\n')"
    if [ -z "$integrity" ] || [ "$integrity" != "$actual" ]; then
      echo "$name@$version: the tarball does not match the registry's integrity ($integrity)" >&2
      rm -rf "$tmp"
      return 1
    fi
  fi
  # Unpacked aside and moved in one step, so an interrupted fetch never leaves a half folder that looks done.
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  tar -xzf "$tmp/$name-$version.tgz" -C "$dest.partial"
  rm -rf "$tmp" "$dest"
  mv "$dest.partial" "$dest"
}

# _npm_cli <tools dir>: the npm-cli.js to run under the runtime.
_npm_cli() {
  local npm_path cli major
  if npm_path=$(command -v npm 2>/dev/null); then
    cli=$(readlink -f "$npm_path")
    case "$cli" in
      *npm-cli.js) ;;
      *) cli="$(dirname "$cli")/../lib/node_modules/npm/bin/npm-cli.js" ;;
    esac
    major=$(npm --version 2>/dev/null | cut -d . -f 1)
    if [ -f "$cli" ] && [ "${major:-0}" -ge 10 ] 2>/dev/null; then
      echo "$cli"
      return
    fi
  fi
  _fetch_package npm "$STINT_NPM_VERSION" "$1/npm-$STINT_NPM_VERSION" >&2
  echo "$1/npm-$STINT_NPM_VERSION/package/bin/npm-cli.js"
}

# node_runtime <node version> <tools dir>: prints a folder holding `node`, `npm` and `npx` of that runtime. Put
# it first on PATH (scripts and `#!/usr/bin/env node` resolve node through PATH) and set npm_config_nodedir to
# "$(node_headers <version> <tools dir>)" so native addons build against this runtime's headers, offline.
node_runtime() {
  local version=$1 tools=$2 arch bin npm_cli
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      echo "no node-linux package for $(uname -m)" >&2
      return 1
      ;;
  esac
  mkdir -p "$tools"
  tools=$(cd "$tools" && pwd)
  _fetch_package "node-linux-$arch" "$version" "$tools/node-$version" >&2
  npm_cli=$(_npm_cli "$tools")
  bin="$tools/bin-$version"
  mkdir -p "$bin"
  ln -sfn "$tools/node-$version/package/bin/node" "$bin/node"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$bin/node" "$npm_cli" >"$bin/npm"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$bin/node" "$(dirname "$npm_cli")/npx-cli.js" >"$bin/npx"
  chmod +x "$bin/npm" "$bin/npx"
  echo "$bin"
}

# node_headers <node version> <tools dir>: the runtime's own folder, which holds include/node.
node_headers() {
  echo "$(cd "$2" && pwd)/node-$1/package"
}

# use_supported_node <pinned version> <tools dir>: makes the node first on PATH a supported one (22.3 or later) and
# points npm_config_nodedir at that same node's headers, so native addons (better-sqlite3) are built for the node
# that will load them. A machine-wide `nodedir` (this machine kind sets one for its own Node 20) would otherwise
# build them against the wrong ABI (NODE_MODULE_VERSION mismatch at the first import). The machine's own node is
# kept when it is 22.3 or later and ships its headers (an official build's prefix holds include/node); otherwise the
# pinned runtime is fetched into the tools folder. STINT_NODE=<version> forces a pinned runtime.
use_supported_node() {
  local version=$1 tools=$2 prefix bin
  if [ -z "${STINT_NODE:-}" ] && node_supported; then
    prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    if [ -f "$prefix/include/node/node.h" ]; then
      export npm_config_nodedir="$prefix"
      return 0
    fi
  fi
  version=${STINT_NODE:-$version}
  bin=$(node_runtime "$version" "$tools")
  export PATH="$bin:$PATH"
  export npm_config_nodedir
  npm_config_nodedir=$(node_headers "$version" "$tools")
  [ "$(node -v)" = "v$version" ] || {
    echo "node on PATH is $(node -v), expected v$version" >&2
    return 1
  }
}

# node_modules_current: true when node_modules was installed from this package-lock.json for the node now on
# PATH (the ABI its native addon was built for); scripts/test.sh and the quick start reinstall otherwise.
node_modules_current() {
  local stamp=node_modules/.stint-install
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(node -p 'process.versions.modules') $(sha256sum package-lock.json | cut -d ' ' -f 1)" ]
}

# install_node_modules: `npm ci` for the node on PATH, then records what it was built for.
install_node_modules() {
  npm ci --no-audit --no-fund
  echo "$(node -p 'process.versions.modules') $(sha256sum package-lock.json | cut -d ' ' -f 1)" >node_modules/.stint-install
}
