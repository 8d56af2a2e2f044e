#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of the C library (make -C libquic check), TAP:
#  1. libquic.so exports exactly lxin/quic's libquic ABI (+ quic_handshake_process), has its
#     soname and links only system libraries;
#  2. make install into a DESTDIR; pkg-config finds it; a program built against the installed
#     headers links with -lquic (shared and static) and runs;
#  3. the GnuTLS backend over an in-memory kernel (tests/c/gnutls_mem.c, libquic.a);
#  4. the spec's appendix programs compile against the installed headers;
#  5. the man pages install and render.
set -u
OUT=$(realpath "${1:?usage: run.sh <libquic build dir>}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0 failed=0
check() { # description, then the command
  local d=$1; shift
  n=$((n + 1))
  if out=$("$@" 2>&1); then echo "ok $n - $d"
  else failed=$((failed + 1)); echo "not ok $n - $d"; sed 's/^/# /' <<<"$out" | head -30; fi
}

ABI="quic_client_handshake quic_handshake quic_handshake_deinit quic_handshake_init quic_handshake_process quic_handshake_step quic_recvmsg quic_sendmsg quic_server_handshake quic_session_get_alpn quic_session_get_data quic_session_set_alpn quic_session_set_data quic_set_log_func quic_set_log_level"
exports() { nm -D --defined-only "$OUT/libquic.so.1.0.0" | awk '$2 ~ /[TW]/ {print $3}' | sort | tr '\n' ' ' | sed 's/ $//'; }
check "libquic.so exports exactly the libquic ABI" test "$(exports)" = "$ABI"
check "soname libquic.so.1" bash -c "readelf -d '$OUT/libquic.so.1.0.0' | grep -q 'SONAME.*\[libquic.so.1\]'"
check "no undefined symbol outside libc, libgcc and GnuTLS" bash -c \
  "! nm -D --undefined-only '$OUT/libquic.so.1.0.0' | grep -v -E '@(GLIBC|GCC|GNUTLS)_' | grep -q ' U '"
check "libquic.a holds the ABI and the rustls backend" bash -c \
  "nm '$OUT/libquic.a' 2>/dev/null | grep -q ' T quic_client_handshake' && nm '$OUT/libquic.a' 2>/dev/null | grep -q ' T kquic_rustls_server_handshake'"

D=$T/dest
check "make install DESTDIR=... PREFIX=/opt/kq" make -s -C "$ROOT/libquic" install DESTDIR="$D" PREFIX=/opt/kq OUT="$OUT"
for f in lib/libquic.so.1.0.0 lib/libquic.so.1 lib/libquic.so lib/libquic.a lib/pkgconfig/libquic.pc \
         include/netinet/quic.h include/linux/quic.h share/man/man3/quic_handshake.3 share/man/man7/quic.7; do
  check "installed $f" test -e "$D/opt/kq/$f"
done
check "man pages render without warnings" bash -c \
  "for m in '$D'/opt/kq/share/man/man3/quic_handshake.3 '$D'/opt/kq/share/man/man7/quic.7; do [ -z \"\$(man --warnings -l \$m 2>&1 >/dev/null)\" ] || exit 1; done"
check "one man page per library function" bash -c \
  "for f in $ABI; do [ -e '$D/opt/kq/share/man/man3/'\$f.3 ] || { echo no \$f.3; exit 1; }; done"
# pkg-config from the DESTDIR: the .pc names /opt/kq; point the sysroot at the DESTDIR.
PC="env PKG_CONFIG_PATH=$D/opt/kq/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D"
check "pkg-config --modversion libquic = 1.0.0" test "$($PC pkg-config --modversion libquic)" = 1.0.0
check "pkg-config --libs has -lquic" bash -c "$PC pkg-config --libs libquic | grep -q -- -lquic"

cat > "$T/prog.c" <<'C'
/* Written as for lxin/quic: GnuTLS types, CLOCK_REALTIME and QUIC_PRIORITY come with the header. */
#include <netinet/quic.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct timespec ts;
	gnutls_session_t s;
	struct quic_handshake_step *step = NULL;
	char alpn[16];
	size_t len = sizeof(alpn);

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gnutls_init(&s, GNUTLS_CLIENT) || gnutls_priority_set_direct(s, QUIC_PRIORITY, NULL))
		return 1;
	if (quic_session_set_alpn(s, "h3, smb", 7))
		return 2;
	if (quic_session_get_alpn(s, alpn, &len) == 0)	/* nothing negotiated yet */
		return 3;
	if (quic_handshake_init(s, NULL) >= 0 || step)
		return 4;
	if (quic_client_handshake(-1, NULL, NULL, "h3") >= 0)
		return 5;
	gnutls_deinit(s);
	printf("ok %ld\n", (long)(ts.tv_sec > 0));
	return 0;
}
C
CF="$($PC pkg-config --cflags libquic)"
check "a program for lxin/quic compiles against the installed headers (-Wall -Werror)" \
  gcc -std=gnu11 -Wall -Wextra -Werror $CF -c "$T/prog.c" -o "$T/prog.o"
check "links with -lquic (shared) and runs" bash -c \
  "gcc '$T/prog.o' \$($PC pkg-config --libs libquic) -o '$T/prog' && LD_LIBRARY_PATH='$D/opt/kq/lib' '$T/prog' | grep -q '^ok 1'"
check "the shared program needs libquic.so.1" bash -c "readelf -d '$T/prog' | grep -q 'NEEDED.*libquic.so.1'"
check "links libquic.a statically and runs" bash -c \
  "gcc '$T/prog.o' -Wl,-Bstatic -L'$D/opt/kq/lib' -lquic -Wl,-Bdynamic -lgnutls -lpthread -ldl -lm -o '$T/prog-static' && '$T/prog-static' | grep -q '^ok 1' && ! readelf -d '$T/prog-static' | grep -q libquic"

# The appendix programs, as the selftests build them (tests/appendix/*.c wrappers).
for a in a b c; do
  check "spec appendix $a builds against the installed headers and library" \
    gcc -std=gnu11 -w $CF -I"$ROOT/selftests/libquic" "$ROOT/selftests/libquic/appendix/appendix-$a-main.c" \
      -L"$D/opt/kq/lib" -lquic -lgnutls -o "$T/appendix-$a"
done

# The GnuTLS backend over an in-memory kernel.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kquic.test \
  -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
check "build gnutls_mem (libquic.a)" gcc -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/include" -I"$ROOT/include/uapi" \
  -I"$ROOT/libquic/c" "$HERE/c/gnutls_mem.c" "$OUT/libquic.a" -lgnutls -lpthread -ldl -lm -o "$T/gnutls_mem"
echo "# gnutls_mem:"
if "$T/gnutls_mem" "$T" > "$T/mem.tap" 2>&1; then r=0; else r=1; fi
sed 's/^/    /' "$T/mem.tap"
check "GnuTLS backend over an in-memory kernel ($(grep -c '^ok' "$T/mem.tap") passed, $(grep -c '^not ok' "$T/mem.tap") failed)" test $r = 0

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ $failed = 0 ]
