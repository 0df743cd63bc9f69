#!/usr/bin/env bash
# bench/e2e.sh — the end-to-end benchmark (make bench-e2e builds, then runs this).
#
# Echo servers side by side, driven by build/zws-load over loopback:
#   raw TCP   build/tcp_echo             the physical yardstick (zws-load --raw)
#   zws       build/zws-echo             skipped, with a line saying so, until it exists
#   node ws   node bench/node_echo.js    when node is present (ws from bench/package.json)
# Each server is pinned to core 0 and zws-load to core 1. Scenarios A-E run
# E2E_RUNS times (median reported) for E2E_SECONDS each after E2E_WARMUP seconds:
#   A 16 B, 100 conns, depth 1: msgs/s and p99     B 16 B, 100 conns, depth 16: msgs/s
#   C 1 KiB, 100 conns, depth 16: msgs/s           D 64 KiB, 10 conns, depth 1: MiB/s
#   E 1 MiB, 4 conns, depth 1: MiB/s
#   M server RSS per idle connection, E2E_IDLE (10,000) connections open (VmRSS after - before)
#   S connections one server process holds and answers within its 20,000-descriptor limit
#     (E2E_SCALE attempted, split over two zws-load processes, which need descriptors too)
# Wave 2 (each against its own yardstick, with the servers it names; see bench/README.md):
#   T1 T2 T3  16 B / 1 KiB (100 conns, depth 16), 64 KiB (10 conns, depth 1) over TLS:
#             zws-echo wss:// against tls_echo (raw TLS echo, zws-load --raw tls://)
#   TH        full handshakes/s, 50 in flight (zws-load --churn): TCP+TLS+upgrade+one
#             echo+close against TCP+TLS+one echo+close
#   TM        RSS per idle TLS connection: tls_echo with and without --release-buffers,
#             zws-echo wss://, and plain zws-echo beside them
#   Z1 Z2     JSON text (zws-load --payload json) 1 KiB (100 conns, depth 16), 16 KiB
#             (10 conns, depth 4): zws-echo --deflate against the plain echo of the same
#             documents plus zlib's own deflate + inflate per message (zws_bench zlib/)
#   ZM        RSS per connection that agreed on deflate and exchanged one message
#             (zws-echo --deflate --deflate-mode dedicated | shared (the default) | lean;
#             plain zws-echo beside them). Z1/Z2 run the dedicated mode: context kept both
#             ways, as the zlib yardstick does
#   F1        fan-out as fast as possible: E2E_F1_SUBS (1,000) subscribers, one publisher,
#             closed loop (depth 8): deliveries/s, zws-echo --fanout against fanout_tcp
#   F2        E2E_F2_SUBS (10,000) subscribers, 128 B at 100 publishes/s: latency
#   F3        E2E_F3_RATE (2) publishes/s to E2E_F2_SUBS subscribers through two zws-echo
#             --fanout --redis and one redis-server, against one zws-echo --fanout at the
#             same rate: the latency Redis adds at a rate the box sustains (one publish to
#             10,000 subscribers is 10,000 loopback sends, 70-100 ms of core 0 here: at 2/s
#             each sweep ends before the next begins; from about 10/s they overlap)
# Peers in the wave-2 rows, each when present: Node ws (bench/node_echo.js --tls-cert,
# --deflate, --fanout) in T, Z and F1; uWebSockets (E2E_UWS, default build/uws_echo, which
# bench/uws_build.sh builds from a uWebSockets checkout: SSLApp, shared and dedicated
# compressors, App::publish) in T, Z, F1 and F2.
# Everything is bounded by timeouts; servers are killed by PID. Details (every run's
# JSON, server logs) go to build/e2e/. Knobs: E2E_SERVERS="tcp zws node" (A-E, M, S),
# E2E_SCENARIOS="A B C D E M S" (add T1 T2 T3 TH TM Z1 Z2 ZM F1 F2 F3), E2E_RUNS,
# E2E_SECONDS, E2E_WARMUP, E2E_IDLE, E2E_SCALE, E2E_F1_SUBS, E2E_F2_SUBS, E2E_FAN_DEPTH,
# E2E_F3_RATE, E2E_UWS, E2E_BUILD (the build folder; make bench-e2e: build/tls-deflate-redis).
set -u
cd "$(dirname "$0")/.."

