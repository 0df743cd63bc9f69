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
# Everything is bounded by timeouts; servers are killed by PID. Details (every run's
# JSON, server logs) go to build/e2e/. Knobs: E2E_SERVERS="tcp zws node",
# E2E_SCENARIOS="A B C D E M S", E2E_RUNS, E2E_SECONDS, E2E_WARMUP, E2E_IDLE, E2E_SCALE.
set -u
cd "$(dirname "$0")/.."

RUNS=${E2E_RUNS:-3}
SECS=${E2E_SECONDS:-5}
WARM=${E2E_WARMUP:-1}
IDLE=${E2E_IDLE:-10000}
SCALE=${E2E_SCALE:-19999}
SERVERS=${E2E_SERVERS:-tcp zws node}
SCENARIOS=${E2E_SCENARIOS:-A B C D E M S}
FD_LIMIT=20000
LOAD=build/zws-load
OUT=build/e2e
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/*.out

say() { printf '%s\n' "$*" >&2; }

if [ ! -x "$LOAD" ] || [ ! -x build/tcp_echo ]; then
  say "e2e: build/zws-load and build/tcp_echo are needed (make bench-e2e builds them)"
  exit 1
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
      if [ -x build/zws-echo ]; then AVAILABLE[zws]=1
      else say "e2e: skipping zws: build/zws-echo does not exist (yet)"; fi ;;
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
# start_server NAME LOGNAME: starts it on a free port, pinned, with the descriptor limit.
start_server() {
  local name=$1 log="$OUT/server-$1-$2.log" port cmd
  port=$(free_port) || { say "e2e: no free port"; return 1; }
  case $name in
    tcp) cmd=(build/tcp_echo --port "$port") ;;
    zws) cmd=(build/zws-echo --port "$port" --host 127.0.0.1) ;;
    node) cmd=(node bench/node_echo.js "$port") ;;
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

url_of() { if [ "$1" = tcp ]; then echo "tcp://127.0.0.1:${PORT[$1]}"; else echo "ws://127.0.0.1:${PORT[$1]}/"; fi; }
raw_flag() { if [ "$1" = tcp ]; then echo --raw; fi; }

# A server's CPU seconds so far (utime + stime of /proc/PID/stat), and its resident memory.
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
server_cpu() { awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/${PID[$1]}/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${PID[$1]}/status" 2>/dev/null || echo 0; }

json() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "") print "-"; else printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f×", a / b }'; }

# --- throughput scenarios ------------------------------------------------------
declare -A SPEC=(
  [A]="-c 100 -d 1 -s 16" [B]="-c 100 -d 16 -s 16" [C]="-c 100 -d 16 -s 1024"
  [D]="-c 10 -d 1 -s 65536" [E]="-c 4 -d 1 -s 1048576")
declare -A R=()  # R[server,scenario,metric] = median (M, S: the one measurement)

# Raw per-run values, R1[server,scenario,metric] = "v1 v2 v3".
declare -A R1=()
run_once() {  # server scenario run
  local s=$1 sc=$2 i=$3 f="$OUT/$2-$1-$3.json" t0 c0 c1 t1 tmo
  tmo=$(awk -v a="$SECS" -v b="$WARM" 'BEGIN { printf "%d", a + b + 30 }')
  c0=$(server_cpu "$s"); t0=$(date +%s.%N)
  # shellcheck disable=SC2046,SC2086
  timeout "$tmo" "${PIN_LOAD[@]}" "$LOAD" "$(url_of "$s")" $(raw_flag "$s") ${SPEC[$sc]} \
    -D "$SECS" --warmup "$WARM" --json >"$f" 2>"$OUT/$sc-$s-$i.log"
  c1=$(server_cpu "$s"); t1=$(date +%s.%N)
  if [ ! -s "$f" ]; then say "e2e: $sc on $s run $i produced no result (see $OUT/$sc-$s-$i.log)"; return; fi
  R1[$s,$sc,msgs]+=" $(json "$f" msgs_per_s)"; R1[$s,$sc,mib]+=" $(json "$f" mib_per_s)"
  R1[$s,$sc,p99]+=" $(json "$f" p99)"; R1[$s,$sc,lcpu]+=" $(json "$f" share)"
  R1[$s,$sc,scpu]+=" $(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.3f", (b - a) / (y - x) }')"
  R[$s,$sc,errs]=$(( ${R[$s,$sc,errs]:-0} + $(json "$f" verify) + $(json "$f" protocol) + $(json "$f" connect) \
    + $(json "$f" handshake) + $(json "$f" closed) + $(json "$f" timeout) ))
}
summarize() {  # server scenario
  local s=$1 sc=$2 m
  for m in msgs mib p99 lcpu scpu; do
    # shellcheck disable=SC2086
    R[$s,$sc,$m]=$(median ${R1[$s,$sc,$m]:-})
  done
  say "e2e: $sc $s: $(fmt "${R[$s,$sc,msgs]}" 0) msgs/s, $(fmt "${R[$s,$sc,mib]}" 1) MiB/s, p99 $(fmt "${R[$s,$sc,p99]}" 1) us," \
      "cpu server $(fmt "${R[$s,$sc,scpu]}" 2) / zws-load $(fmt "${R[$s,$sc,lcpu]}" 2), errors ${R[$s,$sc,errs]:-0}" \
      "(runs:${R1[$s,$sc,msgs]:-})"
}

# zws-load --idle waits for SIGUSR1, so it runs without `timeout` (which would take
# the signal itself); it bounds its own run (-D), and this kills it if it does not.
WATCH_PIDS=()
watchdog() {  # seconds pid
  (sleep "$1"; kill -9 "$2" 2>/dev/null) >/dev/null 2>&1 &
  WATCH_PIDS+=("$!")
}

# --- M: RSS per idle connection ----------------------------------------------
run_memory() {  # server
  local s=$1 f="$OUT/M-$s.out" before after pid
  start_server "$s" M || return
  sleep 0.5
  before=$(rss_kib "$s")
  # shellcheck disable=SC2046
  "${PIN_LOAD[@]}" "$LOAD" "$(url_of "$s")" $(raw_flag "$s") --idle "$IDLE" -D 60 --json >"$f" 2>"$OUT/M-$s.log" &
  pid=$!; LOAD_PIDS+=("$pid"); watchdog 120 "$pid"
  for _ in $(seq 1 1200); do grep -q '^ready' "$f" 2>/dev/null && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  sleep 0.5
  after=$(rss_kib "$s")
  kill -USR1 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local open answered
  open=$(json "$f" open); answered=$(json "$f" answered)
  stop_server "$s"
  if [ -z "$open" ] || [ "$open" = 0 ]; then say "e2e: M on $s: no connection opened (see $OUT/M-$s.log)"; return; fi
  R[$s,M,bytes]=$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
  R[$s,M,note]="$answered/$open answered"
  say "e2e: M $s: RSS $before KiB -> $after KiB with $open open ($answered answered): ${R[$s,M,bytes]} B per connection"
}

# --- S: most connections held and answering --------------------------------------
run_scale() {  # server
  local s=$1 half=$((SCALE / 2)) pids=() files=() k f open=0 answered=0 v
  start_server "$s" S || return
  for k in 1 2; do
    f="$OUT/S-$s-$k.out"; files+=("$f")
    local n=$half; [ "$k" = 2 ] && n=$((SCALE - half))
    # shellcheck disable=SC2046
    "${PIN_LOAD[@]}" "$LOAD" "$(url_of "$s")" $(raw_flag "$s") --idle "$n" -D 90 --connect-timeout 8 \
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

# --- run -------------------------------------------------------------------------
# A-E: every server is started once and stays up (idle when not driven); the runs
# of a scenario are interleaved across servers, so a change in background load
# during the benchmark falls on all of them alike.
say "e2e: $PINNING; $RUNS runs x ${SECS}s (+${WARM}s warm-up) per scenario; servers: ${!AVAILABLE[*]}"
ORDER=()
for s in tcp zws node; do [ -n "${AVAILABLE[$s]:-}" ] && ORDER+=("$s"); done
TP=()
for sc in A B C D E; do case " $SCENARIOS " in *" $sc "*) TP+=("$sc") ;; esac; done
if [ ${#TP[@]} -gt 0 ]; then
  for s in "${ORDER[@]}"; do start_server "$s" AE || true; done
  for sc in "${TP[@]}"; do
    for i in $(seq 1 "$RUNS"); do
      for s in "${ORDER[@]}"; do
        if ! server_alive "$s"; then
          say "e2e: $s is not running before $sc run $i (see $OUT/server-$s-*.log); restarting it"
          start_server "$s" "$sc-$i" || continue
        fi
        run_once "$s" "$sc" "$i"
      done
    done
    for s in "${ORDER[@]}"; do summarize "$s" "$sc"; done
  done
  for s in "${ORDER[@]}"; do stop_server "$s"; done
fi
for s in "${ORDER[@]}"; do
  case " $SCENARIOS " in *" M "*) run_memory "$s" ;; esac
  case " $SCENARIOS " in *" S "*) run_scale "$s" ;; esac
done

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
errors=0
for k in "${!R[@]}"; do case $k in *,errs) errors=$((errors + R[$k])) ;; esac; done
echo
for s in tcp zws node; do
  for x in M S; do [ -n "${R[$s,$x,note]:-}" ] && echo "- $x $s: ${R[$s,$x,note]}"; done
done
echo "- verification/connect errors over all throughput runs: $errors (details in $OUT/)"
requested() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }
if requested zws && [ -z "${AVAILABLE[zws]:-}" ]; then echo "- zws-echo was not measured: build/zws-echo does not exist yet"; fi
if requested node && [ -z "${AVAILABLE[node]:-}" ]; then echo "- Node ws was not measured: node or the ws package is missing"; fi
exec >&"$STDOUT"  # closes tee's input; let it finish before returning
wait "$TEE_PID" 2>/dev/null
exit 0
