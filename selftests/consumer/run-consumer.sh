#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In-kernel QUIC consumers through net/handshake, in the guest: the sample module
# (samples/quic) as client and server, the handshake agent (agent/, kquic-agent) serving the
# kernel's handshake requests with x509 credentials, and the quic CLI as the userspace peer.
# Prints TAP. Needs quic.ko loaded (selftests/run.sh does it).
#   run-consumer.sh <kquic-agent> <quic_sample.ko> <quic CLI>
set -u
AGENT=$1 SAMPLE=$2 QUIC=$3
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
echo "TAP version 13"
echo "1..5"
for f in "$AGENT" "$SAMPLE" "$QUIC"; do
  if [ ! -e "$f" ]; then
    echo "# missing $f"
    for i in 1 2 3 4 5; do echo "ok $i # SKIP $f not built"; done
    exit 0
  fi
done

D=$(mktemp -d)
trap 'kill $agent $srv 2>/dev/null; rmmod quic_sample 2>/dev/null; rm -rf "$D"' EXIT
agent="" srv=""
"$QUIC" gen-cert --out "$D" --name localhost >/dev/null || { echo "Bail out! gen-cert"; exit 1; }
cat > "$D/agent.toml" <<EOC
[agent]
log_level = "info"
[limits]
default_timeout_ms = 20000
[client]
ca_file = "$D/cert.pem"
[server]
cert_file = "$D/cert.pem"
key_file = "$D/key.pem"
EOC
start_agent() {
  "$AGENT" --config "$D/agent.toml" --foreground 2>>"$D/agent.log" &
  agent=$!
  # Ready once it has joined the multicast group; a second is plenty under TCG.
  for _ in $(seq 50); do grep -qi 'ready\|listening\|serving' "$D/agent.log" && break; sleep 0.2; done
}
start_agent

# 1. Kernel to kernel: the sample's server and its client, both handshaken by the agent.
if insmod "$SAMPLE" role=both port=4701 streams=3 2>"$D/err"; then
  served=$(cat /sys/module/quic_sample/parameters/served)
  rmmod quic_sample
  [ "$served" -ge 1 ] && ok "kernel client <-> kernel server, x509, 3 streams" \
    || not_ok "kernel client <-> kernel server" "server echoed $served streams"
else
  not_ok "kernel client <-> kernel server" "insmod: $(cat "$D/err")"
fi

# 2. Userspace client (quic CLI, rustls) to a kernel server.
if insmod "$SAMPLE" role=server port=4702 2>"$D/err"; then
  got=$(echo "from userspace" | timeout 60 "$QUIC" connect 127.0.0.1:4702 --ca "$D/cert.pem" \
        --alpn sample 2>"$D/cli.err")
  for _ in $(seq 20); do [ "$(cat /sys/module/quic_sample/parameters/served)" -ge 1 ] && break; sleep 0.2; done
  served=$(cat /sys/module/quic_sample/parameters/served)
  rmmod quic_sample
  if [ "$got" = "from userspace" ] && [ "$served" -ge 1 ]; then
    ok "userspace client -> kernel server, x509"
  else
    not_ok "userspace client -> kernel server" "echo '$got', served $served: $(tail -2 "$D/cli.err")"
  fi
else
  not_ok "userspace client -> kernel server" "insmod: $(cat "$D/err")"
fi

# 3. Kernel client to a userspace server (quic listen --echo).
"$QUIC" listen --addr 127.0.0.1:4703 --cert "$D/cert.pem" --key "$D/key.pem" --alpn sample \
  --echo >/dev/null 2>"$D/srv.err" &
srv=$!
sleep 1
if insmod "$SAMPLE" role=client port=4703 streams=1 message=kernel-to-userspace 2>"$D/err"; then
  rmmod quic_sample
  ok "kernel client -> userspace server, x509"
else
  not_ok "kernel client -> userspace server" "insmod: $(cat "$D/err"); $(tail -2 "$D/srv.err")"
fi
kill $srv 2>/dev/null; wait $srv 2>/dev/null; srv=""

# 4. A handshake the agent fails (no server listening behind the port: the client's Initial
#    goes unanswered) ends with an error within the request's timeout, not a hang.
start=$(date +%s)
if insmod "$SAMPLE" role=client port=4704 timeout_ms=3000 2>/dev/null; then
  rmmod quic_sample
  not_ok "failed handshake reports an error" "insmod succeeded"
else
  took=$(( $(date +%s) - start ))
  [ $took -le 30 ] && ok "failed handshake reports an error (${took} s)" \
    || not_ok "failed handshake reports an error" "took $took s"
fi

# 5. No agent: the request is never accepted; the consumer's timeout ends it with an error.
kill $agent 2>/dev/null; wait $agent 2>/dev/null; agent=""
start=$(date +%s)
"$QUIC" listen --addr 127.0.0.1:4705 --cert "$D/cert.pem" --key "$D/key.pem" --alpn sample \
  --echo >/dev/null 2>&1 &
srv=$!
sleep 1
if insmod "$SAMPLE" role=client port=4705 timeout_ms=2000 2>/dev/null; then
  rmmod quic_sample
  not_ok "no agent: the consumer gets an error" "insmod succeeded"
else
  took=$(( $(date +%s) - start ))
  [ $took -le 30 ] && ok "no agent: the consumer gets an error (${took} s)" \
    || not_ok "no agent: the consumer gets an error" "took $took s"
fi
echo "# agent log:"; sed 's/^/#   /' "$D/agent.log" | tail -20
echo "# totals: pass:$((n - fail)) fail:$fail"
[ $fail -eq 0 ]
