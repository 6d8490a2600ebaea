#!/usr/bin/env bash
# Installs what ferry's builds and tests need, and only what is missing:
# Debian packages (as root; otherwise prints the apt-get command and fails),
# then the npm devDependencies when node_modules is missing or older than
# package-lock.json. A second run with nothing to do takes well under a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Toolchains, libraries and runtimes, by what needs them:
#   native builds: cmake ninja-build g++ clang
#   TSan / libFuzzer runtimes for clang: libclang-rt-14-dev
#   tests and benchmarks: googletest libgtest-dev libbenchmark-dev libboost-dev
#   workers: libasio-dev libconcurrentqueue-dev libreaderwriterqueue-dev
#   WebAssembly: emscripten (brings node-acorn, which em++ needs)
#   browser tests (the Playwright suite, tests/browser) and the browser
#   benchmarks (bench/browser), one per engine: chromium firefox-esr
APT_PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev
  googletest libgtest-dev libbenchmark-dev libboost-dev
  libasio-dev libconcurrentqueue-dev libreaderwriterqueue-dev
  emscripten chromium firefox-esr
)

missing=()
# One dpkg-query for all packages; unknown ones print nothing (and an error we drop).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)
for pkg in "${APT_PACKAGES[@]}"; do
  grep -qxF "$pkg install ok installed" <<<"$installed" || missing+=("$pkg")
done
# Node may come from Debian (nodejs + npm) or from NodeSource (nodejs bundles
# npm), so look for the commands rather than for the npm package.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-deps: missing Debian packages: ${missing[*]}" >&2
    echo "ensure-deps: install them as root, then run this again:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "ensure-deps: installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Debian 12's own nodejs is 18; the suites need 20 (node --test's options,
# Playwright): scripts/install-node.sh takes it from the npm registry, or
# says how when not root.
bash scripts/install-node.sh

# npm ci wipes and reinstalls node_modules, so run it only when the lock file
# changed since the last install (the stamp lives inside node_modules).
stamp=node_modules/.ferry-npm-ci.stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "ensure-deps: npm ci"
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
