/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kquic: the userspace QUIC library interface (draft-lxin-quic-socket-apis).
 *
 * Include this instead of <linux/quic.h> in applications: it brings in the
 * socket ABI (numbers, structures) and declares the helpers of the draft's
 * section 3.2 and appendices.  Every function returns as described in the
 * draft: the *msg functions return a byte count or -1 with errno set; the
 * handshake functions return 0 or a negative errno-style code.
 */
#ifndef _NETINET_QUIC_H
#define _NETINET_QUIC_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

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

#ifdef __cplusplus
extern "C" {
#endif

/* sendmsg() with a QUIC_STREAM_INFO cmsg for stream sid and MSG_QUIC_* flags. */
ssize_t quic_sendmsg(int sd, const void *msg, size_t len, int64_t sid, uint32_t flags);

/* recvmsg() reporting the stream id and the stream/message flags. */
ssize_t quic_recvmsg(int sd, void *msg, size_t len, int64_t *sid, uint32_t *flags);

/*
 * Run a whole handshake on a connected socket.  Client: pkey_file selects PSK
 * mode (a file with identity and key), NULL means certificate mode; hostname
 * is the SNI and verified name.  alpns is a comma separated list or NULL.
 */
int quic_client_handshake(int sd, const char *pkey_file, const char *hostname,
			  const char *alpns);
int quic_server_handshake(int sd, const char *pkey_file, const char *cert_file,
			  const char *alpns);

/*
 * Run the handshake with a session object the caller has configured through
 * the library (kquic's rustls-based handshake session; its transport is the
 * QUIC socket).
 */
int quic_handshake(void *session);

#ifdef __cplusplus
}
#endif

#endif /* _NETINET_QUIC_H */
