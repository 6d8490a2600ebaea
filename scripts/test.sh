#!/usr/bin/env bash
# npm test: every suite ferry has, then one summary.
#
#   native            release build (g++ -O2), GoogleTest cases          preset release
#   wasm              the same suites built with Emscripten, under Node  preset release
#   asan              debug build with AddressSanitizer + UBSan          preset asan
#   tsan              ThreadSanitizer build                              preset tsan
#   clang             release build with clang++                         preset clang
#   clang-asan        clang++ debug build with AddressSanitizer + UBSan  preset clang-asan
#   fuzz              each libFuzzer target for FERRY_FUZZ_SECONDS (15)  preset fuzz
#   app               examples/app from the installed package and via   scripts/test-app.sh
#                     add_subdirectory, natively and in wasm; @ferry/web packed
#   web               the TypeScript package's Node tests                node --test
#   browser-chromium  the Playwright suite in Debian's Chromium          playwright --project=chromium
#   browser-firefox   the same specs in Debian's Firefox ESR (BiDi)      playwright --project=firefox
#   bench             every benchmark harness on tiny sizes              scripts/bench.sh --smoke
#
#   npm test -- SUITE...  runs only the suites named (e.g. native web
#   browser-chromium); the release build, which the wasm, app, web, browser
#   and bench suites use, is made whenever any of them is asked for.
#
# Build trees stay under build/<preset> between runs, so a second run only
# rebuilds what changed. Logs of each ctest run go to build/logs/.
# The last line is "N passed, N failed" over all suites; the exit status is
# non-zero when anything failed (a failed configure or build counts as one).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_suites=(native wasm asan tsan clang clang-asan fuzz app web browser-chromium browser-firefox bench)
wanted=" $* "
for name in "$@"; do
  if [[ " ${all_suites[*]} " != *" $name "* ]]; then
    echo "test.sh: no suite named '$name'; the suites are: ${all_suites[*]}" >&2
    exit 2
  fi
done
# want SUITE...: true when no suite was named, or one of these was.
want() {
  [[ $wanted == "  " ]] && return 0
  local name
  for name in "$@"; do [[ $wanted == *" $name "* ]] && return 0; done
  return 1
}

if ! bash scripts/ensure-deps.sh; then
  echo "test.sh: scripts/ensure-deps.sh failed; nothing was built or run" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

FUZZ_SECONDS=${FERRY_FUZZ_SECONDS:-15}
LOG_DIR=build/logs
mkdir -p "$LOG_DIR"

summary=()
failures=()
total_passed=0
total_failed=0
t_all=$SECONDS

note() { printf '\n==> %s\n' "$*"; }

# failed_names SUITE LOG: the names of the failed tests in LOG, so the summary
# at the end (often all a CI page shows) says which tests failed, not only how
# many. ctest lists them after "The following tests FAILED:", Node's TAP
# reporter prints "not ok N - name", tests/browser/summary-reporter.ts prints
# "browser-<engine> FAILED: file:line > title: first line of the error",
# scripts/test-app.sh "app FAILED: what".
failed_names() {
  local suite=$1 log=$2 line
  while IFS= read -r line; do
    failures+=("  $suite: $line")
  done < <({
    sed -n '/^The following tests FAILED:/,/^Errors while running/p' "$log" |
      grep -E '^[[:space:]]+[0-9]+ - ' | sed -E 's/^[[:space:]]+//'
    grep -E '^[[:space:]]*not ok [0-9]+ - ' "$log" | sed -E 's/^[[:space:]]*//'
    grep -E '^(browser-[a-z]+|app) FAILED: ' "$log" | sed -E 's/^(browser-[a-z]+|app) FAILED: //'
  } | head -n 40)
  # and, for ctest, why: a gtest failure with the lines after it, a
  # sanitizer's report, a timeout (the whole output is in the log, but the
  # summary may be all that a CI page keeps).
  while IFS= read -r line; do
    failures+=("    | $line")
  done < <(grep -E -A4 ': Failure$|ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|^SUMMARY: [A-Za-z]+Sanitizer|runtime error:|\*\*\*(Timeout|Exception)|did not finish within' "$log" |
    grep -v -E '^--$' | cut -c1-200 | head -n 20)
}

