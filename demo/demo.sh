#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The kquic demo, run inside the guest by `make demo`.
set -e
KO=${1:?usage: demo.sh quic.ko demo-build-dir}
OUT=${2:?}
echo "== guest kernel: $(uname -r)"
insmod "$KO"
echo "== quic.ko loaded: $(grep '^quic ' /proc/modules | cut -d' ' -f1-3)"
dmesg | grep -E 'quic: ' | grep -v taints | tail -3 | sed 's/^/   /'
echo
"$OUT/quic_sockets"
echo
rmmod quic
echo "== quic.ko unloaded; /proc/net/protocols has $(grep -c '^QUIC' /proc/net/protocols || true) QUIC entries"