RUNS=${E2E_RUNS:-3}
SECS=${E2E_SECONDS:-5}
WARM=${E2E_WARMUP:-1}
IDLE=${E2E_IDLE:-10000}
SCALE=${E2E_SCALE:-19999}
SERVERS=${E2E_SERVERS:-tcp zws node}
SCENARIOS=${E2E_SCENARIOS:-A B C D E M S}
F1_SUBS=${E2E_F1_SUBS:-1000}
F2_SUBS=${E2E_F2_SUBS:-10000}
FAN_DEPTH=${E2E_FAN_DEPTH:-8}
F3_RATE=${E2E_F3_RATE:-2}
UWS=${E2E_UWS:-build/uws_echo}
# zws-echo --deflate's --max-zlib-memory: past its default (256 MiB) new connections are
# answered without deflate, so ZM's 10,000 would not all compress.
ZLIB_CAP=${E2E_ZLIB_CAP:-$((16 << 30))}
FD_LIMIT=20000
BUILD=${E2E_BUILD:-build}
LOAD=$BUILD/zws-load
OUT=build/e2e
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/*.out "$OUT"/*.csv

say() { printf '%s\n' "$*" >&2; }

if [ ! -x "$LOAD" ] || [ ! -x "$BUILD/tcp_echo" ]; then
  say "e2e: $LOAD and $BUILD/tcp_echo are needed (make bench-e2e builds them)"
  exit 1
fi
wants() { local x; for x in "$@"; do case " $SCENARIOS " in *" $x "*) return 0 ;; esac; done; return 1; }
# A certificate for the TLS rows, made here (the CN and SAN are what zws-load checks).
CERT=$OUT/cert.pem
KEY=$OUT/key.pem
if wants T1 T2 T3 TH TM && ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
     -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost \
     -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1; then
  say "e2e: openssl req failed: no TLS rows"
fi

# --- pinning -------------------------------------------------------------------
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0)
  PIN_LOAD=(taskset -c 1)
  PINNING="server on core 0, zws-load on core 1"
else
  PIN_SERVER=()
  PIN_LOAD=()
  PINNING="not pinned (taskset missing or fewer than 2 cores)"
fi

# --- servers -------------------------------------------------------------------
declare -A AVAILABLE=()
for s in $SERVERS; do
  case $s in
    tcp) AVAILABLE[tcp]=1 ;;
    zws)
      if [ -x "$BUILD/zws-echo" ]; then AVAILABLE[zws]=1
      else say "e2e: skipping zws: $BUILD/zws-echo does not exist (yet)"; fi ;;
    node)
      if ! command -v node >/dev/null; then
        say "e2e: skipping node ws: node is not installed"
      elif [ ! -d bench/node_modules/ws ] && ! (cd bench && timeout 120 npm ci --no-audit --no-fund >/dev/null 2>&1); then
        say "e2e: skipping node ws: could not install ws (cd bench && npm ci)"
      else
        AVAILABLE[node]=1
      fi ;;
    *) say "e2e: unknown server '$s' (tcp, zws, node)" ;;
  esac
done
if [ -x "$UWS" ]; then AVAILABLE[uws]=1
else say "e2e: no uWebSockets peer in the wave-2 rows: $UWS is missing (UWS_DIR=... bench/uws_build.sh builds it)"; fi
# peers KIND...: the peer servers of a wave-2 group that can run here (node*, uws*).
peers() {
  local x
  for x in "$@"; do case $x in node*) [ -n "${AVAILABLE[node]:-}" ] && printf '%s ' "$x" ;; uws*) [ -n "${AVAILABLE[uws]:-}" ] && printf '%s ' "$x" ;; esac; done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

declare -A PID=() PORT=()
FAN_RECORD=24  # fanout_tcp --record: the fan-out rows' message size
REDIS_ADDR=""  # zwsr: the redis-server the two bridged zws-echo use
# Server names: tcp zws node (A-E, M, S); tls tlsrb zwss (T); zwsz zwszs zwszl (Z);
# fan zwsf zwsr zwsr2 (F). zwsr and zwsr2 are the two Redis-bridged zws-echo of F3.
# Peers: nodes uwss (T), nodez uwsz uwszd (Z: uWS shared, dedicated), nodef uwsf (F).
# start_server NAME LOGNAME: starts it on a free port, pinned, with the descriptor limit.
start_server() {
  local name=$1 log="$OUT/server-$1-$2.log" port cmd
  port=$(free_port) || { say "e2e: no free port"; return 1; }
  local echo=("$BUILD/zws-echo" --port "$port" --host 127.0.0.1)
  case $name in
    tcp) cmd=("$BUILD/tcp_echo" --port "$port") ;;
    zws) cmd=("${echo[@]}") ;;
    node) cmd=(node bench/node_echo.js "$port") ;;
    tls) cmd=("$BUILD/tls_echo" --port "$port" --cert "$CERT" --key "$KEY") ;;
    tlsrb) cmd=("$BUILD/tls_echo" --port "$port" --cert "$CERT" --key "$KEY" --release-buffers) ;;
    zwss) cmd=("${echo[@]}" --tls-cert "$CERT" --tls-key "$KEY") ;;
    zwsz) cmd=("${echo[@]}" --deflate --deflate-mode dedicated --max-zlib-memory "$ZLIB_CAP") ;;
    zwszs) cmd=("${echo[@]}" --deflate --deflate-mode shared --max-zlib-memory "$ZLIB_CAP") ;;
    zwszl) cmd=("${echo[@]}" --deflate --deflate-mode lean --max-zlib-memory "$ZLIB_CAP") ;;
    fan) cmd=("$BUILD/fanout_tcp" --port "$port" --record "$FAN_RECORD") ;;
    zwsf) cmd=("${echo[@]}" --fanout) ;;
    zwsr | zwsr2) cmd=("${echo[@]}" --fanout --redis "$REDIS_ADDR") ;;
    nodes) cmd=(node bench/node_echo.js "$port" 127.0.0.1 --tls-cert "$CERT" --tls-key "$KEY") ;;
    nodez) cmd=(node bench/node_echo.js "$port" 127.0.0.1 --deflate) ;;
    nodef) cmd=(node bench/node_echo.js "$port" 127.0.0.1 --fanout) ;;
    uwss) cmd=("$UWS" --port "$port" --tls-cert "$CERT" --tls-key "$KEY") ;;
    uwsz) cmd=("$UWS" --port "$port" --deflate shared) ;;
    uwszd) cmd=("$UWS" --port "$port" --deflate dedicated) ;;
    uwsf) cmd=("$UWS" --port "$port" --fanout) ;;
    redis) cmd=(redis-server --port "$port" --bind 127.0.0.1 --dir "$OUT/redis" --save "" --appendonly no
                --daemonize no --protected-mode yes --loglevel warning) ;;
  esac
  (ulimit -n "$FD_LIMIT" 2>/dev/null; exec "${PIN_SERVER[@]}" "${cmd[@]}") >"$log" 2>&1 &
  PID[$name]=$!
  PORT[$name]=$port
  for _ in $(seq 1 100); do
    if ! port_free "$port"; then return 0; fi
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.05
  done
  say "e2e: $name did not start listening on $port (see $log)"
  stop_server "$name"
  return 1
}
stop_server() {
  local pid=${PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  PID[$1]=
}
server_alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }
LOAD_PIDS=()
WATCH_PIDS=()
cleanup() {
  local p s
  for p in "${LOAD_PIDS[@]}" "${WATCH_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for s in "${!PID[@]}"; do stop_server "$s"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url_of() {
  case $1 in
    tcp | fan) echo "tcp://127.0.0.1:${PORT[$1]}" ;;
    tls | tlsrb) echo "tls://127.0.0.1:${PORT[$1]}" ;;
    zwss | nodes | uwss) echo "wss://127.0.0.1:${PORT[$1]}/" ;;
    zwsf | zwsr | zwsr2 | nodef | uwsf) echo "ws://127.0.0.1:${PORT[$1]}/room" ;;
    *) echo "ws://127.0.0.1:${PORT[$1]}/" ;;
  esac
}
# What zws-load needs to speak to a server besides its URL.
load_flags() {
  case $1 in
    tcp | fan) echo --raw ;;
    tls | tlsrb) echo --raw --ca "$CERT" ;;
    zwss | nodes | uwss) echo --ca "$CERT" ;;
    zwsz | zwszs | zwszl | nodez | uwsz | uwszd) echo --deflate ;;
  esac
}

# A server's CPU seconds so far (utime + stime of /proc/PID/stat), and its resident memory.
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
server_cpu() { awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/${PID[$1]}/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${PID[$1]}/status" 2>/dev/null || echo 0; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
declare -A LOADAVG=()  # per scenario: the load average when its runs ended

json() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "") print "-"; else printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f×", a / b }'; }

# --- throughput scenarios ------------------------------------------------------
declare -A SPEC=(
  [A]="-c 100 -d 1 -s 16" [B]="-c 100 -d 16 -s 16" [C]="-c 100 -d 16 -s 1024"
  [D]="-c 10 -d 1 -s 65536" [E]="-c 4 -d 1 -s 1048576"
  [T1]="-c 100 -d 16 -s 16" [T2]="-c 100 -d 16 -s 1024" [T3]="-c 10 -d 1 -s 65536"
  [TH]="-c 50 --churn -s 16"
  [Z1]="-c 100 -d 16 -s 1024 --payload json" [Z2]="-c 10 -d 4 -s 16384 --payload json")
declare -A R=()  # R[server,scenario,metric] = median (M, S: the one measurement)

# Raw per-run values, R1[server,scenario,metric] = "v1 v2 v3".
declare -A R1=()
run_once() {  # server scenario run
  local s=$1 sc=$2 i=$3 f="$OUT/$2-$1-$3.json" t0 c0 c1 t1 tmo
  tmo=$(awk -v a="$SECS" -v b="$WARM" 'BEGIN { printf "%d", a + b + 30 }')
  c0=$(server_cpu "$s"); t0=$(date +%s.%N)
  # shellcheck disable=SC2046,SC2086
  timeout "$tmo" "${PIN_LOAD[@]}" "$LOAD" "$(url_of "$s")" $(load_flags "$s") ${SPEC[$sc]} \
    -D "$SECS" --warmup "$WARM" --json >"$f" 2>"$OUT/$sc-$s-$i.log"
  c1=$(server_cpu "$s"); t1=$(date +%s.%N)
  if [ ! -s "$f" ]; then say "e2e: $sc on $s run $i produced no result (see $OUT/$sc-$s-$i.log)"; return; fi
  R1[$s,$sc,msgs]+=" $(json "$f" msgs_per_s)"; R1[$s,$sc,mib]+=" $(json "$f" mib_per_s)"
  R1[$s,$sc,p99]+=" $(json "$f" p99)"; R1[$s,$sc,lcpu]+=" $(json "$f" share)"
  # The server's CPU share over the whole run (warm-up included: its rate is the same).
  local share; share=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.3f", (b - a) / (y - x) }')
  R1[$s,$sc,scpu]+=" $share"
  # Server CPU microseconds per message (per handshake in TH): its share over the rate.
  R1[$s,$sc,cpm]+=" $(awk -v c="$share" -v m="$(json "$f" msgs_per_s)" 'BEGIN { if (m > 0) printf "%.3f", c * 1e6 / m }')"
  R1[$s,$sc,wire]+=" $(json "$f" ratio_received)"
  R[$s,$sc,errs]=$(( ${R[$s,$sc,errs]:-0} + $(json "$f" verify) + $(json "$f" protocol) + $(json "$f" connect) \
    + $(json "$f" handshake) + $(json "$f" closed) + $(json "$f" timeout) ))
}
summarize() {  # server scenario
  local s=$1 sc=$2 m
  LOADAVG[$sc]=$(loadavg)
  for m in msgs mib p99 lcpu scpu cpm wire; do
    # shellcheck disable=SC2086
    R[$s,$sc,$m]=$(median ${R1[$s,$sc,$m]:-})
  done
  say "e2e: $sc $s: $(fmt "${R[$s,$sc,msgs]}" 0) msgs/s, $(fmt "${R[$s,$sc,mib]}" 1) MiB/s, p99 $(fmt "${R[$s,$sc,p99]}" 1) us," \
      "cpu server $(fmt "${R[$s,$sc,scpu]}" 2) / zws-load $(fmt "${R[$s,$sc,lcpu]}" 2)," \
      "server $(fmt "${R[$s,$sc,cpm]}" 2) us/msg, errors ${R[$s,$sc,errs]:-0}" \
      "(runs:${R1[$s,$sc,msgs]:-})"
}

# zws-load --idle waits for SIGUSR1, so it runs without `timeout` (which would take
# the signal itself); it bounds its own run (-D), and this kills it if it does not.
WATCH_PIDS=()
watchdog() {  # seconds pid
  (sleep "$1"; kill -9 "$2" 2>/dev/null) >/dev/null 2>&1 &
  WATCH_PIDS+=("$!")
}

# --- M, TM, ZM: RSS per idle connection ----------------------------------------
run_memory() {  # server tag [zws-load flags...]
  local s=$1 tag=$2 f="$OUT/$2-$1.out" before after pid
  shift 2
  start_server "$s" "$tag" || return
  sleep 0.5
  before=$(rss_kib "$s")
  # shellcheck disable=SC2046
  "${PIN_LOAD[@]}" "$LOAD" "$(url_of "$s")" $(load_flags "$s") "$@" --idle "$IDLE" -D 60 --connect-timeout 30 --json \
    >"$f" 2>"$OUT/$tag-$s.log" &
  pid=$!; LOAD_PIDS+=("$pid"); watchdog 240 "$pid"
  for _ in $(seq 1 3600); do grep -q '^ready' "$f" 2>/dev/null && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  sleep 0.5
  after=$(rss_kib "$s")
  kill -USR1 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local open answered agreed
  open=$(json "$f" open); answered=$(json "$f" answered); agreed=$(json "$f" deflate_agreed)
  stop_server "$s"
  if [ -z "$open" ] || [ "$open" = 0 ]; then say "e2e: $tag on $s: no connection opened (see $OUT/$tag-$s.log)"; return; fi
  R[$s,$tag,bytes]=$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
  R[$s,$tag,note]="$answered/$open answered${agreed:+, $agreed agreed on deflate}"
  R[$s,$tag,agreed]=$agreed
  LOADAVG[$tag]=$(loadavg)
  say "e2e: $tag $s: RSS $before KiB -> $after KiB with $open open ($answered answered): ${R[$s,$tag,bytes]} B per connection"
}

# --- S: most connections held and answering --------------------------------------
run_scale() {  # server
  local s=$1 half=$((SCALE / 2)) pids=() files=() k f open=0 answered=0 v
  start_server "$s" S || return
  for k in 1 2; do
    f="$OUT/S-$s-$k.out"; files+=("$f")
    local n=$half; [ "$k" = 2 ] && n=$((SCALE - half))
    # shellcheck disable=SC2046
    "${PIN_LOAD[@]}" "$LOAD" "$(url_of "$s")" $(load_flags "$s") --idle "$n" -D 90 --connect-timeout 8 \
      --json >"$f" 2>"$OUT/S-$s-$k.log" &
    pids+=("$!"); LOAD_PIDS+=("$!"); watchdog 150 "$!"
  done
  for f in "${files[@]}"; do
    for _ in $(seq 1 1800); do grep -q '^ready' "$f" 2>/dev/null && break; sleep 0.05; done
  done
  local rss; rss=$(rss_kib "$s")
  for k in "${pids[@]}"; do kill -USR1 "$k" 2>/dev/null; done
  for k in "${pids[@]}"; do wait "$k" 2>/dev/null; done
  for f in "${files[@]}"; do
    v=$(json "$f" open); open=$((open + ${v:-0}))
    v=$(json "$f" answered); answered=$((answered + ${v:-0}))
  done
  stop_server "$s"
  R[$s,S,held]=$answered
  R[$s,S,note]="$answered of $SCALE attempted, $open open, server RSS $((rss / 1024)) MiB"
  say "e2e: S $s: ${R[$s,S,note]}"
}

# --- F: fan-out ----------------------------------------------------------------------
# One zws-load --fanout run against servers already up; the server CPU share is that
# of every process named in FAN_PROCS (F3: both zws-echo and redis-server) over the
# whole zws-load run, connecting included.
FAN_PROCS=()
procs_cpu() { local t=0 p; for p in "${FAN_PROCS[@]}"; do t=$(awk -v a="$t" -v b="$(server_cpu "$p")" 'BEGIN { print a + b }'); done; echo "$t"; }
run_fan_once() {  # row-name scenario run zws-load-args...
  local s=$1 sc=$2 i=$3 f="$OUT/$2-$1-$3.json" t0 t1 c0 c1 k
  shift 3
  c0=$(procs_cpu); t0=$(date +%s.%N)
  timeout $((SECS + WARM + 90)) "${PIN_LOAD[@]}" "$LOAD" "$@" --fanout -D "$SECS" --warmup "$WARM" --connect-timeout 30 \
    --json >"$f" 2>"$OUT/$sc-$s-$i.log"
  c1=$(procs_cpu); t1=$(date +%s.%N)
  if [ ! -s "$f" ]; then say "e2e: $sc on $s run $i produced no result (see $OUT/$sc-$s-$i.log)"; return; fi
  for k in deliveries_per_s p50 p99 p999 max share; do R1[$s,$sc,$k]+=" $(json "$f" "$k")"; done
  R1[$s,$sc,scpu]+=" $(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.3f", (b - a) / (y - x) }')"
  for k in lost duplicated out_of_order malformed connect closed; do
    R[$s,$sc,errs]=$(( ${R[$s,$sc,errs]:-0} + $(json "$f" "$k") ))
  done
  R[$s,$sc,subscribed]=$(json "$f" subscribed)
}
summarize_fan() {  # row-name scenario
  local s=$1 sc=$2 k
  LOADAVG[$sc]=$(loadavg)
  # shellcheck disable=SC2086
  for k in deliveries_per_s p50 p99 p999 max share scpu; do R[$s,$sc,$k]=$(median ${R1[$s,$sc,$k]:-}); done
  say "e2e: $sc $s: $(fmt "${R[$s,$sc,deliveries_per_s]}" 0) deliveries/s, latency p50 $(fmt "${R[$s,$sc,p50]}" 1)" \
      "p99 $(fmt "${R[$s,$sc,p99]}" 1) p99.9 $(fmt "${R[$s,$sc,p999]}" 1) max $(fmt "${R[$s,$sc,max]}" 1) us," \
      "cpu server $(fmt "${R[$s,$sc,scpu]}" 2) / zws-load $(fmt "${R[$s,$sc,share]}" 2)," \
      "errors ${R[$s,$sc,errs]:-0} (runs:${R1[$s,$sc,deliveries_per_s]:-})"
}
run_fanout_rows() {
  local sc i subs args p peer_list
  for sc in F1 F2; do
    wants "$sc" || continue
    # Node ws only in F1: at F2's rate it falls behind without bound (the issue measured
    # 5 M messages undelivered and 2.4 GB RSS), which says all there is to say.
    if [ "$sc" = F1 ]; then FAN_RECORD=24; subs=$F1_SUBS; args=(-s 24 -d "$FAN_DEPTH"); peer_list=$(peers uwsf nodef)
    else FAN_RECORD=128; subs=$F2_SUBS; args=(-s 128 -R 100); peer_list=$(peers uwsf); fi
    start_server fan "$sc" && start_server zwsf "$sc" || { stop_server fan; continue; }
    for p in $peer_list; do start_server "$p" "$sc" || true; done
    for i in $(seq 1 "$RUNS"); do
      FAN_PROCS=(fan); run_fan_once fan "$sc" "$i" "$(url_of fan)" --raw --subscribers "$subs" "${args[@]}"
      FAN_PROCS=(zwsf); run_fan_once zwsf "$sc" "$i" "$(url_of zwsf)" --subscribers "$subs" "${args[@]}"
      for p in $peer_list; do
        server_alive "$p" || continue
        FAN_PROCS=("$p"); run_fan_once "$p" "$sc" "$i" "$(url_of "$p")" --subscribers "$subs" "${args[@]}"
      done
    done
    stop_server fan; stop_server zwsf
    for p in $peer_list; do stop_server "$p"; done
    summarize_fan fan "$sc"; summarize_fan zwsf "$sc"
    for p in $peer_list; do summarize_fan "$p" "$sc"; done
  done
  if wants F3; then
    if ! command -v redis-server >/dev/null; then say "e2e: skipping F3: redis-server is not installed"; return; fi
    mkdir -p "$OUT/redis"
    start_server redis F3 || return
    REDIS_ADDR=127.0.0.1:${PORT[redis]}
    # F3 and its reference (F2 on one zws-echo) at F3_RATE, interleaved run by run.
    if start_server zwsf F3 && start_server zwsr F3 && start_server zwsr2 F3; then
      for i in $(seq 1 "$RUNS"); do
        FAN_PROCS=(zwsf)
        run_fan_once zwsf F3 "$i" "$(url_of zwsf)" --subscribers "$F2_SUBS" -s 128 -R "$F3_RATE"
        FAN_PROCS=(zwsr zwsr2 redis)
        run_fan_once zwsr F3 "$i" "$(url_of zwsr)" --sub-url "$(url_of zwsr)" --sub-url "$(url_of zwsr2)" \
          --subscribers "$F2_SUBS" -s 128 -R "$F3_RATE"
      done
      summarize_fan zwsf F3; summarize_fan zwsr F3
    fi
    stop_server zwsf; stop_server zwsr; stop_server zwsr2; stop_server redis
  fi
}

# --- Z: zlib's own cost per message (the compression yardstick) -------------------------
declare -A ZLIB=()  # ZLIB[bytes] = deflate + inflate, us per message, context kept
zlib_yardstick() {
  local csv="$OUT/zlib.csv" size d i
  if [ ! -x "$BUILD/zws_bench" ]; then say "e2e: $BUILD/zws_bench is missing: no zlib yardstick"; return; fi
  "${PIN_SERVER[@]}" "$BUILD/zws_bench" --benchmark_filter='^zlib/' --benchmark_min_time=0.5 \
    --benchmark_format=csv >"$csv" 2>"$OUT/zlib.log"
  for size in 1024 16384; do
    d=$(awk -F, -v n="\"zlib/deflate/bytes:$size/reset:0\"" '$1 == n { print $4 }' "$csv")
    i=$(awk -F, -v n="\"zlib/inflate/bytes:$size/reset:0\"" '$1 == n { print $4 }' "$csv")
    ZLIB[$size,deflate]=$(awk -v v="$d" 'BEGIN { if (v != "") printf "%.3f", v / 1000 }')
    ZLIB[$size,inflate]=$(awk -v v="$i" 'BEGIN { if (v != "") printf "%.3f", v / 1000 }')
    ZLIB[$size]=$(awk -v a="$d" -v b="$i" 'BEGIN { if (a != "" && b != "") printf "%.3f", (a + b) / 1000 }')
    say "e2e: zlib per $size B message: deflate ${ZLIB[$size,deflate]} us + inflate ${ZLIB[$size,inflate]} us (context kept)"
  done
}

# --- run -------------------------------------------------------------------------
# A throughput group: every server is started once and stays up (idle when not
# driven); the runs of a scenario are interleaved across servers, so a change in
# background load during the benchmark falls on all of them alike.
run_group() {  # "scenarios" "servers" tag
  local sc s i
  for s in $2; do start_server "$s" "$3" || true; done
  for sc in $1; do
    for i in $(seq 1 "$RUNS"); do
      for s in $2; do
        if ! server_alive "$s"; then
          say "e2e: $s is not running before $sc run $i (see $OUT/server-$s-*.log); restarting it"
          start_server "$s" "$sc-$i" || continue
        fi
        run_once "$s" "$sc" "$i"
      done
    done
    for s in $2; do summarize "$s" "$sc"; done
  done
  for s in $2; do stop_server "$s"; done
}
pick() { local out=() x; for x in "$@"; do wants "$x" && out+=("$x"); done; echo "${out[*]}"; }

say "e2e: $PINNING; $RUNS runs x ${SECS}s (+${WARM}s warm-up) per scenario; servers: ${!AVAILABLE[*]}; load $(loadavg)"
ORDER=()
for s in tcp zws node; do [ -n "${AVAILABLE[$s]:-}" ] && ORDER+=("$s"); done
TP=$(pick A B C D E)
[ -n "$TP" ] && run_group "$TP" "${ORDER[*]}" AE
for s in "${ORDER[@]}"; do
  wants M && run_memory "$s" M
  wants S && run_scale "$s"
done
HAVE_TLS=""
[ -x "$BUILD/tls_echo" ] && [ -s "$CERT" ] && HAVE_TLS=1
if wants T1 T2 T3 TH TM && [ -z "$HAVE_TLS" ]; then say "e2e: skipping T rows: $BUILD/tls_echo or the certificate is missing (make bench-e2e)"; fi
if [ -n "$HAVE_TLS" ]; then
  TP=$(pick T1 T2 T3 TH)
  [ -n "$TP" ] && run_group "$TP" "tls zwss $(peers uwss nodes)" T
  if wants TM; then for s in tls tlsrb zwss zws; do run_memory "$s" TM; done; fi
fi
TP=$(pick Z1 Z2)
if [ -n "$TP" ] || wants ZM; then
  if [[ $BUILD != *deflate* ]]; then  # the build folder names its parts
    say "e2e: skipping Z rows: $BUILD has no deflate"
  else
    [ -n "$TP" ] && zlib_yardstick && run_group "$TP" "zws zwsz zwszs $(peers uwsz uwszd nodez)" Z
    if wants ZM; then
      for s in zws zwsz zwszs zwszl; do run_memory "$s" ZM --idle-warm --payload json -s 1024; done
    fi
  fi
fi
wants F1 F2 F3 && run_fanout_rows

# --- table (also kept in build/e2e/table.md) ---------------------------------------
exec {STDOUT}>&1 > >(tee "$OUT/table.md")
TEE_PID=$!
cell() {  # server scenario metric decimals -> "value (ratio to raw)"
  local v=${R[$1,$2,$3]:-}
  [ -n "$v" ] || { echo "-"; return; }
  if [ "$1" = tcp ]; then fmt "$v" "$4"; else echo "$(fmt "$v" "$4") ($(ratio "$v" "${R[tcp,$2,$3]:-}"))"; fi
}
cpu_cell() {
  local out="" s
  for s in tcp zws node; do
    [ -n "${AVAILABLE[$s]:-}" ] || continue
    out+="${out:+ · }$(fmt "${R[$s,$1,scpu]:-}" 2)/$(fmt "${R[$s,$1,lcpu]:-}" 2)"
  done
  echo "$out"
}
row() {  # label scenario metric decimals
  local line="| $1 | $(cell tcp "$2" "$3" "$4") | $(cell zws "$2" "$3" "$4") | $(cell node "$2" "$3" "$4") |"
  if [ "$3" = msgs ] || [ "$3" = mib ]; then line+=" $(cpu_cell "$2") |"; else line+=" |"; fi
  echo "$line"
}

isa=$(sed -n 's/.*"isa":"\([a-z0-9]*\)".*/\1/p' "$OUT"/*.json "$OUT"/*.out 2>/dev/null | head -n 1)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo
echo "### zws end-to-end benchmark ($(date -u +%Y-%m-%d), ${cpu:-unknown CPU}, $(nproc) cores, $PINNING, zws-load isa ${isa:-?})"
if wants A B C D E M S; then
echo
echo "Medians of $RUNS runs of ${SECS}s after ${WARM}s warm-up; (×) is the ratio to raw TCP. CPU is the"
echo "server's / zws-load's share of one core during the runs (raw · zws · node). Command: \`make bench-e2e\`."
echo
echo "| scenario | raw TCP | zws-echo | Node ws | CPU server/load |"
echo "|---|---|---|---|---|"
case " $SCENARIOS " in *" A "*)
  row "A msgs/s (16 B, 100 conns, depth 1)" A msgs 0
  row "A p99 µs" A p99 1 ;; esac
