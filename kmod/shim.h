/* SPDX-License-Identifier: GPL-2.0 */
/*
 * quic.ko C shim: one-line wrappers for static inline functions and macros that bindgen cannot
 * turn into callable symbols. No logic lives here; the Rust glue calls these.
 */
#ifndef _KQUIC_SHIM_H
#define _KQUIC_SHIM_H

#include <linux/types.h>
#include <linux/sockptr.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <linux/hrtimer.h>
#include <linux/in6.h>
#include <net/inet_sock.h>
#include <linux/ipv6.h>
#include <net/dst_cache.h>

/*
 * The address argument of the bind and connect callbacks (proto_ops and proto): struct
 * sockaddr_unsized in 7.x, struct sockaddr before. The Rust glue names it kq_sockaddr_arg.
 */
#ifdef KQ_HAVE_SOCKADDR_UNSIZED
typedef struct sockaddr_unsized kq_sockaddr_arg;
#else
typedef struct sockaddr kq_sockaddr_arg;
#endif

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
int kq_copy_to_sockptr(sockptr_t dst, const void *src, size_t size);
/* Rust: SOL_QUIC options on sockptrs (sockopt.rs), behind the exported quic_do_*sockopt. */
int kq_rust_setsockopt(struct sock *sk, int optname, sockptr_t optval, unsigned int optlen);
int kq_rust_getsockopt(struct sock *sk, int optname, sockptr_t optval, sockptr_t optlen);
/* The kernel consumer API (include/linux/quic.h). */
int quic_do_setsockopt(struct sock *sk, int optname, sockptr_t optval, unsigned int optlen);
int quic_do_getsockopt(struct sock *sk, int optname, sockptr_t optval, sockptr_t optlen);
int quic_kernel_setsockopt(struct sock *sk, int optname, void *optval, unsigned int optlen);
int quic_kernel_getsockopt(struct sock *sk, int optname, void *optval, unsigned int *optlen);
int kq_copy_to_user(void __user *dst, const void *src, size_t size);
int kq_get_user_int(int *dst, const int __user *src);
int kq_put_user_int(int val, int __user *dst);

void kq_kfree_skb(struct sk_buff *skb);

/* The UDP tunnel socket setup and release, on the struct socket whatever the kernel takes. */
struct udp_tunnel_sock_cfg;
void kq_setup_udp_tunnel_sock(struct net *net, struct socket *sock, struct udp_tunnel_sock_cfg *cfg);
void kq_udp_tunnel_sock_release(struct socket *sock);

/* Per network namespace (pernet_operations): the tunnel table slot and its mutex. */
int kq_pernet_register(void);
void kq_pernet_unregister(void);
void kq_net_lock(struct net *net);
void kq_net_unlock(struct net *net);
void **kq_net_tunnels(struct net *net);
/* Rust: frees the namespace's table (the exit hook). */
void kq_rust_net_exit(void **slot);
bool kq_sk_ipv6only(const struct sock *sk);
int kq_sk_bound_dev(const struct sock *sk);
void kq_sk_set_bound_dev(struct sock *sk, int ifindex);
u32 kq_sk_uid(struct sock *sk);

void kq_crypto_free_aead(struct crypto_aead *tfm);
void kq_crypto_free_shash(struct crypto_shash *tfm);
long kq_ptr_err(const void *ptr);

/* Crypto glue (see crypto.rs). Buffers outside the linear map (stack, rodata) are bounced. */
struct kq_hp;
struct kq_aead;
struct kq_aead *kq_aead_alloc(const char *alg, const u8 *key, unsigned int keylen);
void kq_aead_free(struct kq_aead *a);
int kq_aead_crypt(struct kq_aead *a, int enc, u8 *iv, u8 *aad, unsigned int aadlen,
		  u8 *buf, unsigned int buflen);
