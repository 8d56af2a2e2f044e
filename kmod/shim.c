// SPDX-License-Identifier: GPL-2.0
/* quic.ko C shim: see shim.h. */
#include <linux/uaccess.h>
#include <linux/mutex.h>
#include <linux/err.h>
#include <linux/capability.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <crypto/aead.h>
#include <crypto/skcipher.h>
#include <crypto/hash.h>
#include "shim.h"

void kq_lock_sock(struct sock *sk) { lock_sock(sk); }
void kq_release_sock(struct sock *sk) { release_sock(sk); }
struct net *kq_sock_net(const struct sock *sk) { return sock_net(sk); }
unsigned short kq_sk_family(const struct sock *sk) { return sk->sk_family; }

bool kq_port_requires_bind_service(struct net *net, unsigned short port)
{
	return inet_port_requires_bind_service(net, port);
}

bool kq_capable_bind_service(struct net *net)
{
	return ns_capable(net->user_ns, CAP_NET_BIND_SERVICE);
}

void kq_sk_set_local(struct sock *sk, const void *addr, u16 port)
{
	struct inet_sock *inet = inet_sk(sk);

	if (sk->sk_family == AF_INET6) {
#if IS_ENABLED(CONFIG_IPV6)
		memcpy(&sk->sk_v6_rcv_saddr, addr, sizeof(struct in6_addr));
		memcpy(&inet6_sk(sk)->saddr, addr, sizeof(struct in6_addr));
#endif
	} else {
		memcpy(&inet->inet_rcv_saddr, addr, sizeof(__be32));
		memcpy(&inet->inet_saddr, addr, sizeof(__be32));
	}
	inet->inet_num = port;
	inet->inet_sport = htons(port);
}

u16 kq_sk_local_port(const struct sock *sk) { return ntohs(inet_sk(sk)->inet_sport); }

int kq_copy_from_sockptr(void *dst, sockptr_t src, size_t size)
{
	return copy_from_sockptr(dst, src, size) ? -EFAULT : 0;
}

int kq_copy_to_user(void __user *dst, const void *src, size_t size)
{
	return copy_to_user(dst, src, size) ? -EFAULT : 0;
}

int kq_get_user_int(int *dst, const int __user *src) { return get_user(*dst, src); }
int kq_put_user_int(int val, int __user *dst) { return put_user(val, dst); }

void kq_kfree_skb(struct sk_buff *skb) { kfree_skb(skb); }

static DEFINE_MUTEX(kq_tunnel_mutex);
void kq_tunnel_lock(void) { mutex_lock(&kq_tunnel_mutex); }
void kq_tunnel_unlock(void) { mutex_unlock(&kq_tunnel_mutex); }

void kq_crypto_free_aead(struct crypto_aead *tfm) { crypto_free_aead(tfm); }
void kq_crypto_free_shash(struct crypto_shash *tfm) { crypto_free_shash(tfm); }
long kq_ptr_err(const void *ptr) { return IS_ERR(ptr) ? PTR_ERR(ptr) : 0; }

/* ---- crypto ---- */
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/random.h>

struct crypto_aead *kq_aead_alloc(const char *alg, const u8 *key, unsigned int keylen)
{
	/* Synchronous implementations only: packets are protected in softirq context. */
	struct crypto_aead *tfm = crypto_alloc_aead(alg, 0, CRYPTO_ALG_ASYNC);
	int err;

	if (IS_ERR(tfm))
		return tfm;
	err = crypto_aead_setauthsize(tfm, 16);
	if (!err)
		err = crypto_aead_setkey(tfm, key, keylen);
	if (err) {
		crypto_free_aead(tfm);
		return ERR_PTR(err);
	}
	return tfm;
}

int kq_aead_crypt(struct crypto_aead *tfm, int enc, u8 *iv, u8 *aad, unsigned int aadlen,
		  u8 *buf, unsigned int buflen)
{
	struct scatterlist sg[2];
	struct aead_request *req;
	int err, n = 0;

	if (buflen < 16)
		return -EINVAL;
	req = aead_request_alloc(tfm, GFP_ATOMIC);
	if (!req)
		return -ENOMEM;
	sg_init_table(sg, aadlen ? 2 : 1);
	if (aadlen)
		sg_set_buf(&sg[n++], aad, aadlen);
	sg_set_buf(&sg[n], buf, buflen);
	aead_request_set_callback(req, 0, NULL, NULL);
	aead_request_set_ad(req, aadlen);
	aead_request_set_crypt(req, sg, sg, enc ? buflen - 16 : buflen, iv);
	err = enc ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
	aead_request_free(req);
	return err;
}

struct kq_hp {
	struct crypto_sync_skcipher *tfm;
	int chacha;
	u8 scratch[16];		/* heap memory the scatterlist may map */
};

struct kq_hp *kq_hp_alloc(int chacha, const u8 *key, unsigned int keylen)
{
	struct kq_hp *hp = kzalloc(sizeof(*hp), GFP_KERNEL);
	int err;

	if (!hp)
		return ERR_PTR(-ENOMEM);
	hp->chacha = chacha;
	hp->tfm = crypto_alloc_sync_skcipher(chacha ? "chacha20" : "ecb(aes)", 0, 0);
	if (IS_ERR(hp->tfm)) {
		err = PTR_ERR(hp->tfm);
		kfree(hp);
		return ERR_PTR(err);
	}
	err = crypto_sync_skcipher_setkey(hp->tfm, key, keylen);
	if (err) {
		crypto_free_sync_skcipher(hp->tfm);
		kfree(hp);
		return ERR_PTR(err);
	}
	return hp;
}

int kq_hp_mask(struct kq_hp *hp, const u8 *sample, u8 *mask)
{
	SYNC_SKCIPHER_REQUEST_ON_STACK(req, hp->tfm);
	struct scatterlist sg;
	u8 iv[16];
	int err;

	if (hp->chacha) {
		/* RFC 9001 5.4.4: counter (LE) and nonce are the sample, as the kernel's IV. */
		memcpy(iv, sample, 16);
		memset(hp->scratch, 0, 16);
	} else {
		memcpy(hp->scratch, sample, 16);
	}
	sg_init_one(&sg, hp->scratch, 16);
	skcipher_request_set_sync_tfm(req, hp->tfm);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sg, &sg, 16, hp->chacha ? iv : NULL);
	err = crypto_skcipher_encrypt(req);
	skcipher_request_zero(req);
	if (!err)
		memcpy(mask, hp->scratch, 5);
	memzero_explicit(hp->scratch, sizeof(hp->scratch));
	return err;
}

void kq_hp_free(struct kq_hp *hp)
{
	if (!hp)
		return;
	crypto_free_sync_skcipher(hp->tfm);
	kfree_sensitive(hp);
}

struct crypto_shash *kq_shash_alloc(const char *alg)
{
	return crypto_alloc_shash(alg, 0, 0);
}

int kq_hmac(struct crypto_shash *tfm, const u8 *key, unsigned int keylen,
	    const u8 *const *parts, const unsigned int *lens, unsigned int nparts, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	unsigned int i;
	int err;

	err = crypto_shash_setkey(tfm, key, keylen);
	if (err)
		return err;
	desc->tfm = tfm;
	err = crypto_shash_init(desc);
	for (i = 0; !err && i < nparts; i++)
		err = crypto_shash_update(desc, parts[i], lens[i]);
	if (!err)
		err = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return err;
}

void kq_get_random_bytes(void *buf, unsigned int len) { get_random_bytes(buf, len); }
