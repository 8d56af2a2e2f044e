#!/usr/bin/env bash
# Installs everything kquic needs to build the guest kernel, the module and boot the VM.
# Each step is skipped when already done. Safe to run repeatedly.
source "$(dirname "$0")/lib.sh"

PKGS=(rustc-web rust-web-src rust-web-clippy build-essential curl flex bison bc
      libelf-dev libssl-dev cpio kmod dwarves rsync xz-utils zstd libclang-dev clang llvm lld
      qemu-system-x86 busybox-static python3-venv udev iproute2
      libgnutls28-dev pkg-config openssl)

# 6.12 is a bookworm package; a newer kernel's source is fetched by vm/fetch-kernel.sh.
[ "$KQUIC_KERNEL" != 6.12 ] || PKGS+=("$KERNEL_PKG")
PKGS+=("libclang-$KQUIC_LLVM-dev")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >/dev/null
fi

# bindgen-cli for the module-local bindings (any cargo can build it).
if ! "$KQUIC_BINDGEN/bin/bindgen" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
  log "cargo: installing bindgen-cli $BINDGEN_VERSION"
  cargo=$(command -v cargo || true)
  [ -x "$HOME/.cargo/bin/cargo" ] && cargo=$HOME/.cargo/bin/cargo
  [ -n "$cargo" ] || die "no cargo found (install rustup or cargo-web)"
  "$cargo" install -q bindgen-cli --version "$BINDGEN_VERSION" --locked --root "$KQUIC_BINDGEN"
fi

# virtme-ng in its own venv.
if ! "$KQUIC_VENV/bin/vng" --version >/dev/null 2>&1; then
  log "pip: installing virtme-ng $VIRTME_NG_VERSION"
  python3 -m venv "$KQUIC_VENV"
  "$KQUIC_VENV/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION"
fi

/usr/bin/rustc --version | grep -q '^rustc 1\.9[6-9]' || die "Debian rustc-web 1.96+ expected in /usr/bin"
log "toolchain ready: $(/usr/bin/rustc --version), $(bindgen --version), vng $(vng --version 2>&1 | head -1)"
