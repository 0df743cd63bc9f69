#!/usr/bin/env bash
# zws against implementations we did not write: Node ws and WebSocket-Node,
# Python websockets, headless Chromium, each direct and through an nginx
# reverse proxy; zws-cat and the library's client against Node and Python
# servers; routing, adopt (noServer) and the chat demo in two browser pages.
# Over TLS (wss:// both ways, nginx in front of and behind TLS, Chromium
# trusting the test certificate's key), with permessage-deflate (negotiated
# variants checked on the wire), and the chat demo on two instances bridged by
# Redis behind a round-robin nginx.
#
# Run from the repository root after `make` (make test does both). Prints one
# "ok - name" / "not ok - name" line per test and ends with "N passed, M failed".
# A peer that is not installed is a failure (`make deps` installs them all, and
# `make test` runs it first).
# Every process started here is stopped by its PID on exit; every wait is bounded.
set -u
cd "$(dirname "$0")/../.." || exit 1
here=test/interop
bin=${ZWS_BUILD:-build}  # the build under test (make test: the one with every part)
work=$bin/interop
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

# A peer that cannot be used is a failure: make test installs every peer first.
missing_peer() { not_ok "$1" "peer not installed ($2); make deps installs it"; }

# Runs a client suite that prints ok/not ok lines itself, with a deadline;
# folds its lines into our counts. A suite that dies without reporting a
# failure counts as one.
suite() {  # name, seconds, command...
  local name=$1 secs=$2; shift 2
  local log="$work/$name.log" rc p f
  timeout -k 5 "$secs" "$@" > "$log" 2>&1
  rc=$?
  grep -E '^(ok|not ok) - |^# screenshot: ' "$log"
  p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
  passed=$((passed + p)) failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    not_ok "$name" "exited with status $rc; last lines: $(tail -n 5 "$log" | tr '\n' ' ')"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports come from below the kernel's ephemeral range (where no outgoing
# connection takes them) and are checked free; a server that still fails to
# bind (someone took the port meanwhile) is started again on another port.
eph_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_low" -gt 12000 ] 2>/dev/null || eph_low=32768
used_ports=" "
free_port() {  # var: sets it to a loopback port nobody listens on and not yet handed out
  local p
  while :; do
    p=$((10000 + RANDOM % (eph_low - 10000)))
    [[ "$used_ports" == *" $p "* ]] && continue
    port_open "$p" && continue
    used_ports+="$p "; printf -v "$1" %s "$p"; return
  done
}

# Starts a server on a free port, in the background, and waits (10 s at most)
# until it says it is ready: `ready` printed to its log (it prints that only
# once it listens) and the port accepting. @PORT@ in the command is the port;
# the port is stored in the variable named `var`. Up to 5 ports are tried.
start() {  # name, var, ready text, command...
  local name=$1 var=$2 ready=$3; shift 3
  local attempt pid port log="$work/$name.log"
  for attempt in 1 2 3 4 5; do
    free_port port
    "${@//@PORT@/$port}" > "$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do
      kill -0 "$pid" 2>/dev/null || break
      if grep -qF -- "$ready" "$log" 2>/dev/null && port_open "$port"; then
        printf -v "$var" %s "$port"
        return 0
      fi
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    cp "$log" "$log.attempt$attempt"
  done
  not_ok "start $name" "$(tail -n 5 "$log" | tr '\n' ' ')"
  return 1
}

wait_log() {  # file, fixed string, seconds: waits for a line to appear in a log
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -le "$deadline" ]; do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# SIGTERM stops a server cleanly: a connected zws-cat sees Close 1001, the
# server exits 0 within 5 s.
stop_check() {  # name, port, pid
  local title="$1 stops cleanly on SIGTERM: clients get 1001, exit status 0"
  mkfifo "$work/stdin.fifo" 2>/dev/null
  timeout -k 2 15 $bin/zws-cat --verbose --no-close "ws://127.0.0.1:$2/" < "$work/stdin.fifo" > /dev/null 2> "$work/stop.err" &
  local cat_pid=$!
  exec 7> "$work/stdin.fifo"  # holds stdin open, so only the server ends the session
  wait_log "$work/stop.err" "connected" 5
  kill -TERM "$3"
  local rc=1
  for _ in $(seq 100); do kill -0 "$3" 2>/dev/null || { wait "$3"; rc=$?; break; }; sleep 0.05; done
  wait "$cat_pid"
  exec 7>&-
  rm -f "$work/stdin.fifo"
  if [ "$rc" -eq 0 ] && grep -q "closed 1001" "$work/stop.err"; then ok "$title"
  else not_ok "$title" "server status $rc, zws-cat: $(tr '\n' ' ' < "$work/stop.err")"; fi
}

# --- what we test with -------------------------------------------------------
have_node=false have_node_ws=false have_websocket_node=false have_python=false have_chromium=false have_nginx=false
command -v node >/dev/null && have_node=true
$have_node && [ -f $here/node_modules/ws/package.json ] && have_node_ws=true
$have_node && [ -f $here/node_modules/websocket/package.json ] && have_websocket_node=true
/usr/bin/python3 -c 'import websockets' 2>/dev/null && have_python=true
command -v chromium >/dev/null && $have_node_ws && have_chromium=true
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] && have_nginx=true

