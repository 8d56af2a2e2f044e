#!/usr/bin/env bash
# Boots the guest kernel of a flavour with virtme-ng, runs a shell command in it as root (the
# host filesystem, and so this checkout, is visible at the same paths), prints its output and
# exits with its exit status.
#   vm/run.sh [-f default|debug] [-m MEM] [-c CPUS] -- 'command'
# KQUIC_KVM=1 uses KVM when /dev/kvm works; the default is TCG (these hosts' nested KVM stalls
# the guest).
source "$(dirname "$0")/lib.sh"
flav=$KQUIC_FLAVOUR mem=${KQUIC_VM_MEM:-2G} cpus=${KQUIC_VM_CPUS:-2}
while [ $# -gt 0 ]; do
  case "$1" in
    -f) flav=$2; shift 2 ;;
    -m) mem=$2; shift 2 ;;
    -c) cpus=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "usage: vm/run.sh [-f flavour] [-m mem] [-c cpus] -- 'command'"
kdir=$(kernel_dir "$flav")
[ -f "$kdir/arch/x86/boot/bzImage" ] || die "no $flav kernel built (run vm/build-kernel.sh $flav)"

accel=(--disable-kvm)
if [ "${KQUIC_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then accel=(); fi

# The command's status comes back through a file: the console also carries kernel messages.
status=$(mktemp "${TMPDIR:-/tmp}/kquic-vm.XXXXXX")
trap 'rm -f "$status"' EXIT
cmd="cd '$PWD' && { $*; }; echo \$? > '$status'"
# '| cat': qemu reopens stdout, so a plain redirection of vng's output would lose it.
vng "${accel[@]}" --force-9p --memory "$mem" --cpus "$cpus" --rwdir "$(dirname "$status")" \
  --run "$kdir" -- "$cmd" </dev/null 2>&1 | cat
rc=$(cat "$status" 2>/dev/null || true)
[ -n "$rc" ] || die "the VM did not report an exit status (boot failure?)"
exit "$rc"
