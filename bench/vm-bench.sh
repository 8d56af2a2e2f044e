#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM part of `make bench` (`make bench-vm`), run inside the guest by vm/run.sh as root:
# loads quic.ko, runs kquic-vm-bench (kquic vs TCP vs TCP + kTLS over loopback) and prints its
# markdown table under a header naming the guest.
#   bench/vm-bench.sh quic.ko path/to/kquic-vm-bench [kquic-vm-bench options]
# Progress goes to stderr while it runs; the table comes at the end, in one piece.
# KQUIC_BENCH_COMMIT (optional) names the checkout measured.
set -eu
KO=${1:?usage: vm-bench.sh quic.ko kquic-vm-bench [options]}
BIN=${2:?usage: vm-bench.sh quic.ko kquic-vm-bench [options]}
shift 2

if ! grep -q '^quic ' /proc/modules; then
	insmod "$KO"
fi

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
rc=0
"$BIN" "$@" >"$OUT" || rc=$?

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "## kquic, TCP and TCP + kTLS over loopback in the VM"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); guest kernel $(uname -r); $(nproc) vCPUs" \
	"(${cpu:-unknown CPU}); $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
	"guest memory${KQUIC_BENCH_COMMIT:+; quic.ko and the benchmark from commit $KQUIC_BENCH_COMMIT}"
echo
cat "$OUT"
exit "$rc"