versions="peers:"
$have_node && versions+=" node $(node --version)"
$have_node_ws && versions+=", ws $(node -p "require('./$here/node_modules/ws/package.json').version")"
$have_websocket_node && versions+=", websocket $(node -p "require('./$here/node_modules/websocket/package.json').version")"
$have_python && versions+=", python3-websockets $(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)')"
$have_chromium && versions+=", $(chromium --version 2>/dev/null | head -n 1 | cut -d' ' -f1-2)"
$have_nginx && versions+=", $("$nginx" -v 2>&1 | sed 's#.*/#nginx #')"
echo "# $versions"

for tool in zws-echo zws-cat zws-chat; do
  [ -x $bin/$tool ] || { not_ok "$bin/$tool exists" "run make first"; }
done

# Test programs of the public API, built like the tools (Makefile flags).
build_helper() {  # name
  local src=$here/$1.cpp out=$work/$1
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ $bin/libzws.a -nt "$out" ]; then
    ${CXX:-g++} -std=c++20 -O2 -g -Wall -Wextra -Werror -Iinclude -o "$out" "$src" $bin/libzws.a -pthread ${ZWS_LIBS:-} \
      > "$work/build-$1.log" 2>&1 || { not_ok "build $1" "$(head -n 20 "$work/build-$1.log")"; return 1; }
  fi
}
helpers_ok=true
for h in route_server adopt_server connect_test; do build_helper $h || helpers_ok=false; done

# --- nginx: one server block per proxied upstream ------------------------------
# nginx listens on one port per upstream; proxied VAR UPSTREAM [MODE] records that
# VAR is to hold nginx's port for that upstream once started. MODE: empty (ws://
# in, ws:// out); tls (nginx terminates TLS with the test certificate, in front
# of ws://); to-tls (ws:// in, wss:// out: proxy_pass https:// with the upstream's
# certificate verified against the test CA for the name localhost). UPSTREAM is a
# port, or two ports A,B: an upstream group served round-robin, except the page
# at / (always A), so only WebSocket connections alternate between A and B.
nginx_upstreams=()
proxied() { nginx_upstreams+=("$1:$2:${3:-}"); }
nginx_block() {  # var upstream mode listen: prints the server block (and upstream group)
  local var=$1 upstream=$2 mode=$3 listen=$4 ssl="" certs="" target="http://127.0.0.1:$2" proxy_ssl="" extra=""
  [ "$mode" = tls ] && ssl=" ssl" certs="ssl_certificate $PWD/$certs_dir/server.pem; ssl_certificate_key $PWD/$certs_dir/server.key;"
  if [ "$mode" = to-tls ]; then
    target="https://127.0.0.1:$upstream"
    proxy_ssl="proxy_ssl_trusted_certificate $PWD/$certs_dir/ca.pem; proxy_ssl_verify on; proxy_ssl_verify_depth 3;"
    proxy_ssl+=" proxy_ssl_name localhost; proxy_ssl_server_name on;"
  fi
  if [[ "$upstream" == *,* ]]; then
    printf 'upstream rr_%s { server 127.0.0.1:%s; server 127.0.0.1:%s; }\n' "$var" "${upstream%,*}" "${upstream#*,}"
    target="http://rr_$var"
    extra="location = / { proxy_pass http://127.0.0.1:${upstream%,*}; } location = /favicon.ico { return 404; }"
  fi
  sed -n 's/^#  //p' $here/nginx.conf.in | sed -e "s/@LISTEN@/$listen/" -e "s#@TARGET@#$target#" -e "s/@SSL@/$ssl/" \
    -e "s#@CERTS@#$certs#" -e "s#@PROXY_SSL@#$proxy_ssl#" -e "s#@EXTRA@#$extra#"
}
start_nginx() {
  local prefix=$PWD/$work/nginx attempt u var blocks listen first pid
  for attempt in 1 2 3 4 5; do
    rm -rf "$prefix"; mkdir -p "$prefix/tmp"
    blocks="" first=""
    for u in "${nginx_upstreams[@]}"; do
      IFS=: read -r var upstream mode <<< "$u"
      free_port listen
      printf -v "$var" %s "$listen"
      first=${first:-$listen}
      blocks+="$(nginx_block "$var" "$upstream" "$mode" "$listen")"$'\n'
    done
    awk -v servers="$blocks" '/^#--/ { exit } /^@SERVERS@$/ { print servers; next } { print }' $here/nginx.conf.in |
      sed "s#@PREFIX@#$prefix#g" > "$prefix/nginx.conf"
    "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" > "$work/nginx.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    # nginx binds every port before it serves any: all of them are its own
    # once the first accepts and it is still alive a moment later.
    for _ in $(seq 200); do
      kill -0 "$pid" 2>/dev/null || break
      if port_open "$first"; then
        sleep 0.2
        kill -0 "$pid" 2>/dev/null && return 0
        break
      fi
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
  done
  not_ok "start nginx" "$(tail -n 5 "$prefix/error.log" "$work/nginx.log" 2>/dev/null | tr '\n' ' ')"
  return 1
}

