/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kquic: the interface quic.ko offers to in-kernel users of QUIC (SMB, NFS, samples/).
 *
 * A kernel consumer creates the socket with sock_create_kern(net, AF_INET or AF_INET6,
 * SOCK_STREAM or SOCK_DGRAM, IPPROTO_QUIC, &sock), sets SOL_QUIC options with the functions
 * below (ALPN before connect or listen, like userspace), asks net/handshake for the TLS
 * handshake (tls_client_hello_x509/psk, tls_server_hello_x509/psk: a userspace agent runs it
 * on the socket), then moves data with kernel_sendmsg/kernel_recvmsg and the same cmsgs as
 * userspace (QUIC_STREAM_INFO, kernel-space control buffers).
 *
 * The signatures are lxin/quic's, so consumers written for it build against kquic.
 */
#ifndef _LINUX_QUIC_H
#define _LINUX_QUIC_H

#ifndef __KERNEL__
/* Userspace built with this tree's include/ on its path: the UAPI is what it wants. */
#include "../uapi/linux/quic.h"
#else

#include <linux/sockptr.h>
#include <uapi/linux/quic.h>

struct sock;

/* Sets SOL_QUIC option optname from optval (a kernel or user sockptr) of optlen bytes.
 * 0 or a negative errno; -EOPNOTSUPP when sk is not a kquic socket. */
int quic_do_setsockopt(struct sock *sk, int optname, sockptr_t optval, unsigned int optlen);

/* Reads SOL_QUIC option optname into optval; *optlen is the buffer's size on entry and the
 * value's length on return (both sockptrs). 0 or a negative errno. */
int quic_do_getsockopt(struct sock *sk, int optname, sockptr_t optval, sockptr_t optlen);

/* The same on kernel buffers. */
int quic_kernel_setsockopt(struct sock *sk, int optname, void *optval, unsigned int optlen);
int quic_kernel_getsockopt(struct sock *sk, int optname, void *optval, unsigned int *optlen);

#endif /* __KERNEL__ */
#endif /* _LINUX_QUIC_H */