int kq_layout_check(size_t sock, size_t sock6, size_t pinfo6);
struct kq_hp *kq_hp_alloc(int chacha, const u8 *key, unsigned int keylen);
int kq_hp_mask(struct kq_hp *hp, const u8 *sample, u8 *mask);
void kq_hp_free(struct kq_hp *hp);
struct crypto_shash *kq_shash_alloc(const char *alg);
int kq_hmac(struct crypto_shash *tfm, const u8 *key, unsigned int keylen,
	    const u8 *const *parts, const unsigned int *lens, unsigned int nparts, u8 *out);
void kq_get_random_bytes(void *buf, unsigned int len);


/* ---- the QUIC socket layout, shared by C and Rust (bindgen gives Rust the same struct) ---- */

/* Process-context machinery of one QUIC socket: datagrams queued by the tunnel's encap_rcv
 * (softirq) for the socket's work item, the work item, and the protocol timer. */
/* The route of the last transmitted datagram, reused while the flow's key is unchanged and
 * the kernel has not invalidated it (dst_cache checks obsolescence). Behind the socket lock. */
struct kq_route {
	struct dst_cache cache;
	u8 saddr[16];
	u8 daddr[16];
	__be16 dport;
	u16 family;
	int oif;
	u32 mark;
	bool valid;
};

/* What /proc/net/quic/sockets shows of a socket: a snapshot the Rust side refreshes after
 * each drive (kq_info_set), read under info_lock without the socket lock. */
struct kq_info {
	u64 pkts_in, pkts_out, bytes_in, bytes_out, lost, dropped;
	u64 rtt_us, cwnd, inflight, key_updates;
	u32 streams;		/* open streams */
	u32 backlog;		/* listeners: requests waiting for accept */
	u8 listening;
	u8 established;
	u8 lcid_len, rcid_len;
	u8 lcid[20], rcid[20];
};

/* Per network namespace counters (/proc/net/quic/snmp), in the order of kq_mib_names. */
enum kq_mib {
	KQ_MIB_IN_DATAGRAMS,		/* routed to a socket */
	KQ_MIB_IN_NO_SOCKET,		/* no connection or listener wanted them */
	KQ_MIB_IN_QUEUE_FULL,		/* dropped: the socket's queue was full */
	KQ_MIB_OUT_DATAGRAMS,
	KQ_MIB_OUT_ERRORS,		/* no route, or the stack refused */
	KQ_MIB_HANDSHAKES,		/* completed, both sides */
	KQ_MIB_ACCEPT_QUEUED,		/* client Initials queued for accept */
	KQ_MIB_ACCEPT_DROPPED,		/* Initials dropped: accept queue full */
	KQ_MIB_LISTENER_ANSWERS,	/* Version Negotiation, Retry or stateless reset sent */
	KQ_MIB_PACKETS_LOST,		/* declared lost (retransmitted) */
	KQ_MIB_PACKETS_DROPPED,		/* undecryptable, duplicate or stray */
	KQ_MIB_KEY_UPDATES,
	KQ_MIB_CLOSED_LOCAL,
	KQ_MIB_CLOSED_PEER,
	KQ_MIB_CLOSED_IDLE,
	KQ_MIB_CLOSED_RESET,		/* stateless reset received */
	KQ_MIB_HANDSHAKES_0RTT,		/* server handshakes that accepted 0-RTT */
	KQ_MIB_MAX
};

void kq_mib_add(struct net *net, int mib, u64 n);
void kq_info_set(struct sock *sk, const struct kq_info *info);

struct kq_ext {
	struct sk_buff_head rxq;
	struct work_struct work;
	struct hrtimer timer;
	unsigned long flags;		/* KQ_F_* bits */
	atomic_t waiters;		/* tasks asleep in kq_wait */
	void (*orig_destruct)(struct sock *sk);
	struct kq_route route;
	struct list_head node;		/* on the namespace's list of sockets */
	spinlock_t info_lock;
	struct kq_info info;
};

struct kq_sock {
	struct inet_sock inet;
	struct kq_ext ext;
	void *state;			/* Rust SockState, behind the socket lock */
};

struct kq6_sock {
	struct kq_sock q;
	struct ipv6_pinfo v6;
};

