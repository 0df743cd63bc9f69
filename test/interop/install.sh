#!/usr/bin/env bash
# Installs the peers the interop suite talks to: nginx, headless Chromium,
# Python websockets (Debian packages) and Node ws + websocket (pinned by
# package-lock.json, into test/interop/node_modules). Idempotent and
# non-interactive; meant for CI (root on Debian 12). Installs only what is
# missing, so a second run changes nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive

# fonts-* so the chat screenshot shows real glyphs (CJK and emoji included).
pkgs=(chromium fonts-liberation fonts-noto-cjk fonts-noto-color-emoji python3-websockets)
# A node/npm from elsewhere (e.g. NodeSource) is fine; Debian's otherwise.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
[ -x /usr/sbin/nginx ] || pkgs+=(nginx)

missing=()
for p in "${pkgs[@]}"; do
  [ -n "$p" ] || continue
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "interop: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci only when node_modules does not already match the lock file.
stamp="$here/node_modules/.zws-lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$here/package-lock.json"; then
  echo "interop: npm ci in $here"
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$stamp"
fi

echo "interop peers: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(chromium --version 2>/dev/null | head -n 1)," \
  "python3-websockets $(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)')," \
  "node $(node --version), ws $(node -p "require('$here/node_modules/ws/package.json').version")," \
  "websocket $(node -p "require('$here/node_modules/websocket/package.json').version")"
