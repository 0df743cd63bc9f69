#!/usr/bin/env bash
# zws-cat against a server we did not write (ws_server.js or py_server.py,
# directly or through nginx).
#   cat_cases.sh NAME BASE_URL SERVER_LOG
# SERVER_LOG is the server's output, where it logs "close PATH CODE REASON".
# With a build that has zlib, --deflate also runs against the peer and against a
# zws-echo --deflate of its own (in dedicated and in the default mode), behind a relay
# that counts the bytes on the wire.
# Prints one "ok - NAME: case" / "not ok - NAME: case" line per case.
set -u
name=$1 base=$2 server_log=$3
bin=${ZWS_BUILD:-build}
cat=$bin/zws-cat
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

ok() { echo "ok - $name: $1"; }
not_ok() { failed=1; echo "not ok - $name: $1${2:+: $2}"; }
wait_log() {  # fixed string, seconds
  local deadline=$((SECONDS + $2))
  while [ "$SECONDS" -le "$deadline" ]; do grep -qF -- "$1" "$server_log" && return 0; sleep 0.05; done
  return 1
}

# Sends file $1 line by line to $2 (extra args after), expects the same lines back.
roundtrip() {  # title, input file, url, zws-cat options...
  local title=$1 in=$2 url=$3; shift 3
  timeout -k 2 60 "$cat" "$@" "$url" < "$in" > "$tmp/out" 2> "$tmp/err"
  local rc=$?
  if [ $rc -ne 0 ]; then not_ok "$title" "exit $rc: $(head -c 300 "$tmp/err")"
  elif ! cmp -s "$in" "$tmp/out"; then not_ok "$title" "output differs ($(wc -c < "$tmp/out") B back, $(wc -c < "$in") B sent)"
  else ok "$title"; fi
}

printf 'Hello WebSockets!\n你好，世界 こんにちは\n🎉🚀 👩‍💻\n\nlast line\n' > "$tmp/text"
# Without --count, zws-cat lingers after stdin's end until replies stop coming.
roundtrip 'text lines ASCII, CJK, emoji, empty (close after linger)' "$tmp/text" "$base/echo"
roundtrip 'text lines ASCII, CJK, emoji, empty (--count)' "$tmp/text" "$base/echo" --count 5
printf 'binary line\x01\x02\xff\xfe\n\x00\x7f\n' > "$tmp/bin"
roundtrip 'binary messages (--binary)' "$tmp/bin" "$base/echo" --binary --count 2
seq 1 1000 | sed 's/^/message /' > "$tmp/many"
roundtrip '1000 messages back-to-back, in order' "$tmp/many" "$base/echo" --count 1000
for n in 0 125 126 65536 1048576 16777216; do
  head -c $((n * 3 / 4)) /dev/urandom | base64 -w0 > "$tmp/size"; echo >> "$tmp/size"
  roundtrip "text message of $(($(wc -c < "$tmp/size") - 1)) B" "$tmp/size" "$base/echo" --count 1
done

# stdout a pipe: every message reaches the reader as it arrives, while zws-cat
# still runs (stdin stays open), in line and --binary mode.
piped() {  # title, zws-cat options...
  local title=$1; shift
  local fifo=$tmp/stdin.fifo line=
  rm -f "$fifo" "$tmp/piped"; mkfifo "$fifo"
  exec 8<>"$fifo"
  { timeout -k 2 20 "$cat" "$@" "$base/echo" < "$fifo" 2> "$tmp/err" |
      { IFS= read -r -t 10 line; printf '%s\n' "$line" > "$tmp/piped"; cat > /dev/null; }; } &
  local pid=$!
  printf 'through a pipe\n' >&8
  for _ in $(seq 100); do [ -s "$tmp/piped" ] && break; sleep 0.1; done
  [ -s "$tmp/piped" ] && line=$(cat "$tmp/piped")
  exec 8>&-
  wait "$pid"
  if [ "$line" = 'through a pipe' ]; then ok "$title"
  else not_ok "$title" "nothing reached the pipe within 10 s while zws-cat ran: '$line' $(head -c 200 "$tmp/err")"; fi
}
piped 'stdout a pipe: a message reaches it at once (lines)'
piped 'stdout a pipe: a message reaches it at once (--binary)' --binary

