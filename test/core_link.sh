#!/usr/bin/env bash
# The default build is the dependency-free core: build/libzws.a must need no symbol of
# OpenSSL, zlib or hiredis, and the tools linked from it nothing beyond libc, libstdc++,
# libm and libgcc. Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1${2:+: $2}"; }

lib=build/libzws.a
if [ -f "$lib" ]; then
  foreign=$(nm -u "$lib" 2>/dev/null | awk '{print $2}' | grep -E '^(SSL_|TLS_|OPENSSL_|ERR_|EVP_|X509|BIO_|deflate|inflate|zlibVersion|redis)' | sort -u | head -n 5)
  if [ -z "$foreign" ]; then ok "core libzws.a needs no OpenSSL, zlib or hiredis symbol"
  else not_ok "core libzws.a needs no OpenSSL, zlib or hiredis symbol" "$(echo $foreign)"; fi
else not_ok "core libzws.a exists" "build it with make"; fi

for tool in build/zws-echo build/zws-cat build/zws-chat build/zws-load; do
  [ -x "$tool" ] || { not_ok "$tool exists"; continue; }
  extra=$(ldd "$tool" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux|libc\.|libstdc\+\+|libm\.|libgcc_s)' | head -n 5)
  if [ -z "$extra" ]; then ok "$tool links only libc, libstdc++, libm, libgcc"
  else not_ok "$tool links only libc, libstdc++, libm, libgcc" "$(echo $extra)"; fi
done
echo "core-link: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