case " $SCENARIOS " in *" B "*) row "B msgs/s (16 B, 100 conns, depth 16)" B msgs 0 ;; esac
case " $SCENARIOS " in *" C "*) row "C msgs/s (1 KiB, 100 conns, depth 16)" C msgs 0 ;; esac
case " $SCENARIOS " in *" D "*) row "D MiB/s (64 KiB, 10 conns, depth 1)" D mib 1 ;; esac
case " $SCENARIOS " in *" E "*) row "E MiB/s (1 MiB, 4 conns, depth 1)" E mib 1 ;; esac
case " $SCENARIOS " in *" M "*)
  echo "| M RSS bytes per idle conn ($IDLE open) | ${R[tcp,M,bytes]:--} | ${R[zws,M,bytes]:--} | ${R[node,M,bytes]:--} | |" ;; esac
case " $SCENARIOS " in *" S "*)
  echo "| S conns held and answering (limit $FD_LIMIT fds) | ${R[tcp,S,held]:--} | ${R[zws,S,held]:--} | ${R[node,S,held]:--} | |" ;; esac
if [ -n "${R[zws,B,msgs]:-}" ] && [ -n "${R[node,B,msgs]:-}" ]; then
  echo
  echo "zws-echo / Node ws: B $(ratio "${R[zws,B,msgs]}" "${R[node,B,msgs]}"), C $(ratio "${R[zws,C,msgs]:-}" "${R[node,C,msgs]:-}")"
