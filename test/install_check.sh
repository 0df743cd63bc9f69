#!/usr/bin/env bash
# The build as a user meets it: a second make with nothing changed does nothing,
# and the README's first program builds against `make install PREFIX=…` both with
# pkg-config and with a CMake project (find_package(zws) -> zws::zws), for the
# core build and for the build with every optional part, whose installed flags
# must name the parts' libraries. Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1${2:+: $2}"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The README's first program, exactly as the README shows it.
sed -n '/^## A server in ten lines/,/^```$/p' README.md | sed -n '/^```cpp$/,/^```$/p' | sed '1d;$d' > "$tmp/echo.cpp"
if grep -q 'zws::Server' "$tmp/echo.cpp"; then ok "README example extracted"; else not_ok "README example extracted"; fi

for config in core full; do
  switches=()
  [ "$config" = full ] && switches=(TLS=1 DEFLATE=1 REDIS=1)
  out=$(make -q "${switches[@]}" all 2>&1; echo "rc=$?")
  if [ "${out##*rc=}" = 0 ]; then ok "$config: a second make with nothing changed does nothing"
  else not_ok "$config: a second make with nothing changed does nothing" "make -q says something is out of date"; fi

  prefix=$tmp/$config
  if ! make --no-print-directory "${switches[@]}" install PREFIX="$prefix" > "$tmp/install-$config.log" 2>&1; then
    not_ok "$config: make install" "$(tail -n 5 "$tmp/install-$config.log")"; continue
  fi
  ok "$config: make install"
  pc="$prefix/lib/pkgconfig"
  libs=$(PKG_CONFIG_PATH=$pc pkg-config --libs zws)
  if [ "$config" = full ]; then
    if [[ $libs == *-lssl* && $libs == *-lcrypto* && $libs == *-lz* && $libs == *-lhiredis* ]]; then ok "full: zws.pc names OpenSSL, zlib and hiredis"
    else not_ok "full: zws.pc names OpenSSL, zlib and hiredis" "$libs"; fi
  else
    if [[ $libs != *-lssl* && $libs != *-lz\ * && $libs != *-lhiredis* ]]; then ok "core: zws.pc names no optional library"
    else not_ok "core: zws.pc names no optional library" "$libs"; fi
  fi
  # shellcheck disable=SC2046
  if g++ -O1 -o "$tmp/echo-pc-$config" "$tmp/echo.cpp" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs zws) > "$tmp/pc-$config.log" 2>&1; then
    ok "$config: the README example builds with pkg-config"
  else not_ok "$config: the README example builds with pkg-config" "$(head -n 5 "$tmp/pc-$config.log")"; fi

  proj=$tmp/cmake-$config
  mkdir -p "$proj"
  cp "$tmp/echo.cpp" "$proj/"
  printf '%s\n' 'cmake_minimum_required(VERSION 3.20)' 'project(echo CXX)' 'find_package(zws 0.2 REQUIRED)' \
    'add_executable(echo echo.cpp)' 'target_link_libraries(echo zws::zws)' > "$proj/CMakeLists.txt"
  if cmake -S "$proj" -B "$proj/build" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake-$config.log" 2>&1 &&
     cmake --build "$proj/build" >> "$tmp/cmake-$config.log" 2>&1 && [ -x "$proj/build/echo" ]; then
    ok "$config: the README example builds with find_package(zws)"
  else not_ok "$config: the README example builds with find_package(zws)" "$(grep -iE 'error|not found' "$tmp/cmake-$config.log" | head -n 5)"; fi
done
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
