#!/usr/bin/env bash
# test/interop/load_cases.sh — zws-load itself: it drives real echo servers
# without error, and it notices every way an echo can be wrong.
# usage: load_cases.sh ECHO_URL FAULT_BASE_URL [NODE_ECHO_URL]
#   ECHO_URL        a zws-echo (ws://127.0.0.1:P/)
#   FAULT_BASE_URL  test/interop/fault_server.py (ws://127.0.0.1:P): /MODE/AT picks the fault
#   NODE_ECHO_URL   a Node ws echo server, when there is one
# --raw cases run when RAW_ECHO_URL (a tcp_echo, tcp://127.0.0.1:P) is set, and
# RAW_FAULTS lists test/interop/raw_fault_server.py instances as MODE=URL words.
# It also starts zws-echo instances of its own for wss:// (certificates from
# test/certs.sh), --deflate and --fanout, and for the two-instance fan-out a
# redis-server in its temporary directory (ZWS_BUILD's parts decide which run).
# Prints one "ok - ..." or "not ok - ..." line per case.
set -u
bin=${ZWS_BUILD:-build}
load=$bin/zws-load
echo_url=$1 fault=$2 node_url=${3:-}

field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<< "$1" | head -n 1; }

# run NAME EXPECT URL ARGS...: EXPECT is "clean" (exit 0, echoes counted, no
# error of any kind) or "caught" (exit 3 and a verification or protocol error).
run() {
  local name=$1 expect=$2 url=$3; shift 3
  local out rc msgs verify protocol closed timeout
  out=$(timeout -k 2 20 "$load" "$url" "$@" -D 0.5 --warmup 0 --timeout 2 --json 2>/dev/null)
  rc=$?
  msgs=$(field "$out" messages); verify=$(field "$out" verify); protocol=$(field "$out" protocol)
  closed=$(field "$out" closed); timeout=$(field "$out" timeout)
  local seen="exit $rc, messages ${msgs:-?}, verify ${verify:-?}, protocol ${protocol:-?}, closed ${closed:-?}, timeout ${timeout:-?}"
  if [ "$expect" = clean ]; then
    if [ "$rc" -eq 0 ] && [ "${msgs:-0}" -gt 0 ] && [ "$verify$protocol$closed$timeout" = 0000 ]; then
      echo "ok - zws-load: $name"
    else
      echo "not ok - zws-load: $name: $seen"
    fi
  elif [ "$rc" -eq 3 ] && [ $(( ${verify:-0} + ${protocol:-0} )) -gt 0 ]; then
    echo "ok - zws-load catches $name"
  else
    echo "not ok - zws-load catches $name: $seen"
  fi
}

# Real servers: every size class of the sender (inline masking, kernel masking,
# 16-bit and 64-bit lengths, pieces of large messages), binary and text.
for s in 0 16 125 126 1000 65535 70000 200000 1048577; do
  run "zws-echo, $s B" clean "$echo_url" -c 2 -d 4 -s "$s"
done
run "zws-echo, 1000 B text" clean "$echo_url" -c 2 -d 4 -s 1000 --text
run "zws-echo, 300000 B text" clean "$echo_url" -c 2 -d 1 -s 300000 --text
run "zws-echo, open loop" clean "$echo_url" -c 4 -d 8 -s 64 -R 2000
if [ -n "$node_url" ]; then
  for s in 16 1000 200000; do run "node ws echo, $s B" clean "$node_url" -c 2 -d 4 -s "$s"; done
fi

# Echoes that are right but unusual must pass.
for mode in ok frag ping nonmin; do
  for s in 16 1000 200000; do run "fault server '$mode', $s B" clean "$fault/$mode" -c 1 -d 2 -s "$s"; done
done

# A server that reads nothing at first: the first burst (6.4 MB) is only partly
# taken by the kernel, and the rest must follow intact.
run "fault server 'slow', depth 64 x 100000 B" clean "$fault/slow" -c 1 -d 64 -s 100000

# Echoes that are wrong must be caught.
for mode in flip stamp swap dup op short rsv shift; do
  for s in 16 1000; do run "'$mode' ($s B)" caught "$fault/$mode/50" -c 1 -d 2 -s "$s"; done
  run "'$mode' (200000 B)" caught "$fault/$mode/5" -c 1 -d 2 -s 200000
