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
void kq_crypto_free_skcipher(struct crypto_skcipher *tfm) { crypto_free_skcipher(tfm); }
void kq_crypto_free_shash(struct crypto_shash *tfm) { crypto_free_shash(tfm); }
long kq_ptr_err(const void *ptr) { return IS_ERR(ptr) ? PTR_ERR(ptr) : 0; }
