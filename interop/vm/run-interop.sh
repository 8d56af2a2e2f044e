#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# quic.ko against stacks nobody here wrote, inside the guest over its loopback: kquic-ko-peer
# (the interop protocol over IPPROTO_QUIC sockets) as client and as server against quinn
# (quinn-peer) and aioquic (interop/aioquic/interop_peer.py in the venv that `make interop`
# makes). Each case runs one client connection against a fresh server on its own port:
# handshake, then either 10 MB up and 10 MB down on one stream or 100 concurrent streams of
# small requests and responses, every byte checked by hash, then the client closes. Servers of
# ours run with --max-conns 1 and must exit 0 after that close (everything served, the close
# seen); aioquic's server is killed after its case.
#   interop/vm/run-interop.sh BUILD_DIR
# BUILD_DIR holds kquic-ko-peer and quinn-peer (cargo build --release -p quic-interop --bins:
# target/release). Assumes quic.ko is loaded. Prints kselftest TAP; exit status 0 when every
# test passed. The aioquic interpreter is $KQUIC_AIOQUIC_PYTHON, else the venv under
# ${KQUIC_CACHE:-~/.cache/kquic}; without it the aioquic cases are skipped.
set -u
BUILD=$(realpath "${1:?usage: run-interop.sh BUILD_DIR (holding kquic-ko-peer and quinn-peer)}")
HERE=$(cd "$(dirname "$0")" && pwd)
KO="$BUILD/kquic-ko-peer"
QUINN="$BUILD/quinn-peer"
AIO_SCRIPT="$HERE/../aioquic/interop_peer.py"
PY="${KQUIC_AIOQUIC_PYTHON:-${KQUIC_CACHE:-${HOME:-/root}/.cache/kquic}/aioquic-venv/bin/python}"
# Every peer process is bounded by this (seconds), the clients' own deadlines a little less.
# A bound against hangs, not a speed target: aioquic's cases take 70-120 s when other VMs share
# the host's cores (Python's start-up alone is most of it), so there is room above that.
LIMIT=240
CLIENT_TIMEOUT=230
# The debug kernel (KASAN, lockdep, kmemleak) slows every packet several times over: longer
# limits, and aioquic (pure Python, ~1 Mbit/s under TCG even without KASAN) is left to the
# default kernel, where its cases run in `make check`.
debug_kernel=0
case "$(uname -r)" in *-debug) LIMIT=300 CLIENT_TIMEOUT=290 debug_kernel=1 ;; esac
BULK=10000000                   # 10 MB each way on one stream
# aioquic is pure Python: under the guest's emulated CPU it moves about 1 Mbit/s and its event
# loop blocks for tens of seconds while it builds a 10 MB body (longer than the 30 s idle
# timeout), so its bulk cases move 1 MB each way.
AIO_BULK=1000000
STREAMS=100 SMALL=10000         # 100 streams, 10 kB each way
PORT_BASE=24430