fi
fi

# --- wave 2 tables: each row against its own yardstick ---------------------------------
vr() {  # yardstick-server server scenario metric decimals -> "value (ratio)"
  local v=${R[$2,$3,$4]:-}
  [ -n "$v" ] || { echo "-"; return; }
  echo "$(fmt "$v" "$5") ($(ratio "$v" "${R[$1,$3,$4]:-}"))"
}
v() { fmt "${R[$1,$2,$3]:-}" "$4"; }
cpu2() {  # scenario server... -> "s/l · s/l"
  local out="" x sc=$1; shift
  for x in "$@"; do out+="${out:+ · }$(fmt "${R[$x,$sc,scpu]:-}" 2)/$(fmt "${R[$x,$sc,lcpu]:-${R[$x,$sc,share]:-}}" 2)"; done
  echo "$out"
}
if wants T1 T2 T3 TH; then
  echo
  echo "#### TLS (zws-echo wss:// against tls_echo, the raw TLS 1.3 echo; zws-load --raw tls:// for it)"
  echo
  echo "(×) is the ratio to the raw TLS echo; zws ÷ Node is zws-echo's rate over Node ws's."
  echo
  echo "| row | raw TLS echo | zws-echo wss:// | server CPU µs per msg: raw · zws (ratio) | uWS SSLApp | Node ws (zws ÷ Node) | CPU server/load: raw · zws · uWS · Node | load avg |"
  echo "|---|---|---|---|---|---|---|---|"
  tls_row() {  # label scenario metric decimals
    wants "$2" || return 0
    echo "| $1 | $(v tls "$2" "$3" "$4") | $(vr tls zwss "$2" "$3" "$4") | $(v tls "$2" cpm 2) · $(vr tls zwss "$2" cpm 2) | $(vr tls uwss "$2" "$3" "$4") | $(v nodes "$2" "$3" "$4") ($(ratio "${R[zwss,$2,$3]:-}" "${R[nodes,$2,$3]:-}")) | $(cpu2 "$2" tls zwss uwss nodes) | ${LOADAVG[$2]:-} |"
  }
  tls_row "T1 msgs/s (16 B, 100 conns, depth 16)" T1 msgs 0
  tls_row "T2 msgs/s (1 KiB, 100 conns, depth 16)" T2 msgs 0
  tls_row "T3 MiB/s (64 KiB, 10 conns, depth 1)" T3 mib 1
  tls_row "TH handshakes/s (50 in flight; zws: TCP+TLS+upgrade+echo+close, raw: TCP+TLS+echo+close)" TH msgs 0