# skipped_names SUITE LOG: the skipped browser tests and their reasons
# ("browser-<engine> SKIPPED: file:line > title: reason"), for the summary.
skipped=()
skipped_names() {
  local suite=$1 log=$2 line
  while IFS= read -r line; do
    skipped+=("  $suite: $line")
  done < <(grep -E '^browser-[a-z]+ SKIPPED: ' "$log" | sed -E 's/^browser-[a-z]+ SKIPPED: //' | head -n 40)
}

# record SUITE PASSED FAILED SECONDS [REMARK]
record() {
  summary+=("$(printf '  %-16s %5d passed, %3d failed  %5ss  %s' "$1" "$2" "$3" "$4" "${5:-}")")
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
}

# build PRESET [extra configure args]: configure and build one preset.
# Keeps going past compile errors (-k 0) so every test that can be built is
# still run; returns 1 if configure fails, 2 if the build had errors.
build() {
  local preset=$1
  shift
  note "[$preset] cmake --preset $preset $*"
  cmake --preset "$preset" "$@" || return 1
  note "[$preset] cmake --build --preset $preset"
  cmake --build --preset "$preset" -- -k 0 || return 2
}

# run_ctest SUITE PRESET SECONDS_SO_FAR [ctest args]: runs ctest, records counts
# parsed from its "N% tests passed, F tests failed out of T" line.
run_ctest() {
  local suite=$1 preset=$2 t0=$3
  shift 3
  local log=$LOG_DIR/$suite.log
  note "[$suite] ctest --preset $preset $*"
  ctest --preset "$preset" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  failed_names "$suite" "$log"
  local line
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -n $line ]]; then
    local failed total
    failed=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    if ((rc != 0 && failed == 0)); then
      record "$suite" $((total)) 1 $((SECONDS - t0)) "ctest exited $rc"
    else
      record "$suite" $((total - failed)) "$failed" $((SECONDS - t0))
    fi
  elif ((rc == 0)); then
    record "$suite" 0 0 $((SECONDS - t0)) "no tests"
  else
    record "$suite" 0 1 $((SECONDS - t0)) "ctest exited $rc without running tests (see $log)"
  fi
}

# suite_build_failed SUITE STATUS SECONDS: a configure (1) or build (2) failure.
suite_build_failed() {
  if (($2 == 1)); then
    record "$1" 0 1 "$3" "configure failed"
  else
    record "$1" 0 1 "$3" "build had errors (tests that built were still run)"
  fi
}

