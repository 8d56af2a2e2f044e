#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The kquic demo, run inside the guest by `make demo`.
set -e
KO=${1:?usage: demo.sh quic.ko demo-build-dir}
OUT=${2:?}
QUIC="$OUT/quic"
echo "== guest kernel: $(uname -r)"
insmod "$KO"
echo "== quic.ko loaded: $(grep '^quic ' /proc/modules | cut -d' ' -f1-3)"
dmesg | grep -E 'quic: ' | grep -v taints | tail -3 | sed 's/^/   /'
echo
"$OUT/quic_sockets"
echo

# Connections: handshake (userspace TLS), streams, close; one process, server thread + client.
timeout 120 "$QUIC" demo
echo
timeout 120 "$QUIC" demo --v6 --streams 8
echo

# Two processes, like ncat: a 4 MiB file through `quic listen` / `quic connect`.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "== quic listen | quic connect: a 4 MiB file over one QUIC stream"
"$QUIC" gen-cert --out "$TMP" --name localhost 2>/dev/null
head -c $((4 << 20)) /dev/urandom >"$TMP/in"
echo "thanks, 4 MiB received" >"$TMP/answer"
# Port 0: the kernel picks one; -v makes the server say which.
timeout 60 "$QUIC" listen --addr 127.0.0.1:0 --cert "$TMP/cert.pem" --key "$TMP/key.pem" \
	--stats -v <"$TMP/answer" >"$TMP/out" 2>"$TMP/server.log" &
SERVER=$!
ADDR=
for _ in $(seq 100); do
	ADDR=$(sed -n 's/^quic: listening on \([^ ]*\) .*/\1/p' "$TMP/server.log")
	[ -n "$ADDR" ] && break
	kill -0 "$SERVER" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$ADDR" ]; then
	echo "   quic listen did not start:"
	sed 's/^/   /' "$TMP/server.log"
	exit 1
fi
echo "   \$ quic listen --addr 127.0.0.1:0 --cert cert.pem --key key.pem --stats -v < answer > out &"
echo "   \$ quic connect $ADDR --ca cert.pem --stats < in"
CLIENT_RC=0
timeout 60 "$QUIC" connect "$ADDR" --ca "$TMP/cert.pem" --stats <"$TMP/in" >"$TMP/reply" \
	2>"$TMP/client.log" || CLIENT_RC=$?
SERVER_RC=0
wait "$SERVER" || SERVER_RC=$?
echo "   server (stderr):"
sed 's/^/     /' "$TMP/server.log"
echo "   client (stderr):"
sed 's/^/     /' "$TMP/client.log"
echo "   client got the reply: $(cat "$TMP/reply")"
IN_SUM=$(sha256sum <"$TMP/in" | cut -d' ' -f1)
OUT_SUM=$(sha256sum <"$TMP/out" | cut -d' ' -f1)
echo "   sha256 sent:     $IN_SUM ($(stat -c %s "$TMP/in") bytes)"
echo "   sha256 received: $OUT_SUM ($(stat -c %s "$TMP/out") bytes)"
if [ "$CLIENT_RC" != 0 ] || [ "$SERVER_RC" != 0 ] || [ "$IN_SUM" != "$OUT_SUM" ] ||
	! cmp -s "$TMP/reply" "$TMP/answer"; then
	echo "== pipe FAILED (client exit $CLIENT_RC, server exit $SERVER_RC)"
	exit 1
fi
echo "== pipe: the file arrived intact"
echo

rmmod quic
echo "== quic.ko unloaded; /proc/net/protocols has $(grep -c '^QUIC' /proc/net/protocols || true) QUIC entries"
