#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The syscall fuzzer in the guest (make fuzz-kernel): loads quic.ko, runs quic_sockfuzz in
# rounds of at most ROUND seconds (each with its own seed, printed) for SECONDS in all, checks
# the kernel log after every round, and at the end that quic.ko unloads and kmemleak (debug
# kernel) finds nothing. When a round goes wrong (an anomaly, or a BUG/WARNING/KASAN/lockdep/
# kmemleak line), the last operations of every thread are printed: keep them under
# selftests/fuzz/corpus/ and replay them with quic_sockfuzz --replay FILE.
#   fuzz-kernel.sh <quic.ko> <quic_sockfuzz> [SECONDS] [SEED] [THREADS]
# SEED and THREADS may also come from FUZZ_KERNEL_SEED and FUZZ_KERNEL_THREADS; FUZZ_KERNEL_ARGS
# adds quic_sockfuzz options (e.g. --avoid-zero-recv).
# Exit status 0 when nothing was found.
set -u
KO=$(realpath "${1:?usage: fuzz-kernel.sh quic.ko quic_sockfuzz [seconds] [seed] [threads]}")
BIN=$(realpath "${2:?quic_sockfuzz}")
SECS=${3:-300}
SEED=${4:-${FUZZ_KERNEL_SEED:-}}
THREADS=${5:-${FUZZ_KERNEL_THREADS:-4}}
ROUND=${ROUND:-60}
[ -n "$SEED" ] || SEED=$(( $(date +%s%N) & 0x7fffffffffff ))
SEED=$((SEED))

bad_lines() {
  dmesg | grep -E 'BUG:|WARNING:|Oops|KASAN|UBSAN|KFENCE|general protection|possible recursive locking|circular locking|suspicious RCU|inconsistent lock state|blocked for more than|refcount_t:|kmemleak: .*new suspected' || true
}

kmemleak=/sys/kernel/debug/kmemleak
mount -t debugfs none /sys/kernel/debug 2>/dev/null
[ -w $kmemleak ] && echo clear > $kmemleak
dmesg -C
echo "# fuzz-kernel: $(uname -r), quic.ko $KO, $SECS s, base seed $SEED, $THREADS threads, rounds of $ROUND s, options: ${FUZZ_KERNEL_ARGS:-none}"
insmod "$KO" || { echo "not ok insmod"; exit 1; }

logdir=$(mktemp -d)
found=0 round=0 stuck=0
end=$((SECONDS + SECS))
while [ $SECONDS -lt "$end" ]; do
  left=$((end - SECONDS))
  r=$(( left < ROUND ? left : ROUND ))
  [ "$r" -lt 1 ] && break
  seed=$((SEED + round))
  echo "# round $round: seed $seed ($(printf '%#x' "$seed")), $r s"
  mkdir -p "$logdir/$round"
  # shellcheck disable=SC2086 # FUZZ_KERNEL_ARGS: more quic_sockfuzz options, split on spaces
  "$BIN" --seconds "$r" --seed "$seed" --threads "$THREADS" --log-dir "$logdir/$round" ${FUZZ_KERNEL_ARGS:-} &
  pid=$!
  # The fuzzer stops by itself (its watchdog reports calls blocked past 20 s and gives up on
  # them a minute after the end); a process that cannot exit has threads stuck in the kernel.
  deadline=$((SECONDS + r + 90))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then
    rc=stuck
    echo "# quic_sockfuzz (seed $seed) cannot exit: threads stuck in the kernel"
    for t in /proc/"$pid"/task/*; do
      echo "# task ${t##*/}: $(awk '/^State/ {print $2, $3}' "$t/status"), wchan $(cat "$t/wchan" 2>/dev/null)"
      sed 's/^/#     /' "$t/stack" 2>/dev/null
    done
    stuck=$((stuck + 1))
  else
    wait "$pid"
    rc=$?
  fi
  bad=$(bad_lines)
  if [ "$rc" != 0 ] || [ -n "$bad" ]; then
    found=1
    echo "# FOUND in round $round (seed $seed, quic_sockfuzz exit $rc)"
    [ -n "$bad" ] && dmesg | sed 's/^/# dmesg: /' | tail -200
    for f in "$logdir/$round"/sockfuzz-t*.log; do
      echo "# last operations of $(basename "$f"):"
      tail -n 40 "$f" | sed 's/^/#   /'
    done
    # A kernel report taints the rest of the run: stop there. Stuck threads only hold their
    # sockets: go on with the next seed.
    [ -n "$bad" ] && break
    dmesg -C
  fi
  if [ "$stuck" -ge 3 ]; then
    echo "# three rounds left threads stuck: stopping"
    break
  fi
  round=$((round + 1))
done

# Everything closed: the module must go (connections may sit in their closing period a while).
for _ in $(seq 100); do rmmod quic 2>/dev/null && break; sleep 0.2; done
if grep -q '^quic ' /proc/modules; then
  echo "not ok rmmod # quic.ko still loaded: $(grep '^quic ' /proc/modules)"
  found=1
else
  echo "ok rmmod"
fi
if [ -w $kmemleak ]; then
  echo scan > $kmemleak; sleep 1; echo scan > $kmemleak
  leaks=$(cat $kmemleak)
  if [ -n "$leaks" ]; then
    found=1
    echo "not ok kmemleak # $(grep -c unreferenced <<<"$leaks") suspected leaks"
    head -60 <<<"$leaks" | sed 's/^/# /'
  else
    echo "ok kmemleak"
  fi
fi
bad=$(bad_lines)
if [ -n "$bad" ]; then
  found=1
  echo "not ok kernel_log_clean"
  sed 's/^/# /' <<<"$bad"
else
  echo "ok kernel_log_clean"
fi
echo "# fuzz-kernel: $round complete rounds, base seed $SEED: $([ $found = 0 ] && echo 'nothing found' || echo 'FOUND problems')"
exit $found