# --- release: native and wasm suites from one build tree ---------------------
app_ready=1
if want native wasm app web browser-chromium browser-firefox bench; then
  t0=$SECONDS
  stamp_ref=$(mktemp)
  build release
  status=$?
  if ((status == 1)); then
    suite_build_failed native 1 $((SECONDS - t0))
  else
    ((status == 2)) && suite_build_failed release-build $status $((SECONDS - t0))
    want native && run_ctest native release "$t0" --label-exclude '^wasm$'
    want wasm && run_ctest wasm release "$SECONDS" --label-regex '^wasm$'
    # The Emscripten sub-build starts only after every native target built; if
    # it did not run to the end, say so: its modules may be old or missing.
    wasm_stamp=build/release/wasm-subbuild/src/ferry_wasm-stamp/ferry_wasm-done
    if [[ ! $wasm_stamp -nt $stamp_ref ]]; then
      ((${#summary[@]})) || record release-build 0 0 $((SECONDS - t0))
      summary[-1]+="wasm sub-build did not complete: modules may be stale or missing"
    fi
  fi
  rm -f "$stamp_ref"
  app_ready=$((status != 1))
fi

# --- sanitizers, and the second compiler ---------------------------------------
for preset in asan tsan clang clang-asan; do
  want "$preset" || continue
  t0=$SECONDS
  build "$preset"
  status=$?
  if ((status == 1)); then
    suite_build_failed "$preset" 1 $((SECONDS - t0))
    continue
  fi
  ((status == 2)) && suite_build_failed "$preset-build" $status $((SECONDS - t0))
  run_ctest "$preset" "$preset" "$t0"
done

# --- fuzz: each libFuzzer target for a bounded time ---------------------------
if want fuzz; then
  t0=$SECONDS
  build fuzz "-DFERRY_FUZZ_SECONDS=$FUZZ_SECONDS"
  status=$?
  if ((status == 1)); then
    suite_build_failed fuzz 1 $((SECONDS - t0))
  else
    ((status == 2)) && suite_build_failed fuzz-build $status $((SECONDS - t0))
    run_ctest fuzz fuzz "$t0"
  fi
fi

# --- JavaScript suites ----------------------------------------------------------
# run_js SUITE LOG COMMAND...: runs a JavaScript test command, records the
# counts its reporter printed (Node's "# pass N" / "# fail N", the browser
# summary line "SUITE: N passed, N failed, N skipped, N flaky", else
# Playwright's "N passed" / "N failed"), or one failure if it printed none and
# failed. Skipped tests are counted in the remark and listed at the end.
run_js() {
  local suite=$1 log=$LOG_DIR/$2.log t0=$SECONDS
  shift 2
  note "[$suite] $*"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} passed failed skips=0 counts remark=
  failed_names "$suite" "$log"
  skipped_names "$suite" "$log"
  passed=$(grep -E '^# pass [0-9]+$' "$log" | tail -n 1 | grep -oE '[0-9]+$')
  failed=$(grep -E '^# fail [0-9]+$' "$log" | tail -n 1 | grep -oE '[0-9]+$')
  counts=$(grep -E "^$suite: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped, [0-9]+ flaky" "$log" | tail -n 1 |
    sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped, ([0-9]+) flaky.*/\1 \2 \3 \4/')
  if [[ -z $passed && -n $counts ]]; then
    local flaky
    read -r passed failed skips flaky <<<"$counts"
    failed=$((failed + flaky))
  elif [[ -z $passed ]]; then
    passed=$(grep -E '^ +[0-9]+ passed' "$log" | tail -n 1 | grep -oE '[0-9]+' | head -n 1)
    failed=$(grep -E '^ +[0-9]+ (failed|flaky|interrupted|did not run)' "$log" | awk '{ n += $1 } END { print n + 0 }')
  fi
  passed=${passed:-0}
  failed=${failed:-0}
  ((skips > 0)) && remark="$skips skipped (listed below)"
  if ((rc != 0 && failed == 0)); then
    record "$suite" "$passed" 1 $((SECONDS - t0)) "exited $rc (see $log)${remark:+; $remark}"
  else
    record "$suite" "$passed" "$failed" $((SECONDS - t0)) "$remark"
  fi
}

# examples/app, built as a user's project: from the release tree installed
# into a prefix (find_package) and from this checkout (add_subdirectory),
# natively and with Emscripten, with @ferry/web from npm pack; its page is
# then part of the browser suites (tests/browser/app.spec.ts).
if ! want app; then
  :
elif ((app_ready)); then
  run_js app app bash scripts/test-app.sh
else
  record app 0 1 0 "the release preset did not configure"
fi

# The TypeScript package (web/): ring and codec twins against the golden
# vectors, the pool over JavaScript workers and over the wasm module built
# above (build/release/wasm/web/wasm), in Node.
# (The bench smoke run below loads the web package too.)
if ! want web browser-chromium browser-firefox bench; then
  :
elif node web/build.mjs; then
  want web && run_js web web node --test --test-concurrency=1 web/dist-test/
  # The browser suite once per engine (playwright.config.ts): Debian's
  # Chromium, then Debian's Firefox ESR over WebDriver BiDi.
  for engine in chromium firefox; do
    want "browser-$engine" && run_js "browser-$engine" "browser-$engine" npx playwright test "--project=$engine"
  done
else
  record web 0 1 0 "node web/build.mjs failed"
fi

# --- bench: every benchmark harness on tiny sizes (never judges speed) ----------
if want bench; then
  t0=$SECONDS
  note "[bench] FERRY_BENCH_NO_BUILD=1 bash scripts/bench.sh --smoke"
  if FERRY_BENCH_NO_BUILD=1 bash scripts/bench.sh --smoke 2>&1 | tee "$LOG_DIR/bench.log"; then
    record bench 1 0 $((SECONDS - t0)) "every harness ran and verified its results"
  else
    record bench 0 1 $((SECONDS - t0)) "a benchmark harness broke (see $LOG_DIR/bench.log)"
  fi
fi

note "Summary ($((SECONDS - t_all)) s in all; logs in $LOG_DIR/)"
printf '%s\n' "${summary[@]}"
if ((${#skipped[@]})); then
  echo "Skipped tests:"
  printf '%s\n' "${skipped[@]}"
fi
if ((${#failures[@]})); then
  echo "Failed tests:"
  printf '%s\n' "${failures[@]}"
fi
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
