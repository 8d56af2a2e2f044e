/* SPDX-License-Identifier: GPL-2.0 */
/*
 * quic.ko C shim: one-line wrappers for static inline functions and macros that bindgen cannot
 * turn into callable symbols. No logic lives here; the Rust glue calls these.
 */
#ifndef _KQUIC_SHIM_H
#define _KQUIC_SHIM_H

#include <linux/types.h>
#include <linux/sockptr.h>

struct sock;
struct sk_buff;
struct net;
struct sockaddr;
struct crypto_aead;

struct crypto_shash;

void kq_lock_sock(struct sock *sk);
void kq_release_sock(struct sock *sk);
struct net *kq_sock_net(const struct sock *sk);
unsigned short kq_sk_family(const struct sock *sk);
bool kq_port_requires_bind_service(struct net *net, unsigned short port);
bool kq_capable_bind_service(struct net *net);
/* Publishes a bound local address (AF_INET: 4 bytes, AF_INET6: 16 bytes) and port (host order). */
void kq_sk_set_local(struct sock *sk, const void *addr, u16 port);
u16 kq_sk_local_port(const struct sock *sk);

int kq_copy_from_sockptr(void *dst, sockptr_t src, size_t size);
int kq_copy_to_user(void __user *dst, const void *src, size_t size);
int kq_get_user_int(int *dst, const int __user *src);
int kq_put_user_int(int val, int __user *dst);

void kq_kfree_skb(struct sk_buff *skb);

void kq_tunnel_lock(void);
void kq_tunnel_unlock(void);

void kq_crypto_free_aead(struct crypto_aead *tfm);
void kq_crypto_free_shash(struct crypto_shash *tfm);
long kq_ptr_err(const void *ptr);

/* Crypto glue (see crypto.rs). Buffers passed to the AEAD must be in the linear map (kmalloc or
 * skb data), never on the stack. */
struct kq_hp;
struct crypto_aead *kq_aead_alloc(const char *alg, const u8 *key, unsigned int keylen);
int kq_aead_crypt(struct crypto_aead *tfm, int enc, u8 *iv, u8 *aad, unsigned int aadlen,
		  u8 *buf, unsigned int buflen);
struct kq_hp *kq_hp_alloc(int chacha, const u8 *key, unsigned int keylen);
int kq_hp_mask(struct kq_hp *hp, const u8 *sample, u8 *mask);
void kq_hp_free(struct kq_hp *hp);
struct crypto_shash *kq_shash_alloc(const char *alg);
int kq_hmac(struct crypto_shash *tfm, const u8 *key, unsigned int keylen,
	    const u8 *const *parts, const unsigned int *lens, unsigned int nparts, u8 *out);
void kq_get_random_bytes(void *buf, unsigned int len);

#endif
