// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile-only check of include/netinet/quic.h: it pulls in the ABI header and
 * declares the library functions with the draft's exact prototypes.
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
SAME_TYPE(quic_handshake, int (*)(void *));

/* The ABI comes along with the library header. */
_Static_assert(SOL_QUIC == 288, "SOL_QUIC");
_Static_assert(IPPROTO_QUIC == 261, "IPPROTO_QUIC");
_Static_assert(sizeof(struct quic_transport_param) == 56, "quic_transport_param");

/* Calls as the draft's appendix A writes them (never run). */
int draft_calls(int sd, void *session);
int draft_calls(int sd, void *session)
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
