// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile-only check of include/netinet/quic.h: it pulls in the ABI header and
 * declares the library functions with lxin/quic's libquic prototypes.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -I include -c uapi/tests/c/netinet_protos.c -o /dev/null
 */
#include <stddef.h>
#include <netinet/quic.h>
#include <netinet/quic.h>	/* include guard */

#define SAME_TYPE(fn, type)						\
	_Static_assert(__builtin_types_compatible_p(__typeof__(&fn), type), \
		       #fn " has the draft's prototype")

SAME_TYPE(quic_sendmsg, ssize_t (*)(int, const void *, size_t, int64_t, uint32_t));
SAME_TYPE(quic_recvmsg, ssize_t (*)(int, void *, size_t, int64_t *, uint32_t *));
SAME_TYPE(quic_client_handshake, int (*)(int, const char *, const char *, const char *));
SAME_TYPE(quic_server_handshake, int (*)(int, const char *, const char *, const char *));
SAME_TYPE(quic_handshake, int (*)(gnutls_session_t));
SAME_TYPE(quic_handshake_init, int (*)(gnutls_session_t, struct quic_handshake_step **));
SAME_TYPE(quic_handshake_step, int (*)(gnutls_session_t, struct quic_handshake_step **));
SAME_TYPE(quic_handshake_deinit, void (*)(gnutls_session_t));
SAME_TYPE(quic_session_get_data, int (*)(gnutls_session_t, void *, size_t *));
SAME_TYPE(quic_session_set_data, int (*)(gnutls_session_t, const void *, size_t));
SAME_TYPE(quic_session_get_alpn, int (*)(gnutls_session_t, void *, size_t *));
SAME_TYPE(quic_session_set_alpn, int (*)(gnutls_session_t, const void *, size_t));
SAME_TYPE(quic_set_log_func, quic_set_log_func_t (*)(quic_set_log_func_t));
SAME_TYPE(quic_set_log_level, int (*)(int));

/* What lxin/quic's header brings in: GnuTLS, <time.h>, the priority string. */
static const char prio[] = QUIC_PRIORITY;
_Static_assert(sizeof(prio) > 1, "QUIC_PRIORITY");
_Static_assert(sizeof(struct timespec) >= sizeof(time_t), "<time.h>");
_Static_assert(sizeof(gnutls_datum_t) > 0, "GnuTLS types");

/* The ABI comes along with the library header. */
_Static_assert(SOL_QUIC == 288, "SOL_QUIC");
_Static_assert(IPPROTO_QUIC == 261, "IPPROTO_QUIC");
_Static_assert(sizeof(struct quic_transport_param) == 56, "quic_transport_param");

/* Calls as the draft's appendix A writes them (never run). */
int draft_calls(int sd, gnutls_session_t session);
int draft_calls(int sd, gnutls_session_t session)
{
	char msg[50] = "hello";
	int64_t sid = 0;
	uint32_t flags = MSG_STREAM_NEW | MSG_STREAM_FIN;
	ssize_t ret;

	if (quic_client_handshake(sd, NULL, NULL, "sample"))
		return -1;
	if (quic_server_handshake(sd, "key.pem", "cert.pem", NULL))
		return -1;
	if (quic_handshake(session))
		return -1;
	ret = quic_sendmsg(sd, msg, sizeof(msg), sid, flags);
	if (ret == -1)
		return -1;
	flags = 0;
	ret = quic_recvmsg(sd, msg, sizeof(msg), &sid, &flags);
	return (int)ret;
}
