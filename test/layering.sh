#!/usr/bin/env bash
# The layering rule of DESIGN.md, checked on every #include of lib/ and include/zws/:
# base (1) < protocol (2) < io (3) < endpoint (4); a file may include its own layer
# and the layers below it, never one above. Public headers belong to the layer of
# the module they declare; they never include lib/, <sys/epoll.h>, OpenSSL, zlib
# or hiredis. A new public header must be given a layer here, or this check fails.
# Prints one "ok"/"not ok" line per file and ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."

declare -A rank=([base]=1 [protocol]=2 [io]=3 [endpoint]=4)
declare -A public=(
  [error]=base [simd]=base [utf8]=base [buffer]=base
  [frame]=protocol [reader]=protocol [writer]=protocol [handshake]=protocol
  [http]=protocol [url]=protocol [deflate]=protocol
  [loop]=io [tls]=io
  [websocket]=endpoint [server]=endpoint [client]=endpoint [topics]=endpoint
  [redis]=endpoint [zws]=endpoint
)

passed=0 failed=0
layer_of_include() {  # include path -> layer name, or "" when outside the library
  local inc=$1
  case "$inc" in
    zws/*) local m=${inc#zws/}; echo "${public[${m%.hpp}]:-unknown}" ;;
    base/* | protocol/* | io/* | endpoint/*) echo "${inc%%/*}" ;;
    *) echo "" ;;
  esac
}

check() {  # file layer
  local file=$1 layer=$2 bad=() inc target
  while read -r inc; do
    target=$(layer_of_include "$inc")
    [ -n "$target" ] || continue
    if [ "$target" = unknown ]; then bad+=("$inc (a public header with no layer: add it to test/layering.sh)"); continue; fi
    [ "${rank[$target]}" -le "${rank[$layer]}" ] || bad+=("$inc (layer $target)")
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
  if [[ $file == include/* ]]; then
    while read -r inc; do bad+=("<$inc> (a public header includes no system or third-party internals)")
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(sys\/epoll\.h\|openssl\/[^>]*\|zlib\.h\|hiredis\/[^>]*\)>.*/\1/p' "$file")
    grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(base|protocol|io|endpoint)/' "$file" &&
      bad+=("an include of lib/ from a public header")
  fi
  if [ ${#bad[@]} -eq 0 ]; then
    echo "ok - $file ($layer)"; passed=$((passed + 1))
  else
    for b in "${bad[@]}"; do echo "not ok - $file ($layer) includes $b"; done
    failed=$((failed + 1))
  fi
}

for f in $(find lib -name '*.cpp' -o -name '*.hpp' | sort); do
  layer=${f#lib/}; layer=${layer%%/*}
  if [ -z "${rank[$layer]:-}" ]; then echo "not ok - $f is in no layer folder"; failed=$((failed + 1)); continue; fi
  check "$f" "$layer"
done
for f in include/zws/*.hpp; do
  m=$(basename "$f" .hpp)
  layer=${public[$m]:-}
  if [ -z "$layer" ]; then echo "not ok - $f has no layer: add it to test/layering.sh"; failed=$((failed + 1)); continue; fi
  check "$f" "$layer"
done
echo "layering: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
