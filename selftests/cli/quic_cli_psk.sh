#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `quic listen --psk` / `quic connect --psk` in the guest (quic.ko loaded): the handshake runs in
# libquic's GnuTLS backend (libquic.so.1, loaded by the CLI), the data goes over the kernel
# socket and is compared byte for byte. A wrong key and a missing file must fail clearly.
#   quic_cli_psk.sh <quic binary> <dir of libquic.so.1>
# Output is TAP; the exit status is 0 only if every case passed.
set -u
QUIC=${1:?usage: quic_cli_psk.sh quic libquic-dir}
export QUIC_LIBQUIC=${2:?usage: quic_cli_psk.sh quic libquic-dir}/libquic.so.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { # status name [diagnostic file]
  n=$((n + 1))
  if [ "$1" = 0 ]; then echo "ok $n - $2"
  else failed=$((failed + 1)); echo "not ok $n - $2"; [ -n "${3:-}" ] && sed 's/^/# /' "$3"; fi
}
hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
echo "# a comment line first" > "$tmp/psk.txt"
echo "kquic-cli:$(hex)" >> "$tmp/psk.txt"
echo "kquic-cli:$(hex)" > "$tmp/wrong.txt"
head -c 1048576 /dev/urandom > "$tmp/in"
head -c 300000 /dev/urandom > "$tmp/reply"
port=7650

# serve <stdin file> <args...>: a listener in the background (pid in $srv), once it is bound.
# (A background command's stdin is /dev/null unless redirected on the command itself.)
serve() {
  local in=$1
  shift
  port=$((port + 1))
  timeout 60 "$QUIC" listen --addr "127.0.0.1:$port" "$@" < "$in" > "$tmp/srv.out" 2> "$tmp/srv.err" &
  srv=$!
  sleep 1
}

echo "TAP version 13"
echo "1..5"

# 1. Echo: 1 MiB through the server and back.
serve /dev/null --psk "$tmp/psk.txt" --echo -v
timeout 60 "$QUIC" connect "127.0.0.1:$port" --psk "$tmp/psk.txt" -v < "$tmp/in" > "$tmp/out" 2> "$tmp/cli.err"
c=$?; wait $srv; s=$?
cat "$tmp/cli.err" "$tmp/srv.err" > "$tmp/log"
[ $c = 0 ] && [ $s = 0 ] && cmp -s "$tmp/in" "$tmp/out" && cmp -s "$tmp/in" "$tmp/srv.out" \
  && grep -q "pre-shared key" "$tmp/cli.err"
ok $? "PSK echo: 1 MiB to the server and back, byte for byte (client $c, server $s)" "$tmp/log"

# 2. Each direction its own data: the client's stdin to the server's stdout, the server's
#    stdin back; ALPN given on both ends.
serve "$tmp/reply" --psk "$tmp/psk.txt" --alpn "kq-psk"
timeout 60 "$QUIC" connect "127.0.0.1:$port" --psk "$tmp/psk.txt" --alpn "kq-psk" < "$tmp/in" > "$tmp/out" 2> "$tmp/cli.err"
c=$?; wait $srv; s=$?
cat "$tmp/cli.err" "$tmp/srv.err" > "$tmp/log"
[ $c = 0 ] && [ $s = 0 ] && cmp -s "$tmp/reply" "$tmp/out" && cmp -s "$tmp/in" "$tmp/srv.out"
ok $? "PSK both directions: 1 MiB up, 300000 bytes down (client $c, server $s)" "$tmp/log"

# 3. Wrong key: both ends fail, nothing is delivered.
serve /dev/null --psk "$tmp/psk.txt" --echo --timeout 5
timeout 60 "$QUIC" connect "127.0.0.1:$port" --psk "$tmp/wrong.txt" --timeout 5 < "$tmp/in" > "$tmp/out" 2> "$tmp/cli.err"
c=$?; wait $srv; s=$?
cat "$tmp/cli.err" "$tmp/srv.err" > "$tmp/log"
sed 's/^/# /' "$tmp/log"
[ $c != 0 ] && [ $s != 0 ] && [ ! -s "$tmp/out" ] && [ ! -s "$tmp/srv.out" ] \
  && grep -q "PSK handshake failed" "$tmp/cli.err"
ok $? "PSK wrong key: client and server fail (client $c, server $s)" "$tmp/log"

# 4. Missing PSK file: a clear error at once, on both commands.
"$QUIC" connect "127.0.0.1:$port" --psk "$tmp/nonexistent" < /dev/null > /dev/null 2> "$tmp/cli.err"
c=$?
"$QUIC" listen --addr "127.0.0.1:$port" --psk "$tmp/nonexistent" < /dev/null > /dev/null 2> "$tmp/srv.err"
s=$?
cat "$tmp/cli.err" "$tmp/srv.err" > "$tmp/log"
sed 's/^/# /' "$tmp/log"
[ $c != 0 ] && [ $s != 0 ] && grep -q "No such file" "$tmp/cli.err" && grep -q "No such file" "$tmp/srv.err"
ok $? "PSK file missing: both commands fail with ENOENT" "$tmp/log"

# 5. libquic not found: a clear error naming QUIC_LIBQUIC.
QUIC_LIBQUIC=$tmp/nolib.so "$QUIC" connect "127.0.0.1:$port" --psk "$tmp/psk.txt" < /dev/null > /dev/null 2> "$tmp/cli.err"
c=$?
[ $c != 0 ] && grep -q "QUIC_LIBQUIC" "$tmp/cli.err"
ok $? "PSK without libquic.so.1: a clear error" "$tmp/cli.err"

exit $((failed != 0))
