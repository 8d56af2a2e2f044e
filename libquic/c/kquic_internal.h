/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kquic libquic internals shared by the C files and the Rust backend; none of
 * these symbols is exported from libquic.so (libquic.map).
 */
#ifndef KQUIC_INTERNAL_H
#define KQUIC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/quic.h>

/* Logs through the quic_set_log_func()/quic_set_log_level() hooks. */
void kquic_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * What the GnuTLS backend asks of the kernel, each returning 0 or -errno.
 * The default talks to the socket; the host tests substitute an in-memory
 * kernel (libquic.a only).
 */
struct kquic_kernel_ops {
	int (*set_secret)(int fd, const struct quic_crypto_secret *s);
	int (*get_local_tp)(int fd, uint8_t *buf, unsigned int *len);
	int (*set_peer_tp)(int fd, const uint8_t *buf, size_t len);
};
void kquic_set_kernel_ops(const struct kquic_kernel_ops *ops);

/* The rustls backend (Rust, crate quic-capi): certificate mode; identity (or NULL) is a PEM
 * file with the client's private key and certificate chain. */
int kquic_rustls_client_handshake(int fd, const char *identity, const char *hostname,
				  const char *alpns);
int kquic_rustls_server_handshake(int fd, const char *pkey_file, const char *cert_file,
				  const char *alpns);

#endif
