#!/usr/bin/env bash
# zws against implementations we did not write: Node ws and WebSocket-Node,
# Python websockets, headless Chromium, each direct and through an nginx
# reverse proxy; zws-cat and the library's client against Node and Python
# servers; routing, adopt (noServer) and the chat demo in two browser pages.
#
# Run from the repository root after `make` (make test does both). Prints one
# "ok - name" / "not ok - name" line per test and ends with "N passed, M failed".
# A peer that is not installed is skipped with a message (test/interop/install.sh
# installs them all); under CI=true a missing peer is a failure instead.
# Every process started here is stopped by its PID on exit; every wait is bounded.
set -u
cd "$(dirname "$0")/../.." || exit 1
here=test/interop
work=build/interop
mkdir -p "$work"
rm -f "$work"/*.log

passed=0 failed=0
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1${2:+: $2}"; }
check() {  # name, command...: ok when the command succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# A peer that cannot be used: skipped outside CI, a failure in CI.
missing_peer() {
  if [ "${CI:-}" = true ]; then not_ok "$1" "peer not installed ($2); run test/interop/install.sh"
  else echo "SKIP $1: $2 (run test/interop/install.sh to install it)"; fi
}

# Runs a client suite that prints ok/not ok lines itself, with a deadline;
# folds its lines into our counts. A suite that dies without reporting a
# failure counts as one.
suite() {  # name, seconds, command...
  local name=$1 secs=$2; shift 2
  local log="$work/$name.log" rc p f
  timeout -k 5 "$secs" "$@" > "$log" 2>&1
  rc=$?
  grep -E '^(ok|not ok) - ' "$log"
  p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
  passed=$((passed + p)) failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    not_ok "$name" "exited with status $rc; last lines: $(tail -n 5 "$log" | tr '\n' ' ')"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

used_ports=" "
free_port() {  # var: sets it to a loopback port nobody listens on and not yet handed out
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ "$used_ports" == *" $p "* ]] && continue
    port_open "$p" && continue
    used_ports+="$p "; printf -v "$1" %s "$p"; return
  done
}

wait_port() {  # port, pid: waits up to 10 s for the port to accept, while pid lives
  for _ in $(seq 200); do
    port_open "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

start() {  # name, port, command...: starts a server in the background, waits for its port
  local name=$1 port=$2; shift 2
  "$@" > "$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  if ! wait_port "$port" "$pid"; then
    not_ok "start $name" "$(tail -n 5 "$work/$name.log" | tr '\n' ' ')"
    return 1
  fi
}

wait_log() {  # file, fixed string, seconds: waits for a line to appear in a log
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -le "$deadline" ]; do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# --- what we test with -------------------------------------------------------
# CI must have every peer: install what is missing (install.sh is idempotent
# and quick when all is there), in case .ci/run did not do it already.
if [ "${CI:-}" = true ]; then
  timeout -k 5 900 bash $here/install.sh > "$work/install.log" 2>&1 ||
    echo "install.sh failed (status $?): $(tail -n 5 "$work/install.log" | tr '\n' ' ')"
fi
have_node=false have_node_ws=false have_websocket_node=false have_python=false have_chromium=false have_nginx=false
command -v node >/dev/null && have_node=true
$have_node && [ -f $here/node_modules/ws/package.json ] && have_node_ws=true
$have_node && [ -f $here/node_modules/websocket/package.json ] && have_websocket_node=true
/usr/bin/python3 -c 'import websockets' 2>/dev/null && have_python=true
command -v chromium >/dev/null && $have_node_ws && have_chromium=true
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] && have_nginx=true

for tool in zws-echo zws-cat zws-chat; do
  [ -x build/$tool ] || { not_ok "build/$tool exists" "run make first"; }
done

# Test programs of the public API, built like the tools (Makefile flags).
build_helper() {  # name
  local src=$here/$1.cpp out=$work/$1
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ build/libzws.a -nt "$out" ]; then
    ${CXX:-g++} -std=c++20 -O2 -g -Wall -Wextra -Werror -Iinclude -o "$out" "$src" build/libzws.a -pthread \
      > "$work/build-$1.log" 2>&1 || { not_ok "build $1" "$(head -n 20 "$work/build-$1.log")"; return 1; }
  fi
}
helpers_ok=true
for h in route_server adopt_server connect_test; do build_helper $h || helpers_ok=false; done

# --- nginx: one server block per proxied upstream ------------------------------
nginx_port() {  # var, upstream port: sets var to the port nginx proxies the upstream on
  free_port "$1"
  nginx_blocks+="$(sed -n 's/^#  //p' $here/nginx.conf.in | sed -e "s/@LISTEN@/${!1}/" -e "s/@UPSTREAM@/$2/")"$'\n'
}
start_nginx() {
  local prefix=$PWD/$work/nginx
  rm -rf "$prefix"; mkdir -p "$prefix/tmp"
  awk -v servers="$nginx_blocks" '/^#--/ { exit } /^@SERVERS@$/ { print servers; next } { print }' $here/nginx.conf.in |
    sed "s#@PREFIX@#$prefix#g" > "$prefix/nginx.conf"
  local first; first=$(grep -m1 -o 'listen 127.0.0.1:[0-9]*' "$prefix/nginx.conf" | cut -d: -f2)
  start nginx "$first" "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
}
nginx_blocks=""

# --- zws servers ---------------------------------------------------------------
free_port echo_port; free_port limit_port; free_port route_port; free_port adopt_port
start zws-echo "$echo_port" build/zws-echo --host 127.0.0.1 --port "$echo_port"
start zws-echo-limit "$limit_port" build/zws-echo --host 127.0.0.1 --port "$limit_port" --max-message 1024
if $helpers_ok; then
  start route_server "$route_port" $work/route_server "$route_port"
  start adopt_server "$adopt_port" $work/adopt_server "$adopt_port"
fi

# --- peer servers for the zws clients ------------------------------------------
if $have_node_ws; then free_port node_port; start node-server "$node_port" node $here/ws_server.js "$node_port"; fi
if $have_python; then free_port py_port; start python-server "$py_port" /usr/bin/python3 $here/py_server.py "$py_port"; fi

if $have_nginx; then
  nginx_port nx_echo "$echo_port"; nginx_port nx_limit "$limit_port"; nginx_port nx_route "$route_port"
  $have_node_ws && nginx_port nx_node "$node_port"
  $have_python && nginx_port nx_py "$py_port"
  start_nginx || have_nginx=false
fi

direct() { echo "ws://127.0.0.1:$echo_port/ ws://127.0.0.1:$limit_port/ ws://127.0.0.1:$route_port"; }
proxied() { echo "ws://127.0.0.1:$nx_echo/ ws://127.0.0.1:$nx_limit/ ws://127.0.0.1:$nx_route"; }

# --- zws server <- clients we did not write -------------------------------------
for via in direct nginx; do
  if [ $via = nginx ] && ! $have_nginx; then missing_peer "zws server <- clients through nginx" "nginx not found"; continue; fi
  urls=$([ $via = direct ] && direct || proxied)
  tag=$([ $via = nginx ] && echo "+nginx" || true)
  if $have_node_ws; then suite "node-ws$tag" 240 node $here/ws_client.js ws "node-ws$tag" $urls
  else missing_peer "node-ws$tag" "node or node_modules/ws missing"; fi
  if $have_websocket_node; then suite "websocket-node$tag" 240 node $here/ws_client.js websocket "websocket-node$tag" $urls
  else missing_peer "websocket-node$tag" "node or node_modules/websocket missing"; fi
  if $have_python; then suite "python-websockets$tag" 240 /usr/bin/python3 $here/py_client.py "python-websockets$tag" $urls
  else missing_peer "python-websockets$tag" "Debian python3-websockets missing"; fi
  if $have_chromium; then
    # shellcheck disable=SC2086
    suite "chromium$tag" 240 node $here/cdp.js browser "chromium$tag" "file://$PWD/$here/browser.html" $urls
  else missing_peer "chromium$tag" "chromium or node ws missing"; fi
done

# --- routing and adopt, checked with Node ws clients ----------------------------
if $have_node_ws; then
  suite routing 60 node $here/route_check.js "ws://127.0.0.1:$route_port" "ws://127.0.0.1:$adopt_port"
else missing_peer routing "node ws missing"; fi

# --- zws clients -> servers we did not write ------------------------------------
targets=()
$have_node_ws && targets+=("node-ws|ws://127.0.0.1:$node_port|$work/node-server.log")
$have_python && targets+=("python-websockets|ws://127.0.0.1:$py_port|$work/python-server.log")
if $have_nginx; then
  $have_node_ws && targets+=("nginx+node-ws|ws://127.0.0.1:$nx_node|$work/node-server.log")
  $have_python && targets+=("nginx+python-websockets|ws://127.0.0.1:$nx_py|$work/python-server.log")
else missing_peer "zws clients -> servers through nginx" "nginx not found"; fi
$have_node_ws || missing_peer "zws clients -> node ws server" "node ws missing"
$have_python || missing_peer "zws clients -> python websockets server" "python3-websockets missing"

for t in "${targets[@]}"; do
  IFS='|' read -r peer url log <<< "$t"
  suite "zws-cat->$peer" 180 bash $here/cat_cases.sh "zws-cat->$peer" "$url" "$log"
  if $helpers_ok; then suite "connect->$peer" 180 $work/connect_test "connect->$peer" "$url"; fi
done

# --- the chat demo in two browser pages ------------------------------------------
if $have_chromium && [ -x build/zws-chat ]; then
  free_port chat_port
  if start zws-chat "$chat_port" build/zws-chat --host 127.0.0.1 --port "$chat_port"; then
    suite chat 120 node $here/cdp.js chat chat "http://127.0.0.1:$chat_port/" "$PWD/build/chat-screenshot.png"
    suite chat-backpressure 90 node $here/chat_check.js "ws://127.0.0.1:$chat_port/chat"
  fi
else missing_peer chat "chromium or build/zws-chat missing"; fi

cleanup
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