fi
if wants TM; then
  echo
  echo "| TM RSS bytes per idle conn ($IDLE open) | tls_echo | tls_echo --release-buffers | zws-echo wss:// | zws-echo ws:// (plain) | load avg |"
  echo "|---|---|---|---|---|---|"
  echo "| after the TLS handshake (and the upgrade) | ${R[tls,TM,bytes]:--} | ${R[tlsrb,TM,bytes]:--} | ${R[zwss,TM,bytes]:--} | ${R[zws,TM,bytes]:--} | ${LOADAVG[TM]:-} |"
fi
if wants Z1 Z2; then
  echo
  echo "#### permessage-deflate (zws-echo --deflate, JSON text from zws-load --payload json --deflate)"
  echo
  echo "Yardstick per message = the plain zws-echo's CPU per message for the same documents (no deflate) +"
  echo "zlib's own deflate + inflate per message of the same documents (zws_bench zlib/*/reset:0: level 6, window 15,"
  echo "memLevel 8, context kept, as zws-echo --deflate --deflate-mode dedicated and zws-load agree; one stream per"
  echo "connection of the row, taking turns as the server's do). Wire ratio: payload / frame bytes of the echoes."
  echo
  echo "| row | plain msgs/s | deflate msgs/s | plain µs/msg | zlib µs/msg (deflate + inflate) | yardstick µs/msg | zws --deflate µs/msg (ratio) | wire ratio | CPU server/load: plain · deflate | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  z_row() {  # label scenario bytes
    wants "$2" || return 0
    local y z=${ZLIB[$3]:-} d=${R[zwsz,$2,cpm]:-}
    y=$(awk -v a="${R[zws,$2,cpm]:-}" -v b="$z" 'BEGIN { if (a != "" && b != "") printf "%.2f", a + b }')
    echo "| $1 | $(v zws "$2" msgs 0) | $(v zwsz "$2" msgs 0) | $(v zws "$2" cpm 2) | $(fmt "$z" 2) (${ZLIB[$3,deflate]:-?} + ${ZLIB[$3,inflate]:-?}) | ${y:--} | $(fmt "$d" 2) ($(ratio "$d" "$y")) | $(v zwsz "$2" wire 2) | $(cpu2 "$2" zws zwsz) | ${LOADAVG[$2]:-} |"
  }
  z_row "Z1 (1 KiB JSON, 100 conns, depth 16)" Z1 1024
  z_row "Z2 (16 KiB JSON, 10 conns, depth 4)" Z2 16384
  echo
  echo "Against the peers, same run (msgs/s, server µs/msg, wire ratio of the echoes; (×) is the ratio to zws dedicated):"
  echo
  echo "| row | zws dedicated | zws shared (default) | uWS shared | uWS dedicated | Node ws perMessageDeflate | CPU server/load: zws ded · zws sh · uWS sh · uWS ded · Node |"
  echo "|---|---|---|---|---|---|---|"
  zp() { [ -n "${R[$1,$2,msgs]:-}" ] || { echo "-"; return; }; echo "$(vr zwsz "$1" "$2" msgs 0), $(v "$1" "$2" cpm 2) µs, wire $(v "$1" "$2" wire 2)"; }
  for sc in Z1 Z2; do
    wants "$sc" || continue
    echo "| $sc | $(v zwsz $sc msgs 0), $(v zwsz $sc cpm 2) µs, wire $(v zwsz $sc wire 2) | $(zp zwszs $sc) | $(zp uwsz $sc) | $(zp uwszd $sc) | $(zp nodez $sc) | $(cpu2 $sc zwsz zwszs uwsz uwszd nodez) |"
  done
