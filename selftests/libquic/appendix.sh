#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The spec's appendix programs against quic.ko (selftests/run.sh runs this in the VM; the
# binaries and keys are in bin/ and libquic-keys/ beside it). TAP.
#  - Appendix A: its server and client exchange their messages over two streams each way;
#  - Appendix B: its server_handshake()/client_handshake() (a GnuTLS session through
#    quic_handshake(), ticket key, ALPN) complete a handshake;
#  - Appendix C is built but not run: it needs session resumption and 0-RTT in quic.ko.
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
rm -rf "$out"
echo "ok $((n + 1)) - appendix C # SKIP needs session resumption and 0-RTT in quic.ko (built only)"
echo "1..$((n + 1))"
[ $failed = 0 ]
