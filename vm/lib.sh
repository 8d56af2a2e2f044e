# Common settings for the kquic VM scripts. Source it; do not run it.
# shellcheck shell=bash
set -euo pipefail

KQUIC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KQUIC_CACHE=${KQUIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kquic}
KQUIC_TOOLS=$KQUIC_CACHE/tools
KQUIC_VENV=$KQUIC_CACHE/venv
KQUIC_FLAVOUR=${KQUIC_FLAVOUR:-default}
JOBS=${JOBS:-$(nproc)}
BINDGEN_VERSION=0.69.5
VIRTME_NG_VERSION=1.42
KERNEL_PKG=linux-source-6.12

# Debian's rustc-web (1.96, with library source) must win over rustup's toolchain for the
# kernel build; our own tools (bindgen, vng) come first.
export PATH="$KQUIC_TOOLS/bin:$KQUIC_VENV/bin:/usr/bin:$PATH"

log() { printf '[kquic] %s\n' "$*" >&2; }
die() { printf '[kquic] error: %s\n' "$*" >&2; exit 1; }

# The Debian package version of the kernel source, e.g. 6.12.117-1~deb12u1.
kernel_pkg_version() { dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null; }

# Config fragments of a flavour: the base one plus the flavour's own.
flavour_fragments() {
  local f=$KQUIC_ROOT/vm/config
  case "$1" in
    default) echo "$f/base.config" ;;
    debug) echo "$f/base.config $f/debug.config" ;;
    *) die "unknown kernel flavour '$1' (default, debug)" ;;
  esac
}

# Extra make variables of a flavour for the kernel and for quic.ko. KASAN with Rust needs the
# kernel built by clang (init/Kconfig: RUST depends on !KASAN || CC_IS_CLANG).
flavour_make_args() {
  case "$1" in
    debug) echo "LLVM=1" ;;
    *) echo "" ;;
  esac
}

# How the tree is configured (virtme-configkernel --defconfig + fragments + olddefconfig): bump
# when vm/build-kernel.sh changes the resulting .config, so that cached trees are rebuilt.
CONFIG_RECIPE=1

# Cache key: kernel version + hash of the fragments, the flavour's make variables and the recipe.
kernel_key() {
  local flav=$1 h
  # shellcheck disable=SC2046
  h=$( { cat $(flavour_fragments "$flav"); flavour_make_args "$flav"; echo "recipe $CONFIG_RECIPE"; } \
    | sha256sum | cut -c1-12)
  echo "$(kernel_pkg_version | tr '~+' '__')-$flav-$h"
}

kernel_dir() { echo "$KQUIC_CACHE/kernel/$(kernel_key "$1")/linux"; }
