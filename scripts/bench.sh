#!/usr/bin/env bash
# npm run bench: installs what is missing, builds the release preset (native
# and WebAssembly), then runs the ring and runtime benchmarks natively and
# under Node and prints their tables. Extra arguments (npm run bench -- ARGS)
# go to every run.
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
rt_native=build/release/bench/runtime_bench
rt_wasm=build/release/wasm/bench/runtime_bench.js
for f in "$native" "$wasm" "$rt_native" "$rt_wasm"; do
  if [[ ! -f $f ]]; then
    echo "start.sh: $f was not built: its benchmark target (ring_bench or" >&2
    echo "runtime_bench in bench/CMakeLists.txt) does not exist yet, so there is nothing to run." >&2
    exit 1
  fi
done

step "Native ring benchmark: $native"
"$native" "$@"

step "WebAssembly ring benchmark under Node $(node --version): node --no-experimental-fetch $wasm"
node --no-experimental-fetch "$wasm" "$@"

step "Native runtime benchmark (streams, pool calls): $rt_native"
"$rt_native" "$@"

step "WebAssembly runtime benchmark under Node $(node --version): node --no-experimental-fetch $rt_wasm"
node --no-experimental-fetch "$rt_wasm" "$@"
