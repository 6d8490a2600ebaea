#!/usr/bin/env bash
# npm test's "app" suite: builds examples/app the ways a user's own project
# uses ferry, and checks each build:
#
#   installed   cmake --install of the release tree into build/app/prefix,
#               then find_package(ferry): natively, and with Emscripten
#   subdir      add_subdirectory(<this checkout>) natively, and FetchContent
#               of it with Emscripten
#   page        npm pack web/ (@ferry/web as published), installed into a copy
#               of examples/app/web (build/app/www) with npm, and bundled
#               there with esbuild; its wasm pool inside a Web Worker is
#               loaded in Firefox started directly (tests/browser/
#               app-in-worker-firefox.mjs); tests/browser/app.spec.ts then
#               loads both pages in Chromium and Firefox
#
# Each native and wasm build runs its ctest (the command line app_cli,
# natively or under Node), and each wasm module also runs the page's logic
# under Node (web/node-run.mjs) through the packed @ferry/web. Needs the
# release preset built (build/release and its wasm sub-build).
#   bash scripts/test-app.sh [installed|subdir|page]...   (default: all)
# Ends with "app: N passed, N failed, 0 skipped, 0 flaky" and a non-zero
# status if anything failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
out=$root/build/app
toolchain=/usr/share/emscripten/cmake/Modules/Platform/Emscripten.cmake
jobs=2
passed=0
failed=0
failures=()

step() { printf '\n==> [app] %s\n' "$*"; }
pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  failures+=("$1")
  echo "app FAILED: $1"
}
# check NAME COMMAND...: one check, counted.
check() {
  local name=$1
  shift
  if "$@"; then pass; else fail "$name"; fi
}

# build_app NAME [cmake args...]: configures, builds and ctests one build of
# the app. No NODE_PATH from the environment: the package must make em++
# find acorn by itself.
build_app() {
  local name=$1 dir=$out/$1
  shift
  step "$name: configure, build, ctest"
  env -u NODE_PATH cmake -S examples/app -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" &&
    env -u NODE_PATH cmake --build "$dir" --parallel $jobs &&
    ctest --test-dir "$dir" --output-on-failure
}

tarball=
pack_web() {
  step "page: npm pack web/ and install it into build/app/www"
  rm -rf "$out/www" "$out/pack"
  mkdir -p "$out/www" "$out/pack"
  # prepack builds dist/ (web/build.mjs): the tarball is what npm publish ships.
  (cd web && npm pack --pack-destination "$out/pack" >"$out/pack/pack.log" 2>&1) || {
    cat "$out/pack/pack.log"
    return 1
  }
  tarball=$(ls "$out"/pack/ferry-web-*.tgz) || return 1
  cp -r examples/app/web/. "$out/www/"
  # A local tarball with no dependencies: nothing is fetched.
  (cd "$out/www" && npm install --no-audit --no-fund --offline --no-save "$tarball") || return 1
  # What the tarball must hold: built JavaScript and types, no sources or tests.
  local listing
  listing=$(tar tzf "$tarball") || return 1
  for f in package/dist/index.js package/dist/index.d.ts package/dist/worker.js package/dist/worker.d.ts package/server.mjs; do
    grep -qx "$f" <<<"$listing" || {
      echo "the tarball lacks $f"
      return 1
    }
  done
  if grep -E '^package/(src|test|dist-test)/' <<<"$listing"; then
    echo "the tarball ships sources or tests (above)"
    return 1
  fi
}

bundle_page() {
  step "page: bundle main.js and the workers with esbuild (--platform=browser, no other flags)"
  (cd "$out/www" && "$root/node_modules/.bin/esbuild" --bundle --format=esm --platform=browser \
    --outdir=bundled main.js worker-bare.js pool-worker.js)
}

node_run() {
  step "$1: the page's logic under Node (node-run.mjs) with $2"
  (cd "$out/www" && node node-run.mjs "$2")
}

suites=("$@")
((${#suites[@]})) || suites=(installed subdir page)
want() { [[ " ${suites[*]} " == *" $1 "* ]]; }
t0=$SECONDS

if [[ ! -f build/release/build.ninja || ! -d build/release/wasm ]]; then
  echo "test-app.sh: build the release preset first (cmake --preset release && cmake --build --preset release)" >&2
  echo "app: 0 passed, 1 failed, 0 skipped, 0 flaky"
  exit 1
fi

# The page's checks need @ferry/web packed first.
if want page || want installed || want subdir; then
  check "npm pack web/ and install the tarball" pack_web
fi

if want installed; then
  step "installed: cmake --install build/release --prefix build/app/prefix"
  rm -rf "$out/prefix"
  if cmake --install build/release --prefix "$out/prefix" >/dev/null; then
    pass
    check "installed, native" build_app installed-native -DCMAKE_PREFIX_PATH="$out/prefix"
    # Emscripten's find_package searches only its sysroot: name the package folder.
    check "installed, wasm" build_app installed-wasm -DCMAKE_TOOLCHAIN_FILE=$toolchain \
      -Dferry_DIR="$out/prefix/share/cmake/ferry"
    [[ -n $tarball ]] && check "installed, wasm module under Node" node_run installed "$out/installed-wasm/app_web.js"
  else
    fail "cmake --install build/release"
  fi
fi

if want subdir; then
  check "add_subdirectory, native" build_app subdir-native -DFERRY_SOURCE_DIR="$root"
  check "FetchContent, wasm" build_app subdir-wasm -DCMAKE_TOOLCHAIN_FILE=$toolchain -DFERRY_SOURCE_DIR="$root" -DFERRY_FETCHCONTENT=ON
  [[ -n $tarball ]] && check "FetchContent, wasm module under Node" node_run subdir "$out/subdir-wasm/app_web.js"
fi

if want page && [[ -n $tarball ]]; then
  if check "bundle the page with esbuild" bundle_page; then
    # Its wasm pool inside a Web Worker, in Firefox: started directly, since
    # over WebDriver BiDi it can hang in new Worker() (the script says why).
    step "page: the bundled wasm pool inside a Web Worker, in Firefox without WebDriver"
    check "the bundled wasm pool inside a Web Worker, Firefox" node tests/browser/app-in-worker-firefox.mjs 3
  fi
fi

echo
echo "[app] $((SECONDS - t0)) s"
if ((${#failures[@]})); then
  printf '  failed: %s\n' "${failures[@]}"
fi
echo "app: $passed passed, $failed failed, 0 skipped, 0 flaky"
((failed == 0))