# --- zws servers ---------------------------------------------------------------
start zws-echo echo_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@
start zws-echo-limit limit_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ --max-message 1024
# The same with permessage-deflate accepted (Node ws and Python websockets clients offer it).
start zws-echo-deflate zecho_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ --deflate
start zws-echo-deflate-limit zlimit_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ --max-message 1024 --deflate
if $helpers_ok; then
  start route_server route_port "route_server on" $work/route_server @PORT@ || helpers_ok=false
  start adopt_server adopt_port "adopt_server on" $work/adopt_server @PORT@ || helpers_ok=false
fi

# --- wss://: zws-echo over TLS (a build with TLS only) --------------------------
# Certificates from test/certs.sh; Node trusts the test CA through
# NODE_EXTRA_CA_CERTS (verification stays on). A core build has no TLS to test.
certs_dir=$work/certs
have_tls=false
if ! $bin/zws-echo --port 0 --tls-cert /nonexistent --tls-key /nonexistent 2>&1 | grep -q "built without TLS"; then
  if bash test/certs.sh "$certs_dir" > "$work/certs.log" 2>&1; then
    have_tls=true
    start zws-echo-tls tls_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ \
      --tls-cert $certs_dir/server.pem --tls-key $certs_dir/server.key || have_tls=false
    start zws-echo-untrusted untrusted_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ \
      --tls-cert $certs_dir/unknown.pem --tls-key $certs_dir/unknown.key || have_tls=false
    start zws-echo-tls-limit tls_limit_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ \
      --max-message 1024 --tls-cert $certs_dir/server.pem --tls-key $certs_dir/server.key || have_tls=false
  else
    not_ok "test/certs.sh" "$(tail -n 5 "$work/certs.log" | tr '\n' ' ')"
  fi
fi

# --- peer servers for the zws clients ------------------------------------------
if $have_node_ws; then start node-server node_port listening node $here/ws_server.js @PORT@ || have_node_ws=false; fi
if $have_python; then start python-server py_port listening /usr/bin/python3 $here/py_server.py @PORT@ || have_python=false; fi
# The same over TLS (the test certificate; the Node one also accepts
# permessage-deflate), and a Node one with permessage-deflate (ws's defaults;
# Python websockets compresses by default already).
have_node_tls=false have_python_tls=false have_node_deflate=false
if $have_tls && $have_node_ws; then
  start node-server-tls node_tls_port listening node $here/ws_server.js @PORT@ --tls $certs_dir/server.pem $certs_dir/server.key \
    --deflate '{}' && have_node_tls=true
fi
if $have_tls && $have_python; then
  start python-server-tls py_tls_port listening /usr/bin/python3 $here/py_server.py @PORT@ --tls $certs_dir/server.pem \
    $certs_dir/server.key && have_python_tls=true
fi
if $have_node_ws; then
  start node-server-deflate node_z_port listening node $here/ws_server.js @PORT@ --deflate '{}' && have_node_deflate=true
fi

