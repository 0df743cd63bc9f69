#!/usr/bin/env bash
# test/interop/load_cases.sh — zws-load itself: it drives real echo servers
# without error, and it notices every way an echo can be wrong.
# usage: load_cases.sh ECHO_URL FAULT_BASE_URL [NODE_ECHO_URL]
#   ECHO_URL        a zws-echo (ws://127.0.0.1:P/)
#   FAULT_BASE_URL  test/interop/fault_server.py (ws://127.0.0.1:P): /MODE/AT picks the fault
#   NODE_ECHO_URL   a Node ws echo server, when there is one
# --raw cases run when RAW_ECHO_URL (a tcp_echo, tcp://127.0.0.1:P) is set, and
# RAW_FAULTS lists test/interop/raw_fault_server.py instances as MODE=URL words.
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
