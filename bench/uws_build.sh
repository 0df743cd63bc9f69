#!/usr/bin/env bash
# bench/uws_build.sh — builds bench/uws_echo.cpp against a uWebSockets checkout you provide.
#
#   UWS_DIR=/path/to/uWebSockets bench/uws_build.sh      -> build/uws_echo
#
# UWS_DIR holds uWebSockets with its uSockets submodule checked out in UWS_DIR/uSockets
# (git clone --recursive https://github.com/uNetworking/uWebSockets). Nothing of it is
# copied here. The flags are those of uWebSockets' own build (build.c, uSockets/Makefile):
# -O3 -march=native -flto, OpenSSL (WITH_OPENSSL=1) and zlib. Then run the peer rows with
#   E2E_UWS=build/uws_echo E2E_SCENARIOS="T1 T2 Z1 Z2 F1 F2" make bench-e2e
set -eu
cd "$(dirname "$0")/.."
: "${UWS_DIR:?set UWS_DIR to a uWebSockets checkout (with uSockets inside)}"
[ -f "$UWS_DIR/src/App.h" ] && [ -f "$UWS_DIR/uSockets/src/libusockets.h" ] || {
  echo "uws_build: $UWS_DIR is not a uWebSockets checkout with uSockets" >&2; exit 1; }
out=build/uws
mkdir -p "$out"
for c in "$UWS_DIR"/uSockets/src/*.c "$UWS_DIR"/uSockets/src/eventing/*.c "$UWS_DIR"/uSockets/src/crypto/*.c; do
  gcc -O3 -march=native -flto=auto -DLIBUS_USE_OPENSSL -I"$UWS_DIR/uSockets/src" -c "$c" -o "$out/$(basename "$c" .c).o"
done
g++ -std=c++20 -O3 -march=native -flto=auto -DLIBUS_USE_OPENSSL -I"$UWS_DIR/uSockets/src" \
  -c "$UWS_DIR/uSockets/src/crypto/sni_tree.cpp" -o "$out/sni_tree.o"
g++ -std=c++2b -O3 -march=native -flto=auto -DLIBUS_USE_OPENSSL -I"$UWS_DIR/src" -I"$UWS_DIR/uSockets/src" \
  bench/uws_echo.cpp "$out"/*.o -o build/uws_echo -lssl -lcrypto -lz -lstdc++
echo "uws_build: build/uws_echo ($(git -C "$UWS_DIR" describe --always --tags 2>/dev/null || echo "uWebSockets"))"
