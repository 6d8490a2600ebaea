#!/usr/bin/env bash
# npm run bench: every benchmark, side by side with its baselines, and the report.
#
#   npm run bench                  installs what is missing, builds the release preset
#                                  (native g++ and Emscripten) and the web package, runs
#                                  ring_bench, runtime_bench, channel_bench and call_bench
#                                  natively and under Node (wasm), call_bench once more with
#                                  one core kept busy (`yes`), the browser benchmarks in headless
#                                  Chromium and headless Firefox ESR (each engine with its
#                                  own baselines), then bench/report.mjs: bench/results/<date>.json,
#                                  .html, .png and the results table in README.md
#   npm run bench -- --smoke       (or FERRY_BENCH_SMOKE=1) the same on tiny sizes, to check
#                                  that every harness runs: results and report go to
#                                  build/bench-smoke/ (README.md untouched: a copy there is
#                                  rewritten instead). Never judges speed.
#   npm run bench -- ARGS          ARGS (e.g. --reps 3, --target-ms 100, --quick) go to
#                                  every benchmark run
#
# FERRY_BENCH_NO_BUILD=1 skips dependencies and building (a caller that just built).
# Exits non-zero, naming each one, if any benchmark or the report failed; the other
# benchmarks still run and the report still lists what did.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

smoke=${FERRY_BENCH_SMOKE:-0}
args=()
for a in "$@"; do
  if [[ $a == --smoke ]]; then smoke=1; else args+=("$a"); fi
done
[[ $smoke == 1 ]] && args+=(--quick --reps 1)

step() { printf '\n==> %s\n' "$*"; }
die() { echo "bench.sh: FAILED: $*" >&2; exit 1; }

if [[ ${FERRY_BENCH_NO_BUILD:-0} != 1 ]]; then
  step "Checking dependencies (scripts/ensure-deps.sh)"
  bash scripts/ensure-deps.sh || die "scripts/ensure-deps.sh"
  step "Configuring the release preset (native g++ + Emscripten sub-build)"
  cmake --preset release >/dev/null || die "cmake --preset release"
  step "Building (cmake --build --preset release, 2 jobs)"
  cmake --build --preset release || die "cmake --build --preset release"
  step "Building the web package (node web/build.mjs)"
  node web/build.mjs || die "node web/build.mjs"
fi

if [[ $smoke == 1 ]]; then
  out=build/bench-smoke
else
  out=build/bench
fi
mkdir -p "$out"
rm -f "$out"/*.json

failed=()
run() {  # run NAME JSON COMMAND...: one benchmark, its JSON into $out
  local name=$1 json=$2
  shift 2
  step "$name: $*"
  "$@" --json "$json"
  local status=$?
  if ((status != 0)); then
    echo "bench.sh: $name FAILED (status $status)" >&2
    failed+=("$name")
  elif [[ ! -s $json ]]; then
    echo "bench.sh: $name wrote no results to $json" >&2
    failed+=("$name")
  fi
}

native=build/release/bench
wasm=build/release/wasm/bench
node_version=$(node --version)
for b in ring runtime channel call; do
  for f in "$native/${b}_bench" "$wasm/${b}_bench.js"; do
    [[ -f $f ]] || die "$f was not built (its target ${b}_bench is in bench/CMakeLists.txt; run cmake --build --preset release)"
  done
  run "native ${b}_bench" "$out/native-${b}.json" "$native/${b}_bench" "${args[@]}"
  run "wasm ${b}_bench (Node $node_version)" "$out/wasm-${b}.json" \
    node --no-experimental-fetch "$wasm/${b}_bench.js" "${args[@]}"
done
# The call benchmark again while another process keeps one core busy: the
# report shows how much each contender's p99 grows under load.
busy() {
  yes >/dev/null &
  local hog=$!
  run "$@"
  kill "$hog" 2>/dev/null
  wait "$hog" 2>/dev/null
}
busy "native call_bench, one core busy" "$out/native-call-loaded.json" "$native/call_bench" --loaded "${args[@]}"
busy "wasm call_bench (Node $node_version), one core busy" "$out/wasm-call-loaded.json" \
  node --no-experimental-fetch "$wasm/call_bench.js" --loaded "${args[@]}"
for engine in chromium firefox; do
  run "browser benchmarks (headless $engine)" "$out/browser-$engine.json" \
    node bench/browser/run.mjs --browser "$engine" "${args[@]}"
done

step "Report (bench/report.mjs)"
if [[ $smoke == 1 ]]; then
  cp README.md "$out/README.md"
  report=(node bench/report.mjs --in "$out" --out "$out/results" --readme "$out/README.md")
else
  report=(node bench/report.mjs --in "$out")
fi
"${report[@]}" || failed+=("report")

if ((${#failed[@]})); then
  printf '\nbench.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
if [[ $smoke == 1 ]]; then
  printf '\nbench.sh: smoke run passed: every benchmark ran on tiny sizes and verified its results (%s)\n' "$out"
fi