fi
if wants ZM; then
  echo
  echo "| ZM RSS bytes per conn ($IDLE open, one 1 KiB JSON message exchanged) | plain zws-echo | dedicated | shared (the default) | lean | load avg |"
  echo "|---|---|---|---|---|---|"
  echo "| after one message each | ${R[zws,ZM,bytes]:--} | ${R[zwsz,ZM,bytes]:--} (${R[zwsz,ZM,agreed]:-?} agreed) | ${R[zwszs,ZM,bytes]:--} (${R[zwszs,ZM,agreed]:-?} agreed) | ${R[zwszl,ZM,bytes]:--} (${R[zwszl,ZM,agreed]:-?} agreed) | ${LOADAVG[ZM]:-} |"
fi
if wants F1 F2 F3; then
  echo
  echo "#### fan-out (zws-echo --fanout against fanout_tcp, the raw TCP fan-out; zws-load --fanout [--raw])"
  echo
  echo "(×) is the ratio to the raw fan-out."
  echo
  echo "| row | raw TCP fan-out | zws-echo --fanout | uWS App::publish | Node ws (loop over clients) | CPU server/load: raw · zws · uWS · Node | load avg |"
  echo "|---|---|---|---|---|---|---|"
  if wants F1; then
    echo "| F1 deliveries/s ($F1_SUBS subscribers, 24 B, depth $FAN_DEPTH) | $(v fan F1 deliveries_per_s 0) | $(vr fan zwsf F1 deliveries_per_s 0) | $(vr fan uwsf F1 deliveries_per_s 0) | $(vr fan nodef F1 deliveries_per_s 0) | $(cpu2 F1 fan zwsf uwsf nodef) | ${LOADAVG[F1]:-} |"
  fi
  if wants F2; then
    for m in p50 p99 p999 max; do
      label=$m; [ "$m" = p999 ] && label=p99.9
      line="| F2 $label µs ($F2_SUBS subscribers, 128 B, 100 msgs/s) | $(v fan F2 $m 1) | $(vr fan zwsf F2 $m 1) | $(vr fan uwsf F2 $m 1) | not run |"
      [ "$m" = p50 ] && line+=" $(cpu2 F2 fan zwsf uwsf) | ${LOADAVG[F2]:-} |" || line+=" | |"
      echo "$line"
    done
  fi
  if wants F3; then
    echo
    echo "| F3 ($F2_SUBS subscribers, 128 B, $F3_RATE msgs/s) | one zws-echo --fanout | two zws-echo --fanout --redis + redis-server | Redis adds |"
    echo "|---|---|---|---|"
    for m in p50 p99 p999 max; do
      label=$m; [ "$m" = p999 ] && label=p99.9
      echo "| $label µs | $(v zwsf F3 $m 1) | $(v zwsr F3 $m 1) | $(awk -v a="${R[zwsr,F3,$m]:-}" -v b="${R[zwsf,F3,$m]:-}" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%+.3f ms", (a - b) / 1000 }') |"
    done
    echo "| deliveries/s; CPU server/load | $(v zwsf F3 deliveries_per_s 0); $(cpu2 F3 zwsf) | $(v zwsr F3 deliveries_per_s 0); $(cpu2 F3 zwsr) (both zws-echo + redis) | ${LOADAVG[F3]:-} |"
  fi
