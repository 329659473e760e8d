#!/usr/bin/env bash
# Build the web widget into build/web: socket.io-client from the npm registry (web/package-lock.json),
# our widget files, and the demo clinic page. Nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "build_web: npm is needed (Debian: apt-get install nodejs npm)" >&2; exit 1
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error)
rm -rf build/web && mkdir -p build/web/static
cp web/node_modules/socket.io-client/dist/socket.io.min.js build/web/static/
cp web/widget/knee-chat.js web/widget/knee-chat.css build/web/static/
cp web/demo/index.html build/web/index.html
echo "build_web: widget and demo page in build/web"