# --- the chat demo: over https, and two instances bridged by one Redis -----------
redis=$(command -v redis-server || echo /usr/bin/redis-server)
have_chat_tls=false have_chat_pair=false
if $have_tls; then
  start zws-chat-tls chat_tls_port "open https" $bin/zws-chat --host 127.0.0.1 --port @PORT@ \
    --tls-cert $certs_dir/server.pem --tls-key $certs_dir/server.key && have_chat_tls=true
fi
if [ -x "$redis" ]; then
  mkdir -p "$work/redis"
  if start redis-server redis_port "Ready to accept connections" "$redis" --port @PORT@ --bind 127.0.0.1 \
       --dir "$PWD/$work/redis" --save '' --appendonly no &&
     start zws-chat-a chat_a "open http" $bin/zws-chat --host 127.0.0.1 --port @PORT@ --redis 127.0.0.1:$redis_port &&
     start zws-chat-b chat_b "open http" $bin/zws-chat --host 127.0.0.1 --port @PORT@ --redis 127.0.0.1:$redis_port; then
    have_chat_pair=true
  fi
else missing_peer "chat on two instances" "redis-server missing"; fi

if $have_nginx; then
  proxied nx_echo "$echo_port"; proxied nx_limit "$limit_port"; proxied nx_route "$route_port"
  $have_node_ws && proxied nx_node "$node_port"
  $have_python && proxied nx_py "$py_port"
  $have_tls && proxied nx_tls "$echo_port" tls
  # ws:// in, wss:// to zws out (verified); and to a server with an unknown CA (refused)
  $have_tls && proxied nx_wss "$tls_port" to-tls && proxied nx_wss_bad "$untrusted_port" to-tls
  $have_chat_pair && proxied nx_chat "$chat_a,$chat_b"
  start_nginx || have_nginx=false
fi

direct() { echo "ws://127.0.0.1:$echo_port/ ws://127.0.0.1:$limit_port/ ws://127.0.0.1:$route_port"; }
via_nginx() { echo "ws://127.0.0.1:$nx_echo/ ws://127.0.0.1:$nx_limit/ ws://127.0.0.1:$nx_route"; }
deflating() { echo "ws://127.0.0.1:$zecho_port/ ws://127.0.0.1:$zlimit_port/ ws://127.0.0.1:$route_port"; }

# --- zws server <- clients we did not write -------------------------------------
for via in direct nginx deflate; do
  if [ $via = nginx ] && ! $have_nginx; then missing_peer "zws server <- clients through nginx" "nginx not found"; continue; fi
  case $via in direct) urls=$(direct); tag="";; nginx) urls=$(via_nginx); tag="+nginx";; deflate) urls=$(deflating); tag="+deflate";; esac
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