done
for mode in block blockdup; do
  run "'$mode' (200000 B)" caught "$fault/$mode/5" -c 1 -d 2 -s 200000
done

# --raw: plain TCP against the raw echo server, every size class (sent from the
# stream image below 128 KiB, generated piece by piece from there on), and
# streams broken on purpose, which must be caught wherever the break falls.
if [ -n "${RAW_ECHO_URL:-}" ]; then
  for s in 16 1000 65536 200000 1048577; do
    run "--raw, tcp_echo, $s B" clean "$RAW_ECHO_URL" --raw -c 2 -d 4 -s "$s"
  done
  for fault in ${RAW_FAULTS:-}; do
    if [ "${fault%%=*}" = slow ]; then
      # Reads nothing at first: 4 MiB in flight meet full socket buffers, and
      # what the kernel refuses must be sent again, intact.
      run "--raw, slow server, depth 4 x 1048576 B" clean "${fault#*=}" --raw -c 1 -d 4 -s 1048576
      continue
    fi
    # A swap holds 32 KiB back: only messages larger than that keep it fed.
    sizes="1000 200000 1048577"
    [ "${fault%%=*}" = swap ] && sizes="200000 1048577"
    for s in $sizes; do
      run "--raw '${fault%%=*}' ($s B)" caught "${fault#*=}" --raw -c 1 -d 4 -s "$s"
    done
  done
fi

# --- wss://, permessage-deflate and fan-out: against zws-echo instances this
# script starts itself (port 0: each says which port it got), and a redis-server
# in its own temporary directory. Every process started here is stopped by its
# PID on exit. A part the build lacks (TLS, DEFLATE, REDIS) is not tested.
tmp=$(mktemp -d)
own=()
stop_own() {
  local pid
  for pid in "${own[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${own[@]}"; do wait "$pid" 2>/dev/null; done
  own=()
}
trap 'stop_own; rm -rf "$tmp"' EXIT

