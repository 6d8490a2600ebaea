#!/usr/bin/env bash
# npm start: installs what is missing, builds everything (native and
# WebAssembly release builds, the wasm module of the JavaScript pool, the
# TypeScript package), then serves the demo at http://127.0.0.1:8080 with the
# cross-origin isolation headers until Ctrl-C.
#   npm start -- --port N         serve on another port
#   npm start -- --headless [S]   instead of serving, run the demo for S seconds
#                                 (default 10) in headless Chromium and print its numbers
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Checking dependencies (scripts/ensure-deps.sh)"
bash scripts/ensure-deps.sh

step "Configuring and building the release preset (native g++ + Emscripten sub-build, 2 jobs)"
cmake --preset release
cmake --build --preset release

step "Building the TypeScript package (node web/build.mjs)"
node web/build.mjs

if [[ ${1:-} == --headless ]]; then
  shift
  step "Running the demo headless in Chromium"
  exec node scripts/demo-headless.mjs "$@"
fi
step "Serving the demo (Ctrl-C stops it)"
exec node web/server.mjs "$@"
