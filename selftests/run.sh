#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs kquic's selftests inside the guest (vm/run.sh boots it) and prints one TAP 13 stream in
# the kselftest style: each test program's own TAP is indented under its "ok N selftests: ..."
# line, followed by the module-level checks (unload, autoload, kernel log, kmemleak).
#   selftests/run.sh <path/to/quic.ko> [<selftests build dir>]
# Exit status: 0 when every test passed.
set -u
KO=$(realpath "${1:?usage: run.sh quic.ko [builddir]}")
BUILD=$(realpath "${2:-$(dirname "$0")/build}")
progs=()
for f in "$BUILD"/*; do [ -f "$f" ] && [ -x "$f" ] && progs+=("$f"); done
n=0 failed=0 passed=0
echo "TAP version 13"
echo "1..$(( ${#progs[@]} + 6 ))"

report() { # name status [why]
  n=$((n + 1))
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok $n selftests: quic: $1"
  else failed=$((failed + 1)); echo "not ok $n selftests: quic: $1${3:+ # $3}"; fi
}

kmemleak=/sys/kernel/debug/kmemleak
mount -t debugfs none /sys/kernel/debug 2>/dev/null
[ -w $kmemleak ] && echo clear > $kmemleak
dmesg -C

insmod "$KO"
report insmod $?

for t in "${progs[@]}"; do
  echo "# selftests: quic: $(basename "$t")"
  out=$("$t" 2>&1); rc=$?
  sed 's/^/  /' <<<"$out"
  report "$(basename "$t")" $rc "exit $rc"
done

# Unload is refused while a QUIC socket is open (each socket holds a module reference); the
# unload below then shows that it works once every socket is closed.
out=$(python3 - 2>&1 <<'EOS'
import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 261)
r = subprocess.run(["rmmod", "quic"], capture_output=True, text=True)
loaded = any(l.startswith("quic ") for l in open("/proc/modules"))
print("rmmod quic with a QUIC socket open: exit %d (%s), quic.ko %s"
      % (r.returncode, r.stderr.strip() or "no message", "still loaded" if loaded else "unloaded"))
s.close()
sys.exit(0 if r.returncode != 0 and loaded else 1)
EOS
)
rc=$?
sed 's/^/# /' <<<"$out"
report rmmod_refused_while_socket_open $rc "$(tail -1 <<<"$out")"

# Unload must work once no socket is open, and leave nothing registered behind.
# (Connections closed last may still be in their closing period, three PTOs, holding the module.)
for _ in $(seq 50); do rmmod quic 2>/dev/null && break; sleep 0.1; done
! grep -q '^quic ' /proc/modules && ! grep -q '^QUIC' /proc/net/protocols
report rmmod $? "rmmod failed or QUIC still in /proc/net/protocols"

# Autoload: socket(..., IPPROTO_QUIC) makes the kernel request net-pf-N-proto-261; point its
# modprobe at a private module root holding quic.ko.
root=$(mktemp -d)
kver=$(uname -r)
mkdir -p "$root/lib/modules/$kver/extra"
cp "$KO" "$root/lib/modules/$kver/extra/"
for f in /lib/modules/"$kver"/modules.*; do [ -e "$f" ] && cp "$f" "$root/lib/modules/$kver/"; done
depmod -b "$root" "$kver" 2>/dev/null
cat > "$root/modprobe" <<EOS
#!/bin/sh
exec /sbin/modprobe -d "$root" "\$@"
EOS
chmod +x "$root/modprobe"
old_modprobe=$(cat /proc/sys/kernel/modprobe)
echo "$root/modprobe" > /proc/sys/kernel/modprobe
python3 -c 'import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, 261); s.close()' 2>&1 \
  && grep -q '^quic ' /proc/modules
report autoload $? "socket(AF_INET6, SOCK_DGRAM, 261) did not load quic"
echo "$old_modprobe" > /proc/sys/kernel/modprobe
rmmod quic 2>/dev/null
rm -rf "$root"

# Kernel log: no warnings, oopses, lockdep or KASAN reports from anything we did.
bad=$(dmesg | grep -E 'BUG:|WARNING:|Oops|KASAN|UBSAN|possible recursive locking|circular locking|suspicious RCU|kmemleak: .*new suspected' || true)
[ -z "$bad" ]
report kernel_log_clean $? "$(head -1 <<<"$bad")"
[ -n "$bad" ] && sed 's/^/# /' <<<"$bad"

# kmemleak (debug flavour): a scan after unload finds nothing.
if [ -w $kmemleak ]; then
  echo scan > $kmemleak; sleep 1; echo scan > $kmemleak
  leaks=$(cat $kmemleak)
  [ -z "$leaks" ]
  report kmemleak_clean $? "$(grep -c unreferenced <<<"$leaks") suspected leaks"
  [ -n "$leaks" ] && head -40 <<<"$leaks" | sed 's/^/# /'
else
  n=$((n + 1)); passed=$((passed + 1)); echo "ok $n selftests: quic: kmemleak_clean # SKIP no kmemleak in this kernel"
fi

echo "# totals: pass:$passed fail:$failed"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
