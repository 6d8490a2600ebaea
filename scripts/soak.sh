#!/usr/bin/env bash
# npm run soak [-- SECONDS]: the chaos soak, for minutes, in every world ferry
# runs in. Callers and streams keep a pool busy while workers crash at random,
# calls time out and are cancelled, and the pool is shut down under load and
# made again; each run checks that every call and stream ended exactly once
# with a kind its scenario allows, that no value was lost or doubled, and
# that memory came back (LeakSanitizer in the ASan builds, the heap's own
# count everywhere), and prints one summary line.
#
#   native g++ (release), clang++ (release), g++ ASan+UBSan, g++ TSan,
#   clang++ ASan+UBSan: tests/workers_soak_test.cpp, one build tree each
#   wasm (Node):        the same test built with Emscripten
#   JavaScript pools:   tests/soak/js-soak.mjs in Node (JS workers), headless
#                       Chromium and Firefox ESR (web/test-pages/soak.js)
#
# SECONDS (default 120, or FERRY_SOAK_SECONDS) is the length of each run.
# `npm test` runs the same soak for a few seconds inside every suite.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-${FERRY_SOAK_SECONDS:-120}}
export FERRY_SOAK_SECONDS=$seconds
LOG_DIR=build/logs
mkdir -p "$LOG_DIR"
bash scripts/ensure-deps.sh || { echo "soak.sh: scripts/ensure-deps.sh failed"; exit 1; }

results=()
failed=0

# soak NAME COMMAND...: runs one soak, keeps its log, records its summary line.
soak() {
  local name=$1 log=$LOG_DIR/soak-$1.log
  shift
  printf '\n==> [%s] %s (%s s)\n' "$name" "$*" "$seconds"
  "$@" >"$log" 2>&1
  local rc=$?
  local line
  # The native soak prints "soak: ...", the JavaScript one "js soak (WORLD): ...".
  line=$(grep -E '^soak: |^js soak \(' "$log" | head -n 1)
  if ((rc == 0)) && [[ -n $line ]]; then
    results+=("  $name: ${line#*: }")
  else
    results+=("  $name: FAILED (exit $rc; see $log)")
    grep -E 'Failure|FAILED|ERROR|WARNING: ThreadSanitizer|runtime error' "$log" | head -n 20
    failed=$((failed + 1))
  fi
  [[ -n $line ]] && echo "$line"
}

# build PRESET TARGET: configures and builds one target of a preset.
build() {
  cmake --preset "$1" >/dev/null && cmake --build --preset "$1" --target "$2"
}

for preset in release clang asan tsan clang-asan; do
  if ! build "$preset" workers_soak_test >"$LOG_DIR/soak-build-$preset.log" 2>&1; then
    results+=("  $preset: FAILED to build (see $LOG_DIR/soak-build-$preset.log)")
    failed=$((failed + 1))
    continue
  fi
  case $preset in
    *asan) soak "$preset" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "build/$preset/tests/workers_soak_test" ;;
    tsan) soak "$preset" env TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "build/$preset/tests/workers_soak_test" ;;
    *) soak "$preset" "build/$preset/tests/workers_soak_test" ;;
  esac
done

# The Emscripten build of the same test comes with the release preset's
# wasm sub-build (all of it).
if cmake --build --preset release >"$LOG_DIR/soak-build-wasm.log" 2>&1; then
  soak wasm node --no-experimental-fetch build/release/wasm/tests/workers_soak_test.js
else
  results+=("  wasm: FAILED to build (see $LOG_DIR/soak-build-wasm.log)")
  failed=$((failed + 1))
fi

# JavaScript pools (JS workers) in Node, Chromium and Firefox: one world each.
if node web/build.mjs >"$LOG_DIR/soak-build-web.log" 2>&1; then
  for world in node chromium firefox; do
    soak "js-$world" node tests/soak/js-soak.mjs --seconds "$seconds" --only "$world"
  done
else
  results+=("  js: FAILED to build the web package (see $LOG_DIR/soak-build-web.log)")
  failed=$((failed + 1))
fi

printf '\n==> Soak summary (%s s each)\n' "$seconds"
printf '%s\n' "${results[@]}"
total=${#results[@]}
echo "$((total - failed)) passed, $failed failed"
((failed == 0))