# echo_server VAR NAME ARGS...: starts zws-echo ARGS, sets VAR to its port.
echo_server() {
  local var=$1 name=$2 port=; shift 2
  "$bin/zws-echo" --host 127.0.0.1 --port 0 "$@" > "$tmp/$name.log" 2>&1 &
  own+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's#.*listening on wss*://127.0.0.1:\([0-9]*\)/.*#\1#p' "$tmp/$name.log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "not ok - zws-load: start zws-echo $*: $(head -c 300 "$tmp/$name.log")"; return 1; }
  printf -v "$var" %s "$port"
}
# has_part WHAT: whether the build has it ("zws was built without WHAT" otherwise).
has_part() { ! grep -qF "built without $1" "$tmp/probes"; }
{ "$load" wss://127.0.0.1:1/ -D 0.1; "$load" ws://127.0.0.1:1/ --deflate -D 0.1; } > /dev/null 2> "$tmp/probes"
"$bin/zws-echo" --port 0 --fanout --redis 127.0.0.1:1 > /dev/null 2>> "$tmp/probes" &
probe=$!; sleep 0.3; kill $probe 2>/dev/null; wait $probe 2>/dev/null

# wss://: every size class through the TLS session, the open loop, verification.
if has_part TLS; then
  certs=$tmp/certs
  if bash test/certs.sh "$certs" > "$tmp/certs.log" 2>&1 &&
     echo_server tls_port tls --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --deflate &&
     echo_server unknown_port unknown --tls-cert "$certs/unknown.pem" --tls-key "$certs/unknown.key"; then
    wss="wss://localhost:$tls_port/"
    for s in 16 1000 70000 200000 1048577; do run "zws-echo over wss, $s B" clean "$wss" --ca "$certs/ca.pem" -c 2 -d 4 -s "$s"; done
    run "zws-echo over wss, open loop" clean "$wss" --ca "$certs/ca.pem" -c 4 -d 8 -s 64 -R 2000
    run "zws-echo over wss, --insecure against an unknown CA" clean "wss://localhost:$unknown_port/" --insecure -c 2 -s 100
    out=$(timeout -k 2 20 "$load" "wss://localhost:$unknown_port/" --ca "$certs/ca.pem" -c 2 -D 0.5 --warmup 0 --json 2>&1)
    rc=$?
    if [ $rc -eq 3 ] && [ "$(field "$out" handshake)" = 2 ] && [[ $out == *"certificate verify failed"* ]]; then
      echo "ok - zws-load: wss:// refuses an unknown CA (exit 3, OpenSSL's reason)"
    else echo "not ok - zws-load: wss:// refuses an unknown CA: exit $rc, $(head -c 300 <<< "$out")"; fi
  else
    echo "not ok - zws-load: wss:// servers: $(tail -n 3 "$tmp/certs.log" "$tmp"/tls.log "$tmp"/unknown.log 2>/dev/null | tr '\n' ' ')"
  fi
fi

# --deflate: every echo inflated and checked; JSON compresses on the wire both ways.
# deflated NAME URL MIN_RATIO ARGS...: clean, deflate agreed on every connection,
# payload/frame bytes above MIN_RATIO both ways (below it, for a server that declines).
deflated() {
  local name=$1 url=$2 min=$3; shift 3
  local out rc agreed rs rr
  out=$(timeout -k 2 20 "$load" "$url" --deflate "$@" -c 2 -d 4 -D 0.5 --warmup 0 --timeout 2 --json 2>/dev/null)
  rc=$?
  agreed=$(field "$out" deflate_agreed); rs=$(field "$out" ratio_sent); rr=$(field "$out" ratio_received)
  local seen="exit $rc, agreed ${agreed:-?}, ratio sent ${rs:-?}, received ${rr:-?}, verify $(field "$out" verify)"
  if [ "$min" = declined ]; then
    if [ $rc -eq 0 ] && [ "$agreed" = 0 ] && awk "BEGIN { exit !($rr <= 1 && $rs <= 1) }"; then echo "ok - zws-load --deflate: $name"
    else echo "not ok - zws-load --deflate: $name: $seen"; fi
  elif [ $rc -eq 0 ] && [ "$agreed" = 2 ] && awk "BEGIN { exit !($rr > $min && $rs > $min) }"; then
    echo "ok - zws-load --deflate: $name (ratio $rs sent, $rr received)"
  else echo "not ok - zws-load --deflate: $name: $seen"; fi
}
if has_part permessage-deflate; then
  if echo_server zecho_port zecho --deflate; then
    zurl="ws://127.0.0.1:$zecho_port/"
    deflated "zws-echo --deflate, JSON 1 KiB (Z1)" "$zurl" 1.5 --payload json -s 1024
    deflated "zws-echo --deflate, JSON 16 KiB (Z2)" "$zurl" 1.5 --payload json -s 16k
    for s in 16 1000 200000; do deflated "zws-echo --deflate, pattern $s B" "$zurl" 0.5 -s "$s"; done
    deflated "zws-echo --deflate, text 70000 B" "$zurl" 1 --text -s 70000
    deflated "zws-echo without --deflate: declined, ratio <= 1 reported" "$echo_url" declined --payload json -s 1024
    [ -n "${tls_port:-}" ] && deflated "zws-echo --deflate over wss, JSON 1 KiB" "wss://localhost:$tls_port/" 1.5 \
      --payload json -s 1024 --ca "$certs/ca.pem"
  fi
fi

# --fanout: every subscriber gets every message once, in order.
# fanned NAME EXPECT ARGS...: EXPECT "clean" (exit 0; nothing lost, duplicated
# or out of order; deliveries = subscribers x published > 0) or "caught" (exit 3, losses counted).
fanned() {
  local name=$1 expect=$2; shift 2
  local out rc pub del subs lost dup ooo
  out=$(timeout -k 2 40 "$load" "$@" --fanout -D 1 --warmup 0.5 --timeout 2 --json 2>/dev/null)
  rc=$?
  pub=$(field "$out" published); del=$(field "$out" deliveries); subs=$(field "$out" subscribed)
  lost=$(field "$out" lost); dup=$(field "$out" duplicated); ooo=$(field "$out" out_of_order)
  local seen="exit $rc, published ${pub:-?}, deliveries ${del:-?}, subscribed ${subs:-?}, lost ${lost:-?}, duplicated ${dup:-?}, out of order ${ooo:-?}"
  if [ "$expect" = clean ]; then
    if [ $rc -eq 0 ] && [ "${pub:-0}" -gt 0 ] && [ "$del" -eq $((subs * pub)) ] && [ "$lost$dup$ooo" = 000 ]; then
      echo "ok - zws-load --fanout: $name ($subs x $pub = $del deliveries)"
    else echo "not ok - zws-load --fanout: $name: $seen"; fi
  elif [ $rc -eq 3 ] && [ "${lost:-0}" -gt 0 ]; then echo "ok - zws-load --fanout catches $name"
  else echo "not ok - zws-load --fanout catches $name: $seen"; fi
}
if echo_server fan_port fanout --fanout && echo_server lone_port lone --fanout; then
  room="ws://127.0.0.1:$fan_port/room"
  fanned "zws-echo --fanout, closed loop" clean "$room" --subscribers 20 --publishers 2 -d 4
  fanned "zws-echo --fanout, open loop 2000/s, 2 threads" clean "$room" --subscribers 40 --publishers 4 -R 2000 --threads 2
  fanned "zws-echo --fanout, 4000 B messages" clean "$room" --subscribers 10 --publishers 2 -s 4000
  fanned "zws-echo --fanout, 70000 B messages (64-bit lengths)" clean "$room" --subscribers 4 --publishers 1 -s 70000
  # The runs above take zws-load's lean ws:// worker (fanout_ws.hpp); these its
  # zws-client one, which wss:// and --deflate take too.
  fanned "zws-echo --fanout, closed loop, --zws-client" clean "$room" --zws-client --subscribers 20 --publishers 2 -d 4
  fanned "zws-echo --fanout, open loop 2000/s, 2 threads, --zws-client" clean "$room" --zws-client --subscribers 40 \
    --publishers 4 -R 2000 --threads 2
  # Two servers that share nothing: the second one's subscribers miss every message.
  fanned "subscribers on an unbridged second server" caught "$room" --subscribers 4 --publishers 1 -R 500 \
    --sub-url "$room" --sub-url "ws://127.0.0.1:$lone_port/room"
  if has_part permessage-deflate && echo_server zfan_port zfanout --fanout --deflate; then
    fanned "zws-echo --fanout --deflate" clean "ws://127.0.0.1:$zfan_port/room" --deflate --subscribers 10 --publishers 2
  fi
  if [ -n "${tls_port:-}" ] && echo_server sfan_port sfanout --fanout --tls-cert "$certs/server.pem" --tls-key "$certs/server.key"; then
    fanned "zws-echo --fanout over wss" clean "wss://localhost:$sfan_port/room" --ca "$certs/ca.pem" --subscribers 10 --publishers 2
  fi
fi

# Two zws-echo --fanout bridged through a redis-server of our own: one room.
redis_port() {  # var: a free loopback port
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { printf -v "$1" %s "$p"; return 0; }
  done
  return 1
}
if has_part "the Redis bridge"; then
  if ! command -v redis-server > /dev/null; then
    echo "not ok - zws-load --fanout through Redis: peer not installed (redis-server); make deps installs it"
  else
    redis_ok=false
    for attempt in 1 2 3; do
      redis_port rport || break
      mkdir -p "$tmp/redis"
      redis-server --bind 127.0.0.1 --port "$rport" --dir "$tmp/redis" --save '' --appendonly no --daemonize no \
        > "$tmp/redis.log" 2>&1 &
      redis_pid=$!
      own+=($redis_pid)
      for _ in $(seq 100); do
        grep -q "Ready to accept connections" "$tmp/redis.log" && { redis_ok=true; break; }
        kill -0 $redis_pid 2>/dev/null || break
        sleep 0.05
      done
      $redis_ok && break
      kill $redis_pid 2>/dev/null
    done
    if $redis_ok && echo_server r1_port redis1 --fanout --redis "127.0.0.1:$rport" &&
       echo_server r2_port redis2 --fanout --redis "127.0.0.1:$rport"; then
      r1="ws://127.0.0.1:$r1_port/room" r2="ws://127.0.0.1:$r2_port/room"
      fanned "two zws-echo bridged by Redis, open loop" clean "$r1" --subscribers 20 --publishers 2 -R 2000 \
        --sub-url "$r1" --sub-url "$r2"
      fanned "two zws-echo bridged by Redis, closed loop, publisher on one, subscribers on the other" clean "$r1" --subscribers 20 \
        --publishers 1 -d 8 --sub-url "$r2"
    else
      echo "not ok - zws-load --fanout through Redis: start redis-server and two zws-echo: $(tail -n 3 "$tmp/redis.log" | tr '\n' ' ')"
    fi
  fi
fi

# The benchmarks' yardsticks (bench/) and the modes zws-load drives them with:
# --raw over TLS against tls_echo, --churn (handshakes per second), --fanout --raw
# against fanout_tcp, --idle-warm. Built with the parts they need (make test-build).
# bench_server VAR NAME CMD...: CMD with @PORT@ replaced by a free port; waits
# for its "listening" line on stderr.
bench_server() {
  local var=$1 name=$2 bport; shift 2
  redis_port bport || { echo "not ok - zws-load: no free port for $name"; return 1; }
  "${@//@PORT@/$bport}" > "$tmp/$name.log" 2>&1 &
  own+=($!)
  for _ in $(seq 100); do
    grep -q listening "$tmp/$name.log" 2> /dev/null && { printf -v "$var" %s "$bport"; return 0; }
    sleep 0.05
  done
  echo "not ok - zws-load: start $name: $(head -c 300 "$tmp/$name.log")"
  return 1
}
if [ -n "${certs:-}" ] && [ -x "$bin/tls_echo" ] &&
   bench_server tlsraw_port tls_echo "$bin/tls_echo" --host 127.0.0.1 --port @PORT@ --cert "$certs/server.pem" --key "$certs/server.key"; then
  for s in 16 1000 200000 1048577; do
    run "--raw over TLS, tls_echo, $s B" clean "tls://localhost:$tlsraw_port" --raw --ca "$certs/ca.pem" -c 2 -d 4 -s "$s"
  done
  run "--raw --churn over TLS (TCP + TLS + one echo + close), tls_echo" clean "tls://localhost:$tlsraw_port" --raw --churn \
    --ca "$certs/ca.pem" -c 4 -s 16
  out=$(timeout -k 2 20 "$load" "tls://localhost:$tlsraw_port" --raw --ca "$certs/unknown-ca.pem" -c 1 -D 0.5 --warmup 0 --json 2>&1)
  rc=$?
  if [ $rc -eq 3 ] && [[ $out == *"certificate verify failed"* ]]; then
    echo "ok - zws-load: --raw over TLS verifies the certificate (exit 3, OpenSSL's reason)"
  else echo "not ok - zws-load: --raw over TLS verifies the certificate: exit $rc, $(head -c 300 <<< "$out")"; fi
fi
if [ -n "${tls_port:-}" ]; then
  run "--churn over wss (TCP + TLS + upgrade + one echo + close), zws-echo" clean "wss://localhost:$tls_port/" --churn \
    --ca "$certs/ca.pem" -c 4 -s 16
  out=$(timeout -k 2 20 "$load" "wss://localhost:$tls_port/" --ca "$certs/ca.pem" --idle 20 --idle-warm -D 0.2 --json 2> /dev/null)
  rc=$?
  if [ $rc -eq 0 ] && [ "$(field "$out" open)" = 20 ] && [ "$(field "$out" answered)" = 20 ]; then
    echo "ok - zws-load: --idle 20 --idle-warm over wss (every connection answered)"
  else echo "not ok - zws-load: --idle 20 --idle-warm over wss: exit $rc, $(head -c 300 <<< "$out")"; fi
fi
run "--churn, zws-echo (TCP + upgrade + one echo + close)" clean "$echo_url" --churn -c 4 -s 16
if [ -x "$bin/fanout_tcp" ] && bench_server fanraw_port fanout_tcp "$bin/fanout_tcp" --port @PORT@ --record 64; then
  fanned "--raw, fanout_tcp" clean "tcp://127.0.0.1:$fanraw_port" --raw --subscribers 10 --publishers 2 -s 64
fi
