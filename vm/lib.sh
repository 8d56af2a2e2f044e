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
# Which kernel source the guest runs (make KERNEL=...): 6.12 is Debian bookworm's
# linux-source-6.12 (installed by vm/setup-toolchain.sh, the default); 7 is the newest released
# linux-source-7.x of Debian's unstable or trixie-backports suite, fetched as a package file by
# vm/fetch-kernel.sh and unpacked into the cache (nothing from those suites is installed).
KQUIC_KERNEL=${KQUIC_KERNEL:-6.12}
case "$KQUIC_KERNEL" in
  # bookworm's default libclang (14), which knows the flags 6.12 passes to bindgen.
  6.12) KERNEL_PKG=linux-source-6.12 KQUIC_LLVM=14 ;;
  # 7.x wants bindgen 0.71.1 and libclang 17.0.1 or newer (scripts/min-tool-version.sh):
  # bookworm's libclang-19-dev.
  7) KERNEL_PKG=linux-source-7 BINDGEN_VERSION=0.72.1 KQUIC_LLVM=19 ;;
  *) printf '[kquic] error: unknown KERNEL=%s (6.12 or 7)\n' "$KQUIC_KERNEL" >&2; exit 1 ;;
esac
KQUIC_SRC=$KQUIC_CACHE/src
# bindgen loads the libclang of the kernel's choice, for the tree's bindings and the module's
# alike (with several installed, it would otherwise take the newest).
export LIBCLANG_PATH=/usr/lib/llvm-$KQUIC_LLVM/lib

# Debian's rustc-web (1.96, with library source) must win over rustup's toolchain for the
# kernel build; our own tools (bindgen, vng) come first.
# Each bindgen version lives in its own prefix, so kernels that need different ones coexist.
KQUIC_BINDGEN=$KQUIC_TOOLS/bindgen-$BINDGEN_VERSION
export PATH="$KQUIC_BINDGEN/bin:$KQUIC_TOOLS/bin:$KQUIC_VENV/bin:/usr/bin:$PATH"

log() { printf '[kquic] %s\n' "$*" >&2; }
die() { printf '[kquic] error: %s\n' "$*" >&2; exit 1; }

# The Debian package version of the kernel source, e.g. 6.12.117-1~deb12u1 or 7.2.13-1 (for
# a fetched source: the one vm/fetch-kernel.sh recorded).
kernel_pkg_version() {
  case "$KQUIC_KERNEL" in
    6.12) dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null ;;
    *) cat "$KQUIC_SRC/kernel-$KQUIC_KERNEL.version" 2>/dev/null ;;
  esac
}

# The source tarball of the selected kernel and the directory name inside it.
kernel_tarball() {
  case "$KQUIC_KERNEL" in
    6.12) echo /usr/src/linux-source-6.12.tar.xz ;;
    *) cat "$KQUIC_SRC/kernel-$KQUIC_KERNEL.tarball" 2>/dev/null ;;
  esac
}

# Config fragments of a flavour: the base one plus the flavour's own.
# A kernel other than 6.12 adds its own fragment (vm/config/kernel-7.config) last.
flavour_fragments() {
  local f=$KQUIC_ROOT/vm/config k=
  [ "$KQUIC_KERNEL" = 6.12 ] || k=" $f/kernel-$KQUIC_KERNEL.config"
  case "$1" in
    default) echo "$f/base.config$k" ;;
    debug) echo "$f/base.config $f/debug.config$k" ;;
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