# Close with a code and reason on stdin EOF; the server logs what it got.
echo hi | timeout -k 2 20 "$cat" --count 1 --close-code 4000 --close-reason "cat says bye ✓" "$base/echo" > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = hi ] && wait_log "close /echo 4000 cat says bye ✓" 10; then ok 'close 4000 + reason on EOF, seen by the server'
else not_ok 'close 4000 + reason on EOF, seen by the server' "exit $rc, $(head -c 200 "$tmp/err")"; fi

# The server refuses the upgrade: non-zero exit, the status on stderr.
timeout -k 2 20 "$cat" "$base/refuse" < /dev/null > /dev/null 2> "$tmp/err"
rc=$?
if [ $rc -ne 0 ] && grep -q 403 "$tmp/err"; then ok 'upgrade refused with 403: error exit, status on stderr'
else not_ok 'upgrade refused with 403: error exit, status on stderr' "exit $rc, stderr: $(head -c 200 "$tmp/err")"; fi

# The server closes first: clean exit, the code and reason reported.
timeout -k 2 20 "$cat" --verbose --no-close "$base/close-first" < /dev/null > /dev/null 2> "$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -qF '4002 server bye ✓' "$tmp/err"; then ok 'server closes first with 4002 + reason: clean exit'
else not_ok 'server closes first with 4002 + reason: clean exit' "exit $rc, stderr: $(head -c 200 "$tmp/err")"; fi

# --echo: the server sends three messages, checks they come back, closes 1000 "echo ok".
timeout -k 2 20 "$cat" --verbose --echo "$base/echo-client" < /dev/null > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/out" ] && grep -qF '1000 echo ok' "$tmp/err"; then ok '--echo returns text and binary unchanged'
else not_ok '--echo returns text and binary unchanged' "exit $rc, stderr: $(head -c 200 "$tmp/err")"; fi

# The server pings; zws answers with the same payload and the server closes 1000 "pong ok".
timeout -k 2 20 "$cat" --verbose --no-close "$base/ping" < /dev/null > /dev/null 2> "$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -qF '1000 pong ok' "$tmp/err"; then ok 'server ping answered with the same payload'
else not_ok 'server ping answered with the same payload' "exit $rc, stderr: $(head -c 200 "$tmp/err")"; fi

# The server's limit: a 2000 B message closes with 1009, an error exit.
{ head -c 2000 /dev/zero | tr '\0' x; echo; } > "$tmp/big"
timeout -k 2 20 "$cat" --no-close "$base/limit" < "$tmp/big" > /dev/null 2> "$tmp/err"
rc=$?
if [ $rc -ne 0 ] && grep -q 1009 "$tmp/err"; then ok 'server limit: too-large message closes with 1009, error exit'
else not_ok 'server limit: too-large message closes with 1009, error exit' "exit $rc, stderr: $(head -c 200 "$tmp/err")"; fi

