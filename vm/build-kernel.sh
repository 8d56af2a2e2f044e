#!/usr/bin/env bash
# Builds the guest kernel of a flavour (default | debug) into the cache, keyed by the kernel
# package version and a hash of the config fragments; reuses a finished build.
# Prints the kernel tree's path on stdout.
source "$(dirname "$0")/lib.sh"
flav=${1:-$KQUIC_FLAVOUR}
if [ "$KQUIC_KERNEL" != 6.12 ]; then
  "$KQUIC_ROOT/vm/fetch-kernel.sh" "$KQUIC_KERNEL" >&2
fi
kver=$(kernel_pkg_version)
[ -n "$kver" ] || die "$KERNEL_PKG is not installed (run vm/setup-toolchain.sh)"
kdir=$(kernel_dir "$flav")
# shellcheck disable=SC2207
margs=($(flavour_make_args "$flav"))
top=$(dirname "$kdir")

if [ -f "$top/.built" ] && [ -f "$kdir/arch/x86/boot/bzImage" ]; then
  log "kernel ($flav) cached: $kdir"
  echo "$kdir"; exit 0
fi

mkdir -p "$top"
exec 9>"$top/.lock"
flock 9
if [ ! -f "$kdir/Makefile" ]; then
  tarball=$(kernel_tarball)
  log "unpacking $KERNEL_PKG $kver ($tarball)"
  rm -rf "$top/src.tmp"; mkdir -p "$top/src.tmp"
  tar -xf "$tarball" -C "$top/src.tmp"
  mv "$top/src.tmp"/linux-source-* "$kdir"; rmdir "$top/src.tmp"
fi
cd "$kdir"
make -s "${margs[@]}" rustavailable >/dev/null || die "Rust toolchain not usable for the kernel (make rustavailable)"

if [ ! -f .config ]; then
  frag=$top/fragment.config
  # shellcheck disable=SC2046
  cat $(flavour_fragments "$flav") > "$frag"
  log "configuring ($flav): defconfig + virtme-ng defaults + $(flavour_fragments "$flav" | xargs -n1 basename | tr '\n' ' ')"
  virtme-configkernel --defconfig --custom "$frag" "${margs[@]}" >/dev/null 2>&1 || die "virtme-configkernel failed"
  # virtme-ng turns DWARF debug info back on; the fragment wants it off (smaller, faster).
  scripts/config --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT --enable DEBUG_INFO_NONE \
    --set-str LOCALVERSION "-kquic-$flav" --disable LOCALVERSION_AUTO
  make -s "${margs[@]}" olddefconfig
fi

# Every option the fragments ask for must have survived Kconfig.
bad=0
# shellcheck disable=SC2046
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qx "$line" .config || { log "config: wanted '$line', got '$(grep "^${line%%=*}=" .config || echo unset)'"; bad=1; } ;;
    "# CONFIG_"*" is not set") o=${line#\# }; o=${o%% *}; grep -q "^$o=" .config && { log "config: wanted $o off"; bad=1; } ;;
  esac
done < <(cat $(flavour_fragments "$flav") | awk '
  # The last fragment that names an option decides it.
  /^CONFIG_[A-Za-z0-9_]+=/ { o = $0; sub(/=.*/, "", o) }
  /^# CONFIG_[A-Za-z0-9_]+ is not set/ { o = $2 }
  o != "" { if (!(o in v)) order[n++] = o; v[o] = $0; o = "" }
  END { for (i = 0; i < n; i++) print v[order[i]] }')
[ $bad = 0 ] || { rm -f .config; die "kernel config does not satisfy vm/config (see above)"; }

log "building kernel ($flav) with $JOBS jobs; log: $top/build.log"
s=$SECONDS
make -j"$JOBS" "${margs[@]}" bzImage modules >"$top/build.log" 2>&1 || { tail -40 "$top/build.log" >&2; die "kernel build failed"; }
log "kernel ($flav) built in $((SECONDS - s)) s"
touch "$top/.built"
echo "$kdir"
