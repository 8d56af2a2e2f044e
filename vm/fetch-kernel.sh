#!/usr/bin/env bash
# Fetches the newest released linux-source-<major>.x package file from Debian's archive
# (unstable, then trixie-backports; release candidates are skipped), checks it against the
# suite's Packages index (SHA256) and unpacks its source tarball into the cache. Nothing is
# installed into the host. Records the version and the tarball's path for vm/lib.sh.
#   vm/fetch-kernel.sh 7
# Offline, a package fetched before is reused. KQUIC_KERNEL_VERSION=7.2.13-1 pins a version.
source "$(dirname "$0")/lib.sh"
major=${1:-$KQUIC_KERNEL}
[ "$major" != 6.12 ] || { log "6.12 comes from the installed linux-source-6.12"; exit 0; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$KQUIC_SRC"
cd "$KQUIC_SRC"

# Candidates "version filename sha256" of linux-source-<major>.N in a suite's index.
candidates() {
  curl -fsS -m 120 "$mirror/dists/$1/main/binary-all/Packages.xz" | xz -d | awk -v maj="$major" '
    /^Package: / { pkg = $2; ver = ""; file = ""; sum = "" }
    /^Version: / { ver = $2 }
    /^Filename: / { file = $2 }
    /^SHA256: / { sum = $2 }
    /^$/ { if (pkg ~ "^linux-source-" maj "\\.[0-9]+$" && ver !~ /~rc/) print ver, file, sum }
    END { if (pkg ~ "^linux-source-" maj "\\.[0-9]+$" && ver !~ /~rc/) print ver, file, sum }'
}

pick=
if list=$( { candidates unstable; candidates trixie-backports; } 2>/dev/null) && [ -n "$list" ]; then
  if [ -n "${KQUIC_KERNEL_VERSION:-}" ]; then
    pick=$(awk -v v="$KQUIC_KERNEL_VERSION" '$1 == v' <<<"$list" | head -1)
    [ -n "$pick" ] || die "linux-source $KQUIC_KERNEL_VERSION is not in the archive's indexes"
  else
    # Newest by Debian version order.
    best=
    while read -r ver _; do
      if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$best"; then best=$ver; fi
    done <<<"$list"
    pick=$(awk -v v="$best" '$1 == v' <<<"$list" | head -1)
  fi
fi

if [ -z "$pick" ]; then
  # Offline: reuse what an earlier run fetched.
  [ -s "kernel-$major.version" ] && [ -f "$(cat "kernel-$major.tarball")" ] \
    || die "cannot reach $mirror for linux-source-$major.x and none was fetched before"
  log "archive unreachable; reusing linux-source $(cat "kernel-$major.version")"
  exit 0
fi

read -r ver file sum <<<"$pick"
deb=$(basename "$file")
if [ -f "kernel-$major.version" ] && [ "$(cat "kernel-$major.version")" = "$ver" ] \
   && [ -f "$(cat "kernel-$major.tarball")" ]; then
  log "linux-source $ver already unpacked"
  exit 0
fi
if [ ! -f "$deb" ] || ! echo "$sum  $deb" | sha256sum -c --quiet - 2>/dev/null; then
  log "fetching $deb"
  curl -fsS -m 1800 -o "$deb.part" "$mirror/$file" || die "download of $mirror/$file failed"
  echo "$sum  $deb.part" | sha256sum -c --quiet - || die "$deb: SHA256 does not match the index"
  mv "$deb.part" "$deb"
fi
# The package's data holds usr/src/linux-source-X.Y.tar.xz; take only that file.
dir=unpacked-$ver
rm -rf "$dir"; mkdir -p "$dir"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards './usr/src/linux-source-*.tar.*'
tarball=$(ls "$PWD/$dir"/usr/src/linux-source-*.tar.* | head -1)
[ -f "$tarball" ] || die "$deb holds no source tarball"
echo "$tarball" > "kernel-$major.tarball"
echo "$ver" > "kernel-$major.version"
log "linux-source $ver unpacked: $tarball"
