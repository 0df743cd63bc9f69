#!/usr/bin/env bash
# What `make test` needs beyond a compiler, and the one place that installs it.
#   test/deps.sh check    exit 0 when everything is there; otherwise list what is missing
#   test/deps.sh install  install what is missing (root, Debian 12: apt-get once,
#                         non-interactive), then the pinned npm packages of test/interop/
# `make test` runs `check`; as root it then runs `install` itself, as any other user it
# stops with one line naming `sudo make deps`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and test tools; the optional parts' libraries (TLS, deflate, Redis bridge) and the
# servers the tests start; the interop peers (fonts-* so the chat screenshot shows real glyphs).
debs=(
  g++ make pkg-config cmake util-linux procps
  libgtest-dev libbenchmark-dev clang libclang-rt-14-dev clang-tidy
  libssl-dev openssl ca-certificates zlib1g-dev libhiredis-dev redis-server
  nginx chromium fonts-liberation fonts-noto-cjk fonts-noto-color-emoji python3 python3-websockets
)
# A node/npm from elsewhere (e.g. NodeSource) is fine; Debian's otherwise.
command -v node >/dev/null 2>&1 || debs+=(nodejs)
command -v npm >/dev/null 2>&1 || debs+=(npm)
npm_dirs=(test/interop)

missing_debs() {
  local p
  for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}

# npm ci only where node_modules does not already match the lock file.
stale_npm() {
  local d
  for d in "${npm_dirs[@]}"; do
    cmp -s "$d/package-lock.json" "$d/node_modules/.zws-lock-stamp" 2>/dev/null || echo "$d"
  done
}

case "${1:-check}" in
  check)
    mapfile -t m < <(missing_debs)
    mapfile -t n < <(stale_npm)
    [ ${#m[@]} -eq 0 ] && [ ${#n[@]} -eq 0 ] && exit 0
    [ ${#m[@]} -gt 0 ] && echo "missing Debian packages: ${m[*]}"
    [ ${#n[@]} -gt 0 ] && echo "npm packages not installed in: ${n[*]}"
    exit 1
    ;;
  install)
    mapfile -t m < <(missing_debs)
    if [ ${#m[@]} -gt 0 ]; then
      [ "$(id -u)" -eq 0 ] || { echo "deps: installing ${m[*]} needs root: run 'sudo make deps'"; exit 1; }
      echo "deps: installing ${m[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${m[@]}" >/dev/null
    fi
    # The Debian redis-server package starts a system instance; tests start their own.
    for d in $(stale_npm); do
      echo "deps: npm ci in $d"
      (cd "$d" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
      cp "$d/package-lock.json" "$d/node_modules/.zws-lock-stamp"
    done
    ;;
  *) echo "usage: test/deps.sh check|install" >&2; exit 2 ;;
esac