# --- wss://: Node ws over TLS, direct and through nginx terminating TLS -----------
if $have_tls; then
  if $have_node_ws; then
    suite node-ws-tls 120 env NODE_EXTRA_CA_CERTS=$certs_dir/ca.pem node $here/tls_client.js node-ws-tls \
      "wss://localhost:$tls_port/" "wss://localhost:$untrusted_port/"
    if $have_nginx; then
      suite nginx-tls+zws 120 env NODE_EXTRA_CA_CERTS=$certs_dir/ca.pem node $here/tls_client.js nginx-tls+zws \
        "wss://localhost:$nx_tls/"
    else missing_peer "nginx terminating TLS in front of zws" "nginx not found"; fi
  else missing_peer "node-ws over TLS" "node ws missing"; fi
  if $have_python; then
    suite python-websockets-tls 120 /usr/bin/python3 $here/tls_py_client.py python-websockets-tls \
      "wss://localhost:$tls_port/" "$certs_dir/ca.pem" "wss://localhost:$untrusted_port/"
  else missing_peer "python websockets over TLS" "python3-websockets missing"; fi
  cat_tls() {  # url, zws-cat options...: prints what zws-cat printed (both streams), returns its status
    local u=$1; shift
    printf 'over tls\n' | timeout 10 $bin/zws-cat "$@" "$u" 2>&1
  }
  cat_trusts_ca() { [ "$(cat_tls "wss://localhost:$tls_port/" --ca $certs_dir/ca.pem)" = "over tls" ]; }
  cat_refuses() {
    local out rc
    out=$(cat_tls "wss://localhost:$untrusted_port/" --ca $certs_dir/ca.pem); rc=$?
    [ $rc -eq 2 ] && [[ $out == *"certificate verify failed: unable to get local issuer certificate"* ]]
  }
  cat_insecure() { [ "$(cat_tls "wss://localhost:$untrusted_port/" --insecure)" = "over tls" ]; }
  check "zws-cat wss:// --ca: echoed" cat_trusts_ca
  check "zws-cat wss://: an unknown CA exits 2 with OpenSSL's reason" cat_refuses
  check "zws-cat wss:// --insecure: accepts it" cat_insecure
fi

# --- routing and adopt, checked with Node ws clients ----------------------------
if $have_node_ws; then
  suite routing 60 node $here/route_check.js "ws://127.0.0.1:$route_port" "ws://127.0.0.1:$adopt_port"
else missing_peer routing "node ws missing"; fi

# --- zws-echo's own options ------------------------------------------------------
if $have_node_ws; then
  if start zws-echo-options opt_port "listening on" $bin/zws-echo --host 127.0.0.1 --port @PORT@ \
       --threads 2 --handshake-timeout 1 --idle-timeout 1; then
    suite zws-echo-options 60 node $here/echo_options.js "ws://127.0.0.1:$opt_port/"
    stop_check "zws-echo" "$opt_port" "${pids[${#pids[@]}-1]}"
  fi
else missing_peer "zws-echo options" "node ws missing"; fi

# --- zws-load against real and deliberately faulty echo servers ------------------
if [ -x /usr/bin/python3 ] && [ -x $bin/zws-load ]; then
  if start fault-server fault_port listening /usr/bin/python3 $here/fault_server.py @PORT@; then
    node_echo=$($have_node_ws && echo "ws://127.0.0.1:$node_port/echo" || true)
    raw_echo='' raw_faults=''
    if [ -x $bin/tcp_echo ] && start tcp-echo raw_port "listening on" $bin/tcp_echo --port @PORT@; then
      raw_echo="tcp://127.0.0.1:$raw_port"
      # Byte 100000: message 100 of 1000 B, inside the fourth 32 KiB piece of
      # message 0 of 200000 B or 1 MiB. The swapped 16 KiB blocks (from byte
      # 98304) straddle messages of 1000 B and whole blocks of the others.
      for f in flip:100000 drop:100000 swap:98304 slow:0; do
        if start "raw-fault-${f%%:*}" rf_port listening /usr/bin/python3 $here/raw_fault_server.py @PORT@ ${f%%:*} ${f#*:}; then
          raw_faults+=" ${f%%:*}=tcp://127.0.0.1:$rf_port"
        fi
      done
    fi
    suite zws-load 300 env RAW_ECHO_URL="$raw_echo" RAW_FAULTS="$raw_faults" bash $here/load_cases.sh "ws://127.0.0.1:$echo_port/" "ws://127.0.0.1:$fault_port" $node_echo
  fi
else missing_peer "zws-load cases" "/usr/bin/python3 or $bin/zws-load missing"; fi

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

# --- zws clients -> servers we did not write, over TLS ----------------------------
# The test CA is trusted on the zws side (connect_test --ca, zws-cat --ca);
# verification stays on. The whole connect_test suite runs over wss://.
if $have_tls && $helpers_ok; then
  tls_targets=()
  $have_node_tls && tls_targets+=("node-ws|wss://localhost:$node_tls_port")
  $have_python_tls && tls_targets+=("python-websockets|wss://localhost:$py_tls_port")
  $have_node_tls || missing_peer "zws clients -> node ws server over TLS" "node ws missing"
  $have_python_tls || missing_peer "zws clients -> python websockets server over TLS" "python3-websockets missing"
  cat_peer_tls() { [ "$(printf 'über tls ✓\n' | timeout 10 $bin/zws-cat --ca $certs_dir/ca.pem "$1/echo" 2>&1)" = "über tls ✓" ]; }
  for t in "${tls_targets[@]}"; do
    IFS='|' read -r peer url <<< "$t"
    suite "connect->$peer-tls" 180 $work/connect_test "connect->$peer-tls" "$url" --ca $certs_dir/ca.pem
    # both at once: compressed messages inside TLS records
    suite "connect->$peer-tls+deflate" 180 $work/connect_test "connect->$peer-tls+deflate" "$url" --ca $certs_dir/ca.pem --deflate default
    check "zws-cat->$peer-tls: wss:// with --ca: echoed" cat_peer_tls "$url"
  done
fi

# --- permessage-deflate: zws clients -> Node ws and Python websockets servers -------
# Each offer is checked as answered and on the wire (connect_test's /wire cases),
# then the echo cases run compressed.
if $helpers_ok; then
  z_targets=()
  $have_node_deflate && z_targets+=("node-ws|ws://127.0.0.1:$node_z_port")
  $have_python && z_targets+=("python-websockets|ws://127.0.0.1:$py_port")
  $have_node_deflate || missing_peer "zws client + deflate -> node ws server" "node ws missing"
  for t in "${z_targets[@]}"; do
    IFS='|' read -r peer url <<< "$t"
    for offer in default client_no_context_takeover server_no_context_takeover client_max_window_bits=10; do
      suite "connect+deflate($offer)->$peer" 180 $work/connect_test "connect+deflate($offer)->$peer" "$url" --deflate "$offer"
    done
  done
fi

# --- permessage-deflate: zws server <- Node ws clients with each variant -------------
if $have_node_ws; then
  suite node-ws-deflate-variants 240 node $here/deflate_client.js node-ws-deflate "ws://127.0.0.1:$zecho_port/"
else missing_peer "node ws deflate variants" "node ws missing"; fi

# --- nginx proxying to a wss:// zws upstream ----------------------------------------
# proxy_pass https:// with proxy_ssl_verify on and the test CA: echoes pass; an
# upstream whose certificate no trusted CA signed must be refused by nginx.
if $have_tls; then
  if $have_nginx && $have_node_ws; then
    suite "nginx->wss-zws" 120 node $here/tls_client.js "nginx->wss-zws" "ws://127.0.0.1:$nx_wss/" "ws://127.0.0.1:$nx_wss_bad/"
    nginx_refused_upstream() { grep -q "upstream SSL certificate verify error" "$work/nginx/error.log"; }
    check "nginx->wss-zws: the unknown CA's upstream is refused by nginx's verification" nginx_refused_upstream
  else missing_peer "nginx proxying to wss:// zws" "nginx or node ws missing"; fi
fi

# --- the chat demo in two browser pages ------------------------------------------
if $have_chromium && [ -x $bin/zws-chat ]; then
  if start zws-chat chat_port "open http" $bin/zws-chat --host 127.0.0.1 --port @PORT@; then
    suite chat 120 node $here/cdp.js chat chat "http://127.0.0.1:$chat_port/" "$PWD/$bin/chat-screenshot.png"
    suite chat-backpressure 90 node $here/chat_check.js "ws://127.0.0.1:$chat_port/chat"
  fi
else missing_peer chat "chromium or $bin/zws-chat missing"; fi

# --- Chromium over https/wss, with permessage-deflate, and the bridged chat ----------
# Chromium trusts exactly the test server's key: --ignore-certificate-errors-spki-list
# with the SHA-256 of its SubjectPublicKeyInfo (an NSS database would need certutil,
# from a package the tests do not otherwise use). Without it the certificate is
# refused, and with it a server with another key is still refused.
if $have_chromium; then
  if $have_tls; then
    spki=$(openssl pkey -in $certs_dir/server.key -pubout -outform der 2>/dev/null | openssl dgst -sha256 -binary | base64)
    suite chromium-wss 240 node $here/cdp.js browser chromium-wss --spki="$spki" --untrusted="wss://localhost:$untrusted_port/" \
      "file://$PWD/$here/browser.html" "wss://localhost:$tls_port/" "wss://localhost:$tls_limit_port/" "ws://127.0.0.1:$route_port"
    if $have_chat_tls; then
      suite chat-https 120 node $here/cdp.js chat chat-https --spki="$spki" "https://localhost:$chat_tls_port/" \
        "$PWD/$bin/chat-https-screenshot.png"
      suite chromium-untrusted 60 node $here/cdp.js refused chromium-untrusted "https://localhost:$chat_tls_port/"
    fi
  fi
  suite chromium-deflate 120 node $here/cdp.js deflate chromium-deflate "file://$PWD/$here/browser.html" "ws://127.0.0.1:$zecho_port/"
  if $have_chat_pair && $have_nginx; then
    suite chat-redis 120 node $here/cdp.js chat2 chat-redis "http://127.0.0.1:$nx_chat/" "$PWD/$bin/chat-redis-screenshot.png"
  elif $have_chat_pair; then missing_peer "chat on two instances" "nginx not found"; fi
else missing_peer "chromium over TLS, deflate, bridged chat" "chromium or node ws missing"; fi

cleanup
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
