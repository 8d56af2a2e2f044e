#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The spec's appendix programs against quic.ko (selftests/run.sh runs this in the VM; the
# binaries and keys are in bin/ and libquic-keys/ beside it). TAP.
#  - Appendix A: its server and client exchange their messages over two streams each way;
#  - Appendix B: its server_handshake()/client_handshake() (a GnuTLS session through
#    quic_handshake(), ticket key, ALPN) complete a handshake;
#  - Appendix C: a first connection gives the client the server's session ticket (kept by the
#    kernel), its transport parameters and a NEW_TOKEN token; a second connection from the same
#    address sets them, sends early data before the handshake and resumes.
set -u
D=$(cd "$(dirname "$0")" && pwd)
K=$D/libquic-keys
n=0 failed=0
t() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else failed=$((failed + 1)); echo "not ok $n - $2"; fi; }

out=$(mktemp -d)
timeout 30 "$D/bin/appendix-a" server 127.0.0.1 7501 "$K/key.pem" "$K/cert.pem" sample >"$out/as" 2>&1 &
sp=$!
sleep 1
timeout 30 "$D/bin/appendix-a" client 127.0.0.1 7501 sample >"$out/ac" 2>&1
crc=$?
wait $sp; src=$?
sed 's/^/# server: /' "$out/as"; sed 's/^/# client: /' "$out/ac"
t $crc "appendix A client exits 0"
t $src "appendix A server exits 0"
grep -q 'recv: "hello quic server stream 0!", len: 27, sid: 0' "$out/as"
t $? "appendix A server got stream 0's three writes in order"
grep -q 'recv: "hello quic server stream 2!", len: 27, sid: 2' "$out/as"
t $? "appendix A server got stream 2's two writes"
grep -q 'recv: "hello quic client stream 1!", len: 27, sid: 1' "$out/ac"
t $? "appendix A client got the server's stream 1"

timeout 30 "$D/bin/appendix-b" server 127.0.0.1 7502 "$K/key.pem" "$K/cert.pem" sample >"$out/bs" 2>&1 &
sp=$!
sleep 1
timeout 30 "$D/bin/appendix-b" client 127.0.0.1 7502 sample >"$out/bc" 2>&1
crc=$?
wait $sp; src=$?
sed 's/^/# server: /' "$out/bs"; sed 's/^/# client: /' "$out/bc"
t $crc "appendix B client_handshake() succeeds"
t $src "appendix B server_handshake() succeeds"
snmp() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/quic/snmp 2>/dev/null || echo 0; }
zrtt() { snmp QuicHandshakes0RTT; }
z0=$(zrtt)
r0=$(snmp QuicListenerAnswers)
timeout 60 "$D/bin/appendix-c" server 127.0.0.1 7503 "$K/key.pem" "$K/cert.pem" sample >"$out/cs" 2>&1 &
sp=$!
sleep 1
timeout 60 "$D/bin/appendix-c" client 127.0.0.1 7503 sample >"$out/cc" 2>&1
crc=$?
wait $sp; src=$?
sed 's/^/# server: /' "$out/cs"; sed 's/^/# client: /' "$out/cc"
t $crc "appendix C client exits 0"
t $src "appendix C server exits 0"
grep -Eq 'get the session ticket [1-9][0-9]* and transport param [1-9][0-9]* and ?token [1-9]' "$out/cc"
t $? "appendix C client got a session ticket, the server's parameters and a token"
grep -q "recv 'hello quic server, I'm back!' on stream 2" "$out/cs"
t $? "appendix C server got the early data of the resumed connection"
grep -q "recv 'hello quic client! welcome back!' on stream 1" "$out/cc"
t $? "appendix C client got the answer on the resumed connection"
z1=$(zrtt)
r1=$(snmp QuicListenerAnswers)
echo "# QuicListenerAnswers (Retry): ${r0:-?} before, ${r1:-?} after"
[ "${r1:-0}" -gt "${r0:-0}" ]
t $? "appendix C server (validate_peer_address set after listen) answered with a Retry"
echo "# QuicHandshakes0RTT: ${z0:-?} before, ${z1:-?} after"
[ "${z1:-0}" -eq $(( ${z0:-0} + 1 )) ]
t $? "appendix C server accepted 0-RTT on the resumed connection (/proc/net/quic/snmp)"
rm -rf "$out"
echo "1..$n"
[ $failed = 0 ]