fi
errors=0
for k in "${!R[@]}"; do case $k in *,errs) errors=$((errors + R[$k])) ;; esac; done
echo
for s in tcp zws node tls tlsrb zwss zwsz zwszs zwszl nodes nodez uwss uwsz uwszd; do
  for x in M S TM ZM; do [ -n "${R[$s,$x,note]:-}" ] && echo "- $x $s: ${R[$s,$x,note]}"; done
done
for s in fan zwsf zwsr uwsf nodef; do
  for x in F1 F2 F3; do
    [ -n "${R[$s,$x,errs]:-}" ] && echo "- $x $s: ${R[$s,$x,subscribed]:-?} subscribed; lost, duplicated, out-of-order, malformed, connect and closed: ${R[$s,$x,errs]}"
  done
done
echo "- verification/connect errors over all throughput runs: $errors (details in $OUT/)"
requested() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }
if requested zws && [ -z "${AVAILABLE[zws]:-}" ]; then echo "- zws-echo was not measured: build/zws-echo does not exist yet"; fi
if requested node && [ -z "${AVAILABLE[node]:-}" ]; then echo "- Node ws was not measured: node or the ws package is missing"; fi
exec >&"$STDOUT"  # closes tee's input; let it finish before returning
wait "$TEE_PID" 2>/dev/null
exit 0
