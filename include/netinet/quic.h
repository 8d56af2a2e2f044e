/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kquic: the userspace QUIC library (libquic) interface, draft-lxin-quic-socket-apis
 * section 3.2 and its appendices.
 *
 * Source compatible and link compatible with lxin/quic's libquic: the same
 * function names, prototypes and semantics, and the same headers brought in
 * (GnuTLS, <time.h>, the socket ABI), so a program written for lxin/quic
 * builds against this header and links with -lquic unchanged.
 *
 * Return conventions: quic_sendmsg()/quic_recvmsg() return a byte count, or -1
 * with errno set; every other int function returns 0 on success and a negative
 * errno value (or a negative GnuTLS error code from the GnuTLS paths) on
 * failure.
 *
 * Define QUIC_NO_GNUTLS before including this header to leave out <gnutls/...>
 * and the functions whose prototypes need GnuTLS types.
 */
#ifndef _NETINET_QUIC_H
#define _NETINET_QUIC_H

#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <sys/socket.h>
#ifndef QUIC_NO_GNUTLS
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#endif

/*
 * The ABI header: in the source tree it sits at ../uapi/linux/quic.h; once
 * installed it is <linux/quic.h>.
 */
#if defined(__has_include)
#if __has_include("../uapi/linux/quic.h")
#include "../uapi/linux/quic.h"
#else
#include <linux/quic.h>
#endif
#else
#include <linux/quic.h>
#endif

#ifndef SOL_QUIC
#define SOL_QUIC		288
#endif
#ifndef IPPROTO_QUIC
#define IPPROTO_QUIC		261
#endif

/*
 * The GnuTLS priority string a QUIC session needs: TLS 1.3 only, the four
 * QUIC AEADs (RFC 9001 section 5.3), (EC)DHE and PSK key exchange, no TLS 1.3
 * middlebox compatibility mode (RFC 9001 section 8.4).
 */
#define QUIC_PRIORITY							\
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+PSK:+ECDHE-PSK:-CIPHER-ALL:"	\
	"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:"	\
	"-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:+GROUP-SECP384R1:"	\
	"+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE"

#ifdef __cplusplus
extern "C" {
#endif

/* sendmsg() with a QUIC_STREAM_INFO cmsg for stream sid; flags are the
 * MSG_QUIC_STREAM_* stream flags plus ordinary MSG_* send flags. */
ssize_t quic_sendmsg(int sockfd, const void *msg, size_t len, int64_t sid,
		     uint32_t flags);

/* recvmsg() reporting the stream id and (msg_flags | stream_flags); *flags on
 * input are the recvmsg() flags. */
ssize_t quic_recvmsg(int sockfd, void *msg, size_t len, int64_t *sid,
		     uint32_t *flags);

/*
 * Whole handshakes on a connected (client) or accepted (server) socket.
 * Client: pkey_file names a PSK file ("identity:hexkey") and selects PSK mode;
 * NULL selects certificate mode, where hostname (may be NULL) is the SNI and
 * the name the server certificate is verified against (system trust store);
 * with no hostname the server certificate is not verified.
 * Server: with cert_file, pkey_file is the certificate's private key (PEM);
 * with cert_file NULL, pkey_file is a PSK file (PSK mode).
 * alpns: comma separated list, or NULL.
 */
int quic_client_handshake(int sockfd, const char *pkey_file,
			  const char *hostname, const char *alpns);
int quic_server_handshake(int sockfd, const char *pkey_file,
			  const char *cert_file, const char *alpns);

/* Log hooks: levels are syslog's LOG_* (<sys/syslog.h>); nothing is logged
 * until a level is set.  Both return the previous setting. */
typedef void (*quic_set_log_func_t)(int level, const char *msg);
quic_set_log_func_t quic_set_log_func(quic_set_log_func_t func);
int quic_set_log_level(int level);

#ifndef QUIC_NO_GNUTLS
/*
 * The step API: the handshake of a GnuTLS session (its transport is the QUIC
 * socket, gnutls_transport_set_int()) as a sequence of sendmsg()/recvmsg()
 * calls the caller performs itself, so that an event loop never blocks.
 * quic_handshake_init() needs *pstep == NULL and returns the first step; the
 * caller runs the step's call (recvmsg steps use MSG_DONTWAIT), stores its
 * result (or -errno) in retval and calls quic_handshake_step(), until *pstep
 * comes back NULL: the handshake is complete.  quic_handshake_deinit() frees
 * the state (after completion or failure).
 */
enum quic_handshake_step_op {
	QUIC_HANDSHAKE_STEP_OP_SENDMSG = 1,
	QUIC_HANDSHAKE_STEP_OP_RECVMSG,
};

struct quic_handshake_step_sendmsg {
	const struct msghdr *msg;
	int flags;
	ssize_t retval;
};

struct quic_handshake_step_recvmsg {
	struct msghdr *msg;
	int flags;
	ssize_t retval;
};

struct quic_handshake_step {
	enum quic_handshake_step_op op;
	union {
		struct quic_handshake_step_sendmsg s_sendmsg;
		struct quic_handshake_step_recvmsg s_recvmsg;
	};
};

int quic_handshake_init(gnutls_session_t session,
			struct quic_handshake_step **pstep);
int quic_handshake_step(gnutls_session_t session,
			struct quic_handshake_step **pstep);
void quic_handshake_deinit(gnutls_session_t session);

/* The whole handshake of a caller's GnuTLS session, blocking. */
int quic_handshake(gnutls_session_t session);

/* Session resumption data (client: after the server's NewSessionTicket). */
int quic_session_get_data(gnutls_session_t session, void *data, size_t *size);
int quic_session_set_data(gnutls_session_t session, const void *data,
			  size_t size);

/* The negotiated ALPN; set: a comma separated list offered/accepted. */
int quic_session_get_alpn(gnutls_session_t session, void *data, size_t *size);
int quic_session_set_alpn(gnutls_session_t session, const void *data,
			  size_t size);

/*
 * kquic extension, from the draft's Appendix B: hands handshake bytes of a
 * crypto level (QUIC_CRYPTO_*) to the session and runs the handshake state
 * machine (e.g. a NewSessionTicket at QUIC_CRYPTO_APP).
 */
int quic_handshake_process(gnutls_session_t session, uint8_t level,
			   const uint8_t *data, size_t datalen);
#endif /* QUIC_NO_GNUTLS */

#ifdef __cplusplus
}
#endif

#endif /* _NETINET_QUIC_H */
