#!/usr/bin/env bash
# npm start: installs what is missing, builds the release preset (native and
# WebAssembly), then runs the ring benchmark natively and under Node and
# prints both tables. Extra arguments (npm start -- ARGS) go to both runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Checking dependencies (scripts/ensure-deps.sh)"
bash scripts/ensure-deps.sh

step "Configuring the release preset (native g++ + Emscripten sub-build)"
cmake --preset release

step "Building (cmake --build --preset release, 2 jobs)"
cmake --build --preset release

native=build/release/bench/ring_bench
wasm=build/release/wasm/bench/ring_bench.js
for f in "$native" "$wasm"; do
  if [[ ! -f $f ]]; then
    echo "start.sh: $f was not built: the ring benchmark (target ring_bench in" >&2
    echo "bench/CMakeLists.txt) does not exist yet, so there is nothing to run." >&2
    exit 1
  fi
done

step "Native ring benchmark: $native"
"$native" "$@"

step "WebAssembly ring benchmark under Node $(node --version): node --no-experimental-fetch $wasm"
node --no-experimental-fetch "$wasm" "$@"