# --deflate (a build with zlib) against the peer: it accepts the offer (Python
# websockets) or declines it (Node ws by default); the messages come back either way.
if ! grep -q "built without permessage-deflate" <("$cat" --deflate ws://127.0.0.1:1/ < /dev/null 2>&1); then
  roundtrip 'text lines with --deflate offered' "$tmp/text" "$base/echo" --deflate --count 5
  roundtrip '1000 messages with --deflate offered, in order' "$tmp/many" "$base/echo" --deflate --count 1000

  # Against zws-echo --deflate through a relay that counts the bytes each way: 100
  # compressible lines (one message each) must come back intact. In dedicated mode
  # both compressors keep their context, and each way takes well under half the size
  # (uncompressed it takes more). In the default mode (shared: the server compresses
  # each message alone, server_no_context_takeover) zws-cat keeps its context, so
  # upstream still takes under half; downstream every line is compressed on its own,
  # which saves little on lines this short: it must only take less than the lines.
  for i in $(seq 100); do echo "{\"user\":\"alice\",\"event\":\"login\",\"n\":$i,\"note\":\"the same words again and again\"}"; done > "$tmp/json"
  relayed() {  # mode (dedicated, or "" for zws-echo's default): sets rc, same, up, down
    "$bin/zws-echo" --host 127.0.0.1 --port 0 --deflate ${1:+--deflate-mode "$1"} > "$tmp/zecho.log" 2>&1 &
    local zecho=$!
    for _ in $(seq 100); do grep -q "listening on" "$tmp/zecho.log" && break; sleep 0.05; done
    local zport
    zport=$(sed -n 's#.*listening on ws://127.0.0.1:\([0-9]*\)/.*#\1#p' "$tmp/zecho.log")
    rm -f "$tmp/relay.out"
    /usr/bin/python3 -u -c '
import socket, sys, threading
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1); print(ls.getsockname()[1])
c, _ = ls.accept(); u = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); n = [0, 0]
def pump(a, b, i):
    while True:
        d = a.recv(65536)
        if not d: break
        n[i] += len(d); b.sendall(d)
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
t = threading.Thread(target=pump, args=(u, c, 1)); t.start(); pump(c, u, 0); t.join(); print(n[0], n[1])
' "$zport" > "$tmp/relay.out" 2>&1 &
    local relay=$!
    for _ in $(seq 100); do [ -s "$tmp/relay.out" ] && break; sleep 0.05; done
    timeout -k 2 20 "$cat" --deflate --count 100 "ws://127.0.0.1:$(head -n 1 "$tmp/relay.out")/" < "$tmp/json" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    for _ in $(seq 100); do kill -0 $relay 2>/dev/null || break; sleep 0.05; done
    kill $relay $zecho 2>/dev/null; wait $relay $zecho 2>/dev/null
    up= down=
    read -r up down < <(sed -n 2p "$tmp/relay.out")
    same=no
    cmp -s "$tmp/json" "$tmp/out" && same=yes
  }
  size=$(wc -c < "$tmp/json")
  title='--deflate against zws-echo --deflate --deflate-mode dedicated: intact, compressed both ways on the wire'
  relayed dedicated
  if [ $rc -eq 0 ] && [ $same = yes ] && [ "${up:-$size}" -lt $((size / 2)) ] && [ "${down:-$size}" -lt $((size / 2)) ]; then
    ok "$title ($size B of lines: $up B up, $down B down)"
  else not_ok "$title" "exit $rc, output same: $same, $size B of lines, ${up:-?} B up, ${down:-?} B down, $(head -c 200 "$tmp/err")"; fi
  title='--deflate against zws-echo --deflate (default mode, shared): intact, upstream compressed with context, downstream per message'
  relayed ''
  if [ $rc -eq 0 ] && [ $same = yes ] && [ "${up:-$size}" -lt $((size / 2)) ] && [ "${down:-$size}" -lt "$size" ]; then
    ok "$title ($size B of lines: $up B up, $down B down)"
  else not_ok "$title" "exit $rc, output same: $same, $size B of lines, ${up:-?} B up, ${down:-?} B down, $(head -c 200 "$tmp/err")"; fi
fi

# Nobody listening: error exit with a message.
timeout -k 2 20 "$cat" "ws://127.0.0.1:1/" < /dev/null > /dev/null 2> "$tmp/err"
rc=$?
if [ $rc -ne 0 ] && [ -s "$tmp/err" ]; then ok 'connection refused: error exit with a message'
else not_ok 'connection refused: error exit with a message' "exit $rc"; fi

exit $failed
