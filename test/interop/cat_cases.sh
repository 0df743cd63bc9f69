#!/usr/bin/env bash
# zws-cat against a server we did not write (ws_server.js or py_server.py,
# directly or through nginx).
#   cat_cases.sh NAME BASE_URL SERVER_LOG
# SERVER_LOG is the server's output, where it logs "close PATH CODE REASON".
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

# Nobody listening: error exit with a message.
timeout -k 2 20 "$cat" "ws://127.0.0.1:1/" < /dev/null > /dev/null 2> "$tmp/err"
rc=$?
if [ $rc -ne 0 ] && [ -s "$tmp/err" ]; then ok 'connection refused: error exit with a message'
else not_ok 'connection refused: error exit with a message' "exit $rc"; fi

exit $failed