WORK=$(mktemp -d /tmp/kquic-interop.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

have_aioquic=0
[ -x "$PY" ] && "$PY" -c 'import aioquic' 2>/dev/null && have_aioquic=1

# name  client  server  family  workload
CASES=(
  "ko_client_quinn_server_bulk_10mb      ko    quinn v4 bulk"
  "ko_client_quinn_server_100_streams    ko    quinn v4 streams"
  "quinn_client_ko_server_bulk_10mb      quinn ko    v4 bulk"
  "quinn_client_ko_server_100_streams    quinn ko    v4 streams"
  "ko_client_aioquic_server_bulk_1mb     ko    aio   v4 bulk"
  "ko_client_aioquic_server_100_streams  ko    aio   v4 streams"
  "aioquic_client_ko_server_bulk_1mb     aio   ko    v4 bulk"
  "aioquic_client_ko_server_100_streams  aio   ko    v4 streams"
  "ko_client_quinn_server_v6_100_streams ko    quinn v6 streams"
  "quinn_client_ko_server_v6_bulk_10mb   quinn ko    v6 bulk"
  "aioquic_client_ko_server_v6_streams   aio   ko    v6 streams"
)

n=0 passed=0 failed=0
echo "TAP version 13"
echo "1..$(( ${#CASES[@]} + 1 ))"

report() { # name status [reason]
  n=$((n + 1))
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok $n $1"
  else failed=$((failed + 1)); echo "not ok $n $1${3:+ # $3}"; fi
}

skip() { # name reason
  n=$((n + 1)); passed=$((passed + 1)); echo "ok $n $1 # SKIP $2"
}

# Indents a file's lines as TAP comments (the last 20 lines).
comment() { [ -s "$1" ] && tail -n 20 "$1" | sed 's/^/# /'; }

# Waits until the server's stdout ($1) has a line starting with $2, while the server lives.
wait_ready() {
  local out=$1 word=$2 i
  for ((i = 0; i < 600; i++)); do
    grep -q "^$word" "$out" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Runs one case; sets $why on failure and returns non-zero.
run_case() { # client server family workload port dir
  local client=$1 server=$2 fam=$3 work=$4 port=$5 dir=$6
  local host=127.0.0.1 addr ca rc srv_rc ready=ready
  [ "$fam" = v6 ] && host=::1
  if [ "$fam" = v6 ]; then addr="[::1]:$port"; else addr="127.0.0.1:$port"; fi
  local up down streams
  if [ "$work" = bulk ] && { [ "$client" = aio ] || [ "$server" = aio ]; }; then
    streams=1 up=$AIO_BULK down=$AIO_BULK
  elif [ "$work" = bulk ]; then streams=1 up=$BULK down=$BULK
  else streams=$STREAMS up=$SMALL down=$SMALL; fi
  mkdir -p "$dir"
  ca="$dir/cert.pem"

  case $server in
    ko)    timeout $LIMIT "$KO" server --listen "$addr" --cert-out "$dir" --max-conns 1 \
             >"$dir/server.out" 2>"$dir/server.err" & ;;
    quinn) timeout $LIMIT "$QUINN" server --listen "$addr" --cert-out "$dir" --max-conns 1 \
             >"$dir/server.out" 2>"$dir/server.err" & ;;
    aio)   if ! "$QUINN" cert --out "$dir" >/dev/null 2>"$dir/server.err"; then
             why="no certificate for the aioquic server"; return 1
           fi
           ready=listening
           timeout $LIMIT "$PY" "$AIO_SCRIPT" server --host "$host" --port "$port" \
             --cert "$dir/cert.pem" --key "$dir/key.pem" --seconds $LIMIT \
             >"$dir/server.out" 2>"$dir/server.err" & ;;
  esac
  server_pid=$!
  if ! wait_ready "$dir/server.out" "$ready"; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
    comment "$dir/server.err"
    why="$server server did not start"
    return 1
  fi

  case $client in
    ko)    timeout $LIMIT "$KO" client --server "$addr" --ca "$ca" --streams $streams \
             --up $up --down $down --timeout $CLIENT_TIMEOUT >"$dir/client.out" 2>&1 ;;
    quinn) timeout $LIMIT "$QUINN" client --server "$addr" --ca "$ca" --streams $streams \
             --up $up --down $down --timeout $CLIENT_TIMEOUT >"$dir/client.out" 2>&1 ;;
    aio)   timeout $LIMIT "$PY" "$AIO_SCRIPT" client --host "$host" --port "$port" --ca "$ca" \
             --streams $streams --up $up --down $down --timeout $CLIENT_TIMEOUT \
             >"$dir/client.out" 2>&1 ;;
  esac
  rc=$?
  comment "$dir/client.out"

  if [ "$server" = aio ] || [ $rc != 0 ]; then
    # aioquic's server runs until killed; after a failed client ours could wait long for a
    # close that may not come.
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
    if [ $rc != 0 ]; then
      comment "$dir/server.err"
      why="$client client exit $rc$([ $rc = 124 ] && echo ' (timeout)')"
      return 1
    fi
    return 0
  fi
  # Ours exit by themselves once the client's connection is closed and fully served.
  wait "$server_pid"
  srv_rc=$?
  server_pid=""
  comment "$dir/server.out"
  if [ $srv_rc != 0 ]; then
    comment "$dir/server.err"
    why="$server server exit $srv_rc after the client's close$([ $srv_rc = 124 ] && echo ' (timeout)')"
    return 1
  fi
  return 0
}

grep -q '^quic ' /proc/modules 2>/dev/null
report quic_module_loaded $? "quic.ko is not loaded"

i=0
for c in "${CASES[@]}"; do
  read -r name client server fam work <<<"$c"
  i=$((i + 1))
  if [ "$client" = aio ] || [ "$server" = aio ]; then
    if [ $have_aioquic = 0 ]; then skip "$name" "no aioquic venv"; continue; fi
    if [ $debug_kernel = 1 ]; then skip "$name" "aioquic too slow under KASAN in TCG"; continue; fi
  fi
  if [ ! -x "$KO" ] || [ ! -x "$QUINN" ]; then
    report "$name" 1 "$BUILD lacks kquic-ko-peer or quinn-peer"
    continue
  fi
  echo "# $name: $client client -> $server server over $fam, $work"
  why=""
  start=$SECONDS
  run_case "$client" "$server" "$fam" "$work" $((PORT_BASE + i)) "$WORK/$name"
  rc=$?
  echo "# $name: $((SECONDS - start)) s"
  report "$name" $rc "$why"
done

echo "# totals: pass:$passed fail:$failed"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