/* The Rust side of the work item: runs with a socket reference held, process context. */
void kq_rust_work(struct sock *sk, bool timer_fired);

int kq_wq_init(void);
void kq_wq_exit(void);
void kq_ext_init(struct sock *sk);
void kq_kick(struct sock *sk);
void kq_sk_bufs(const struct sock *sk, int *sndbuf, int *rcvbuf, bool *snd_locked,
		bool *rcv_locked);
void kq_sk_grow_bufs(struct sock *sk, int sndbuf, int rcvbuf);
void kq_sk_account(struct sock *sk, u64 queued, u64 unread);
void kq_skb_set_gso(struct sk_buff *skb, u32 size, u32 len);
int kq_rx_enqueue(struct sock *sk, struct sk_buff *skb);
struct sk_buff *kq_rx_dequeue(struct sock *sk);
bool kq_rx_pending(struct sock *sk);
void kq_ext_kill(struct sock *sk);
void kq_ext_stop(struct sock *sk);
void kq_sk_orphan(struct sock *sk);
bool kq_sk_linger_abort(const struct sock *sk);
void kq_timer_arm(struct sock *sk, u64 expires_us);
void kq_timer_stop(struct sock *sk);
u64 kq_now_us(void);
void *kq_sk_user_data(struct sock *sk);
void kq_sock_hold(struct sock *sk);
void kq_sock_put(struct sock *sk);
void kq_lock_sock_nested(struct sock *sk);
void kq_table_lock(void);
void kq_table_unlock(void);

/* Addresses of a received datagram (network byte order; ports too). family is AF_INET or
 * AF_INET6; v4 addresses use the first 4 bytes. */
struct kq_dgram_addr {
	u16 family;
	u8 saddr[16];
	u8 daddr[16];
	__be16 sport;
	__be16 dport;
	u8 ecn;
	int ifindex;
};
int kq_skb_rx_prepare(struct sk_buff *skb, struct kq_dgram_addr *a, u8 **data, u32 *len);
const u8 *kq_skb_peek(struct sk_buff *skb, u32 len, u32 *avail);

struct sk_buff *kq_tx_alloc(u32 len);
u8 *kq_skb_data(struct sk_buff *skb);
void kq_skb_trim(struct sk_buff *skb, u32 len);
int kq_xmit(struct sock *sk, struct socket *tun, struct sk_buff *skb, u16 family,
	    const u8 *saddr, const u8 *daddr, __be16 sport, __be16 dport, u8 ecn);
int kq_route_saddr(struct sock *sk, u16 family, const u8 *daddr, __be16 dport, u8 *saddr);

void kq_sk_set_peer(struct sock *sk, const void *addr, u16 port);
void kq_sk_set_state(struct sock *sk, int state);
int kq_sk_state(const struct sock *sk);
void kq_sk_set_shutdown(struct sock *sk, int how);
int kq_sk_shutdown(const struct sock *sk);
int kq_sk_type(const struct sock *sk);
int kq_sk_err_take(struct sock *sk);
struct sock *kq_sk_new_child(struct sock *lsk);
void kq_sk_free_child(struct sock *sk);

long kq_wait(struct sock *sk, long timeo);
long kq_sndtimeo(struct sock *sk, int nonblock);
long kq_rcvtimeo(struct sock *sk, int nonblock);
int kq_signal_errno(long timeo);
void kq_wake(struct sock *sk);
void kq_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait);
struct msghdr;
size_t kq_msg_left(struct msghdr *msg);
int kq_copy_from_msg(void *dst, struct msghdr *msg, size_t len);
int kq_copy_to_msg(struct msghdr *msg, const void *src, size_t len);
void kq_msg_revert(struct msghdr *msg, size_t n);
int kq_msg_has_control(struct msghdr *msg);
int kq_cmsg_quic(struct msghdr *msg, void *data, int len);
int kq_put_cmsg(struct msghdr *msg, int type, int len, void *data);
void kq_msg_set_flags(struct msghdr *msg, int flags);

#endif
