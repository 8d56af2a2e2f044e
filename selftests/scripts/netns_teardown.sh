#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A network namespace torn down with live QUIC connections: a server and a client connected in
# a fresh namespace are killed (SIGKILL, no close by the application) and the namespace is
# deleted. Passes when the connection was up, everything exits, and the namespace's sockets are
# gone (the kernel log and kmemleak checks of selftests/run.sh then cover the rest).
# Prints kselftest TAP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
QUIC=$HERE/bin/quic
NS=kquic-netns-$$
TMP=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
# The sleeping writers behind the pipes are this script's children: killed on exit too.
trap 'pkill -9 -P $$ sleep 2>/dev/null; cleanup' EXIT
echo "TAP version 13"
echo "1..3"
fail() { echo "not ok $1 # $2"; exit 1; }

ip netns add "$NS" && ip -n "$NS" link set lo up || fail 1 "cannot make a network namespace"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns "$QUIC" gen-cert --out "$TMP" --name localhost >/dev/null 2>&1 || fail 1 "gen-cert failed"
# Both ends keep stdin open (a sleeping writer behind a pipe; no FIFO, which the guest's 9p /tmp
# cannot hold) so the connection stays up until killed.
in_ns "$QUIC" listen --addr 127.0.0.1:4433 --cert "$TMP/cert.pem" --key "$TMP/key.pem" -v \
  < <(exec sleep 600 2>/dev/null) >/dev/null 2>"$TMP/server.log" &
pids+=($!)
sleep 1
in_ns "$QUIC" connect 127.0.0.1:4433 --ca "$TMP/cert.pem" -v < <(exec sleep 600 2>/dev/null) >/dev/null \
  2>"$TMP/client.log" &
pids+=($!)
up=0
for _ in $(seq 100); do
  grep -q "connected" "$TMP/client.log" 2>/dev/null && { up=1; break; }
  sleep 0.2
done
if [ $up = 1 ]; then echo "ok 1 connection_up_in_namespace"
else sed 's/^/# /' "$TMP/client.log" "$TMP/server.log"; fail 1 "the connection did not come up"; fi

udp=$(in_ns cat /proc/net/udp | tail -n +2 | wc -l)
echo "# UDP tunnel sockets in the namespace: $udp"
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
echo "ok 2 processes_killed"

ip netns del "$NS" || fail 3 "ip netns del failed"
# The namespace goes once its last socket is released (an RCU grace period later).
gone=0
for _ in $(seq 50); do
  ip netns list | grep -q "^$NS" || { gone=1; break; }
  sleep 0.1
done
[ $gone = 1 ] && echo "ok 3 namespace_deleted" || fail 3 "namespace still listed"
echo "# totals: pass:3 fail:0"
