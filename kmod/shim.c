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

#define SOL_QUIC_KQ 288

/*
 * Kernel API differences between the kernels kquic builds against (6.12 LTS .. 7.x) are settled
 * in this block, so the code below and the Rust glue see one interface. Version checks where
 * the change has a known release; KQ_HAVE_* where Kbuild probes the target tree's headers.
 */
#include <linux/version.h>
#include <linux/hrtimer.h>
#include <net/udp_tunnel.h>

/* hrtimer_setup() (6.13) replaced hrtimer_init() plus setting ->function. */
static inline void kq_hrtimer_setup(struct hrtimer *t, enum hrtimer_restart (*fn)(struct hrtimer *),
				    clockid_t clock, enum hrtimer_mode mode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	hrtimer_setup(t, fn, clock, mode);
#else
	hrtimer_init(t, clock, mode);
	t->function = fn;
#endif
}

/* The UDP tunnel transmit helpers gained the IP control block flags of the skb. */
#ifdef KQ_HAVE_UDP_TUNNEL_IPCB_FLAGS
#define KQ_TUNNEL_IPCB_FLAGS	, 0
#else
#define KQ_TUNNEL_IPCB_FLAGS
#endif

/* 7.x wants a workqueue to say per-CPU or unbound; ours is per-CPU (the work runs where the
 * datagram was queued), which was the default before. */
#ifdef KQ_HAVE_WQ_PERCPU
#define KQ_WQ_PERCPU	WQ_PERCPU
#else
#define KQ_WQ_PERCPU	0
#endif

/* sock_i_uid() became sk_uid() (a lockless read of the same field). */
static inline kuid_t kq_sock_uid(struct sock *sk)
{
#ifdef KQ_HAVE_SK_UID
	return sk_uid(sk);
#else
	return sock_i_uid(sk);
#endif
}

/* setup_udp_tunnel_sock() and udp_tunnel_sock_release() take the struct sock in 7.x. */
void kq_setup_udp_tunnel_sock(struct net *net, struct socket *sock, struct udp_tunnel_sock_cfg *cfg)
{
#ifdef KQ_HAVE_UDP_TUNNEL_SK_ARGS
	setup_udp_tunnel_sock(net, sock->sk, cfg);
#else
	setup_udp_tunnel_sock(net, sock, cfg);
#endif
}

void kq_udp_tunnel_sock_release(struct socket *sock)
{
#ifdef KQ_HAVE_UDP_TUNNEL_SK_ARGS
	udp_tunnel_sock_release(sock->sk);
#else
	udp_tunnel_sock_release(sock);
#endif
}


void kq_lock_sock(struct sock *sk) { lock_sock(sk); }
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

int kq_copy_to_sockptr(sockptr_t dst, const void *src, size_t size)
{
	return copy_to_sockptr(dst, src, size) ? -EFAULT : 0;
}

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

/* ---- per network namespace: the UDP tunnel table (tunnel.rs) behind its own mutex ---- */
#include <net/netns/generic.h>

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/inet_sock.h>

struct kq_net {
	struct mutex lock;
	void *tunnels;		/* Rust-owned table, created on first bind */
	spinlock_t socks_lock;	/* BH: sockets are freed in any context */
	struct list_head socks;	/* every QUIC socket of the namespace (struct kq_ext.node) */
	atomic64_t mib[KQ_MIB_MAX];
	struct proc_dir_entry *proc;
};

static unsigned int kq_net_id;

static struct kq_net *kq_net(struct net *net) { return net_generic(net, kq_net_id); }

void kq_mib_add(struct net *net, int mib, u64 n)
{
	if (mib >= 0 && mib < KQ_MIB_MAX && n)
		atomic64_add(n, &kq_net(net)->mib[mib]);
}

static const char *const kq_mib_names[KQ_MIB_MAX] = {
	"InDatagrams", "InNoSocket", "InQueueFull", "OutDatagrams", "OutErrors",
	"Handshakes", "AcceptQueued", "AcceptDropped", "ListenerAnswers", "PacketsLost",
	"PacketsDropped", "KeyUpdates", "ClosedLocal", "ClosedPeer", "ClosedIdle",
	"ClosedReset", "Handshakes0RTT",
};

static int kq_snmp_show(struct seq_file *seq, void *v)
{
	struct kq_net *kn = kq_net(seq_file_single_net(seq));
	int i;

	for (i = 0; i < KQ_MIB_MAX; i++)
		seq_printf(seq, "Quic%-20s %lld\n", kq_mib_names[i],
			   (long long)atomic64_read(&kn->mib[i]));
	return 0;
}

static void kq_show_cid(struct seq_file *seq, const u8 *cid, u8 len)
{
	int i;

	if (!len)
		seq_puts(seq, " -");
	else
		seq_putc(seq, ' ');
	for (i = 0; i < len && i < 20; i++)
		seq_printf(seq, "%02x", cid[i]);
}

static int kq_sockets_show(struct seq_file *seq, void *v)
{
	struct kq_net *kn = kq_net(seq_file_single_net(seq));
	struct kq_ext *e;

	seq_puts(seq, "local remote state uid lcid rcid rtt_us cwnd inflight streams pkts_in "
		      "pkts_out bytes_in bytes_out lost dropped key_updates backlog\n");
	spin_lock_bh(&kn->socks_lock);
	list_for_each_entry(e, &kn->socks, node) {
		struct sock *sk = (struct sock *)container_of(e, struct kq_sock, ext);
		struct inet_sock *inet = inet_sk(sk);
		struct kq_info i;

		spin_lock(&e->info_lock);
		i = e->info;
		spin_unlock(&e->info_lock);
		if (sk->sk_family == AF_INET6)
			seq_printf(seq, "[%pI6c]:%u [%pI6c]:%u", &sk->sk_v6_rcv_saddr,
				   ntohs(inet->inet_sport), &sk->sk_v6_daddr, ntohs(inet->inet_dport));
		else
			seq_printf(seq, "%pI4:%u %pI4:%u", &inet->inet_rcv_saddr,
				   ntohs(inet->inet_sport), &inet->inet_daddr, ntohs(inet->inet_dport));
		seq_printf(seq, " %s %u",
			   i.listening ? "LISTEN" :
			   sk->sk_state == TCP_ESTABLISHED ? "ESTABLISHED" :
			   sk->sk_state == TCP_SYN_SENT || sk->sk_state == TCP_SYN_RECV ?
			   "HANDSHAKE" : sk->sk_state == TCP_CLOSING ? "CLOSING" :
			   sk->sk_state == TCP_CLOSE ? "CLOSED" : "OPEN",
			   from_kuid_munged(seq_user_ns(seq), kq_sock_uid(sk)));
		kq_show_cid(seq, i.lcid, i.lcid_len);
		kq_show_cid(seq, i.rcid, i.rcid_len);
		seq_printf(seq, " %llu %llu %llu %u %llu %llu %llu %llu %llu %llu %llu %u\n",
			   i.rtt_us, i.cwnd, i.inflight, i.streams, i.pkts_in, i.pkts_out,
			   i.bytes_in, i.bytes_out, i.lost, i.dropped, i.key_updates, i.backlog);
	}
	spin_unlock_bh(&kn->socks_lock);
	return 0;
}

void kq_info_set(struct sock *sk, const struct kq_info *info)
{
	struct kq_ext *e = &((struct kq_sock *)sk)->ext;

	spin_lock_bh(&e->info_lock);
	e->info = *info;
	spin_unlock_bh(&e->info_lock);
}

static int __net_init kq_net_init(struct net *net)
{
	struct kq_net *kn = kq_net(net);
	int i;

	mutex_init(&kn->lock);
	kn->tunnels = NULL;
	spin_lock_init(&kn->socks_lock);
	INIT_LIST_HEAD(&kn->socks);
	for (i = 0; i < KQ_MIB_MAX; i++)
		atomic64_set(&kn->mib[i], 0);
	kn->proc = proc_net_mkdir(net, "quic", net->proc_net);
	if (!kn->proc)
		return -ENOMEM;
	if (!proc_create_net_single("snmp", 0444, kn->proc, kq_snmp_show, NULL) ||
	    !proc_create_net_single("sockets", 0444, kn->proc, kq_sockets_show, NULL)) {
		remove_proc_subtree("quic", net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit kq_net_exit(struct net *net)
{
	struct kq_net *kn = kq_net(net);

	remove_proc_subtree("quic", net->proc_net);
	/* User sockets hold their namespace; only a kernel socket left open can be here. */
	WARN_ON_ONCE(!list_empty(&kn->socks));
	kq_rust_net_exit(&kn->tunnels);
	mutex_destroy(&kn->lock);
}

static struct pernet_operations kq_net_ops = {
	.init = kq_net_init,
	.exit = kq_net_exit,
	.id = &kq_net_id,
	.size = sizeof(struct kq_net),
};

int kq_pernet_register(void) { return register_pernet_subsys(&kq_net_ops); }
void kq_pernet_unregister(void) { unregister_pernet_subsys(&kq_net_ops); }
void kq_net_lock(struct net *net) { mutex_lock(&((struct kq_net *)net_generic(net, kq_net_id))->lock); }
void kq_net_unlock(struct net *net) { mutex_unlock(&((struct kq_net *)net_generic(net, kq_net_id))->lock); }
void **kq_net_tunnels(struct net *net) { return &((struct kq_net *)net_generic(net, kq_net_id))->tunnels; }

bool kq_sk_ipv6only(const struct sock *sk) { return sk->sk_family == AF_INET6 && sk->sk_ipv6only; }
int kq_sk_bound_dev(const struct sock *sk) { return READ_ONCE(sk->sk_bound_dev_if); }
void kq_sk_set_bound_dev(struct sock *sk, int ifindex) { WRITE_ONCE(sk->sk_bound_dev_if, ifindex); }
u32 kq_sk_uid(struct sock *sk) { return __kuid_val(kq_sock_uid(sk)); }

void kq_crypto_free_aead(struct crypto_aead *tfm) { crypto_free_aead(tfm); }
void kq_crypto_free_shash(struct crypto_shash *tfm) { crypto_free_shash(tfm); }
long kq_ptr_err(const void *ptr) { return IS_ERR(ptr) ? PTR_ERR(ptr) : 0; }

/* ---- crypto ---- */
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/random.h>

/* A keyed AEAD with its request, allocated once with the key: packets are protected without
 * any per-packet allocation. A key is only used by one connection, under its socket lock, so
 * the request is never shared.
 *
 * Any implementation is accepted, asynchronous ones included: on x86 the accelerated GCM is
 * only registered behind the SIMD wrapper (asynchronous), and a synchronous-only request would
 * get the generic template with software GHASH. kquic protects packets only in process
 * context (the socket's work item or a system call, never softirq), where the wrapper runs the
 * accelerated code inline, and where waiting for a deferred completion is allowed. */
struct kq_aead {
	struct crypto_aead *tfm;
	struct aead_request *req;
	struct crypto_wait wait;
};

/* Logs, once per algorithm, which driver the kernel gave us (the first socket to use it). */
static void kq_aead_log_driver(const char *alg, struct crypto_aead *tfm)
{
	static unsigned long logged;
	int bit = alg[0] == 'g' ? 0 : alg[0] == 'c' ? 1 : 2;

	if (!test_and_set_bit(bit, &logged))
		pr_info("quic: %s: using %s\n", alg, crypto_aead_driver_name(tfm));
}

struct kq_aead *kq_aead_alloc(const char *alg, const u8 *key, unsigned int keylen)
{
	struct kq_aead *a = kzalloc(sizeof(*a), GFP_KERNEL);
	int err;

	if (!a)
		return ERR_PTR(-ENOMEM);
	a->tfm = crypto_alloc_aead(alg, 0, 0);
	if (IS_ERR(a->tfm)) {
		err = PTR_ERR(a->tfm);
		kfree(a);
		return ERR_PTR(err);
	}
	err = crypto_aead_setauthsize(a->tfm, 16);
	if (!err)
		err = crypto_aead_setkey(a->tfm, key, keylen);
	if (!err) {
		a->req = aead_request_alloc(a->tfm, GFP_KERNEL);
		if (!a->req)
			err = -ENOMEM;
	}
	if (err) {
		crypto_free_aead(a->tfm);
		kfree(a);
		return ERR_PTR(err);
	}
	crypto_init_wait(&a->wait);
	kq_aead_log_driver(alg, a->tfm);
	return a;
}

void kq_aead_free(struct kq_aead *a)
{
	if (!a)
		return;
	aead_request_free(a->req);
	crypto_free_aead(a->tfm);
	kfree(a);
}

/* Scatterlists need memory of the linear map (kmalloc, skb data). The engine also passes
 * stack arrays and module rodata (tokens, Retry, selftest vectors): those go through a bounce
 * buffer. */
static bool kq_sg_ok(const void *p, unsigned int len)
{
	return !len || (virt_addr_valid(p) && virt_addr_valid(p + len - 1));
}

int kq_aead_crypt(struct kq_aead *a, int enc, u8 *iv, u8 *aad, unsigned int aadlen,
		  u8 *buf, unsigned int buflen)
{
	struct aead_request *req = a->req;
	struct scatterlist sg[2];
	u8 *bounce = NULL, *b = buf, *ad = aad;
	int err, n = 0;

	if (buflen < 16)
		return -EINVAL;
	if (!kq_sg_ok(aad, aadlen) || !kq_sg_ok(buf, buflen)) {
		bounce = kmalloc(aadlen + buflen, GFP_KERNEL);
		if (!bounce)
			return -ENOMEM;
		memcpy(bounce, aad, aadlen);
		memcpy(bounce + aadlen, buf, buflen);
		ad = bounce;
		b = bounce + aadlen;
	}
	sg_init_table(sg, aadlen ? 2 : 1);
	if (aadlen)
		sg_set_buf(&sg[n++], ad, aadlen);
	sg_set_buf(&sg[n], b, buflen);
	/* Process context (see struct kq_aead): a deferred request may be waited for. */
	might_sleep();
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &a->wait);
	aead_request_set_ad(req, aadlen);
	aead_request_set_crypt(req, sg, sg, enc ? buflen - 16 : buflen, iv);
	err = crypto_wait_req(enc ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req), &a->wait);
	if (bounce) {
		if (!err)
			memcpy(buf, b, buflen);
		kfree_sensitive(bounce);
	}
	return err;
}

/* Checks that Rust's view of the socket layout (from bindgen) is the C compiler's. */
int kq_layout_check(size_t sock, size_t sock6, size_t pinfo6)
{
	if (sock != sizeof(struct kq_sock) || sock6 != sizeof(struct kq6_sock) ||
	    pinfo6 != offsetof(struct kq6_sock, v6))
		return -EINVAL;
	return 0;
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

/* ---- per-socket process-context machinery (see struct kq_ext in shim.h) ---- */
#include <linux/workqueue.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/poll.h>
#include <linux/socket.h>
#include <net/route.h>
#include <net/udp_tunnel.h>
#include <net/ip6_route.h>
#include <net/inet_ecn.h>
#include <net/addrconf.h>

#define KQ_F_TIMER	0	/* the protocol timer fired: call on_timeout */
#define KQ_F_DEAD	1	/* closed: the work item only drops what it finds */
#define KQ_F_BACKLOG	2	/* datagrams were queued while a task owned the socket lock */
#define KQ_RX_MAX	2048	/* datagrams queued for the work item at most */

static struct workqueue_struct *kq_wq;

static inline struct kq_ext *kq_ext_of(struct sock *sk)
{
	return &((struct kq_sock *)sk)->ext;
}

static inline struct sock *kq_sk_of_ext(struct kq_ext *e)
{
	return (struct sock *)container_of(e, struct kq_sock, ext);
}

int kq_wq_init(void)
{
	kq_wq = alloc_workqueue("kquic", WQ_MEM_RECLAIM | KQ_WQ_PERCPU, 0);
	return kq_wq ? 0 : -ENOMEM;
}

void kq_wq_exit(void)
{
	destroy_workqueue(kq_wq);
}

/* Takes a socket reference for the work item; dropped when it has run (or was cancelled). */
void kq_kick(struct sock *sk)
{
	sock_hold(sk);
	if (!queue_work(kq_wq, &kq_ext_of(sk)->work))
		sock_put(sk);
}

static void kq_work_fn(struct work_struct *w)
{
	struct kq_ext *e = container_of(w, struct kq_ext, work);
	struct sock *sk = kq_sk_of_ext(e);

	if (test_bit(KQ_F_DEAD, &e->flags))
		skb_queue_purge(&e->rxq);
	else
		kq_rust_work(sk, test_and_clear_bit(KQ_F_TIMER, &e->flags));
	sock_put(sk);
}

static enum hrtimer_restart kq_timer_fn(struct hrtimer *t)
{
	struct kq_ext *e = container_of(t, struct kq_ext, timer);

	if (!test_bit(KQ_F_DEAD, &e->flags)) {
		set_bit(KQ_F_TIMER, &e->flags);
		kq_kick(kq_sk_of_ext(e));
	}
	return HRTIMER_NORESTART;
}

static void kq_sk_destruct(struct sock *sk)
{
	struct kq_ext *e = kq_ext_of(sk);

	skb_queue_purge(&e->rxq);
	dst_cache_destroy(&e->route.cache);
	if (!list_empty(&e->node)) {
		struct kq_net *kn = kq_net(sock_net(sk));

		spin_lock_bh(&kn->socks_lock);
		list_del_init(&e->node);
		spin_unlock_bh(&kn->socks_lock);
	}
	/* The counters mirrored the engine's buffers, which are gone (inet_sock_destruct checks). */
	kq_sk_account(sk, 0, 0);
	if (e->orig_destruct)
		e->orig_destruct(sk);
}

static struct lock_class_key kq_slock_key[2], kq_lock_key[2];

void kq_ext_init(struct sock *sk)
{
	struct kq_ext *e = kq_ext_of(sk);
	int v6 = sk->sk_family == AF_INET6;

	/* QUIC sockets get their own lock class: a kernel QUIC socket would otherwise share the
	 * class of the tunnel's kernel UDP socket, and QUIC-then-UDP would look recursive. */
	if (!sock_allow_reclassification(sk))
		WARN_ON_ONCE(1);
	else
		sock_lock_init_class_and_name(sk, v6 ? "slock-AF_INET6-QUIC" : "slock-AF_INET-QUIC",
					      &kq_slock_key[v6],
					      v6 ? "sk_lock-AF_INET6-QUIC" : "sk_lock-AF_INET-QUIC",
					      &kq_lock_key[v6]);
	skb_queue_head_init(&e->rxq);
	INIT_WORK(&e->work, kq_work_fn);
	kq_hrtimer_setup(&e->timer, kq_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	e->flags = 0;
	atomic_set(&e->waiters, 0);
	memset(&e->route, 0, sizeof(e->route));
	spin_lock_init(&e->info_lock);
	memset(&e->info, 0, sizeof(e->info));
	{
		struct kq_net *kn = kq_net(sock_net(sk));

		spin_lock_bh(&kn->socks_lock);
		list_add_tail(&e->node, &kn->socks);
		spin_unlock_bh(&kn->socks_lock);
	}
	/* Without the per-CPU cache every datagram looks its route up: slower, still correct. */
	if (dst_cache_init(&e->route.cache, GFP_KERNEL))
		e->route.cache.cache = NULL;
	if (sk->sk_destruct != kq_sk_destruct) {
		e->orig_destruct = sk->sk_destruct;
		sk->sk_destruct = kq_sk_destruct;
	}
}

/*
 * Queues a datagram for the socket's protocol work (softirq, or process context moving a
 * listener's request to its child) and picks who does that work, cheapest first:
 * - a task owns the socket lock (inside sendmsg, recvmsg...): it processes the queue before
 *   it releases the lock (kq_release_sock kicks the work item if it did not); TCP's backlog;
 * - a task sleeps in kq_wait on the socket: it is woken and processes the queue itself;
 * - nobody: the work item runs.
 * Ownership is read under the socket's spinlock, as release_sock clears it under the same lock,
 * so a datagram is never left without someone to process it.
 */
int kq_rx_enqueue(struct sock *sk, struct sk_buff *skb)
{
	struct kq_ext *e = kq_ext_of(sk);
	bool owned;

	if (test_bit(KQ_F_DEAD, &e->flags) || skb_queue_len(&e->rxq) >= KQ_RX_MAX) {
		kq_mib_add(sock_net(sk), KQ_MIB_IN_QUEUE_FULL, 1);
		kfree_skb(skb);
		return -ENOBUFS;
	}
	spin_lock_bh(&sk->sk_lock.slock);
	skb_queue_tail(&e->rxq, skb);
	owned = sock_owned_by_user(sk);
	if (owned)
		set_bit(KQ_F_BACKLOG, &e->flags);
	spin_unlock_bh(&sk->sk_lock.slock);
	if (owned)
		return 0;
	/* Pairs with the barrier in kq_wait between counting itself and checking the queue. */
	smp_mb();
	if (atomic_read(&e->waiters)) {
		kq_wake(sk);
		return 0;
	}
	kq_kick(sk);
	return 0;
}

bool kq_rx_pending(struct sock *sk) { return !skb_queue_empty(&kq_ext_of(sk)->rxq); }

/* Releases the socket lock; datagrams queued while it was owned and not processed by the
 * owner go to the work item. */
void kq_release_sock(struct sock *sk)
{
	struct kq_ext *e = kq_ext_of(sk);

	release_sock(sk);
	if (test_bit(KQ_F_BACKLOG, &e->flags) && test_and_clear_bit(KQ_F_BACKLOG, &e->flags) &&
	    !skb_queue_empty(&e->rxq))
		kq_kick(sk);
}

struct sk_buff *kq_rx_dequeue(struct sock *sk)
{
	return skb_dequeue(&kq_ext_of(sk)->rxq);
}

/* Called without the socket lock (the work item may be waiting for it). */
void kq_ext_kill(struct sock *sk)
{
	struct kq_ext *e = kq_ext_of(sk);

	set_bit(KQ_F_DEAD, &e->flags);
	hrtimer_cancel(&e->timer);
	if (cancel_work_sync(&e->work))
		sock_put(sk);
	skb_queue_purge(&e->rxq);
}

/* The work item's own end of an orphan (see finish_orphan): like kq_ext_kill without waiting
 * for the work item, which is the caller. Called without the socket lock. */
void kq_ext_stop(struct sock *sk)
{
	struct kq_ext *e = kq_ext_of(sk);

	set_bit(KQ_F_DEAD, &e->flags);
	hrtimer_cancel(&e->timer);
	skb_queue_purge(&e->rxq);
}

void kq_sk_orphan(struct sock *sk) { sock_orphan(sk); }

/* SO_LINGER with a zero timeout: close aborts (no closing period). */
bool kq_sk_linger_abort(const struct sock *sk)
{
	return sock_flag(sk, SOCK_LINGER) && !READ_ONCE(sk->sk_lingertime);
}

void kq_timer_arm(struct sock *sk, u64 expires_us)
{
	hrtimer_start_range_ns(&kq_ext_of(sk)->timer, ns_to_ktime(expires_us * NSEC_PER_USEC),
			       50 * NSEC_PER_USEC, HRTIMER_MODE_ABS_SOFT);
}

void kq_timer_stop(struct sock *sk)
{
	hrtimer_try_to_cancel(&kq_ext_of(sk)->timer);
}

void *kq_sk_user_data(struct sock *sk) { return rcu_dereference_sk_user_data(sk); }
u64 kq_now_us(void) { return div_u64(ktime_get_ns(), NSEC_PER_USEC); }
void kq_sock_hold(struct sock *sk) { sock_hold(sk); }
void kq_sock_put(struct sock *sk) { sock_put(sk); }
void kq_lock_sock_nested(struct sock *sk) { lock_sock_nested(sk, SINGLE_DEPTH_NESTING); }

static DEFINE_SPINLOCK(kq_table_spin);
void kq_table_lock(void) { spin_lock_bh(&kq_table_spin); }
void kq_table_unlock(void) { spin_unlock_bh(&kq_table_spin); }

/* ---- datagrams ---- */

/* Makes the datagram's payload linear and private (it is decrypted in place), and reports its
 * addresses. skb->data points at the UDP header, as encap_rcv got it. */
int kq_skb_rx_prepare(struct sk_buff *skb, struct kq_dgram_addr *a, u8 **data, u32 *len)
{
	struct udphdr *uh;

	if (skb->len < sizeof(struct udphdr) || skb_ensure_writable(skb, skb->len))
		return -EINVAL;
	uh = (struct udphdr *)skb->data;
	memset(a, 0, sizeof(*a));
	a->sport = uh->source;
	a->dport = uh->dest;
	a->ifindex = skb->skb_iif;
	if (ip_hdr(skb)->version == 4) {
		a->family = AF_INET;
		memcpy(a->saddr, &ip_hdr(skb)->saddr, 4);
		memcpy(a->daddr, &ip_hdr(skb)->daddr, 4);
		a->ecn = ip_hdr(skb)->tos & INET_ECN_MASK;
	} else {
		a->family = AF_INET6;
		memcpy(a->saddr, &ipv6_hdr(skb)->saddr, 16);
		memcpy(a->daddr, &ipv6_hdr(skb)->daddr, 16);
		a->ecn = ipv6_get_dsfield(ipv6_hdr(skb)) & INET_ECN_MASK;
	}
	*data = skb->data + sizeof(struct udphdr);
	*len = skb->len - sizeof(struct udphdr);
	return 0;
}

/* The first bytes of the UDP payload (at most len), linear; NULL if none. */
const u8 *kq_skb_peek(struct sk_buff *skb, u32 len, u32 *avail)
{
	u32 have = skb->len > sizeof(struct udphdr) ? skb->len - sizeof(struct udphdr) : 0;

	if (len > have)
		len = have;
	if (!len || !pskb_may_pull(skb, sizeof(struct udphdr) + len))
		return NULL;
	*avail = len;
	return skb->data + sizeof(struct udphdr);
}

#define KQ_TX_HEADROOM (LL_MAX_HEADER + sizeof(struct ipv6hdr) + sizeof(struct udphdr) + 16)

struct sk_buff *kq_tx_alloc(u32 len)
{
	struct sk_buff *skb = alloc_skb(KQ_TX_HEADROOM + len, GFP_KERNEL);

	if (!skb)
		return NULL;
	skb_reserve(skb, KQ_TX_HEADROOM);
	skb_put(skb, len);
	return skb;
}

u8 *kq_skb_data(struct sk_buff *skb) { return skb->data; }

/* Marks skb (its data: datagrams of size bytes, the last one possibly shorter, len in all) for
 * UDP GSO. The UDP header the tunnel pushes in front gets the pseudo-header checksum of the
 * whole (udp_set_csum), and the segments their own checksums where they are made. */
void kq_skb_set_gso(struct sk_buff *skb, u32 size, u32 len)
{
	skb_shinfo(skb)->gso_size = size;
	skb_shinfo(skb)->gso_type = SKB_GSO_UDP_L4;
	skb_shinfo(skb)->gso_segs = DIV_ROUND_UP(len, size);
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = skb_headroom(skb) - sizeof(struct udphdr);
	skb->csum_offset = offsetof(struct udphdr, check);
}
void kq_skb_trim(struct sk_buff *skb, u32 len) { skb_trim(skb, len); }

/* Whether the cached route was made for this flow (the socket lock is held). */
static bool kq_route_match(struct kq_route *r, struct sock *sk, u16 family, const u8 *saddr,
			   const u8 *daddr, __be16 dport)
{
	unsigned int n = family == AF_INET ? 4 : 16;

	return r->valid && r->family == family && r->dport == dport &&
	       r->oif == sk->sk_bound_dev_if && r->mark == sk->sk_mark &&
	       !memcmp(r->saddr, saddr, n) && !memcmp(r->daddr, daddr, n);
}

static void kq_route_remember(struct kq_route *r, struct sock *sk, u16 family,
			      const u8 *saddr, const u8 *daddr, __be16 dport)
{
	unsigned int n = family == AF_INET ? 4 : 16;

	/* A new flow: what the per-CPU slots hold belongs to the old one. */
	dst_cache_reset_now(&r->cache);
	memcpy(r->saddr, saddr, n);
	memcpy(r->daddr, daddr, n);
	r->dport = dport;
	r->family = family;
	r->oif = sk->sk_bound_dev_if;
	r->mark = sk->sk_mark;
	r->valid = true;
}

/* Sends one UDP datagram (skb holds the QUIC packets) from the tunnel socket over the socket's
 * cached route, looking the route up when the flow changed or the kernel invalidated it.
 * Called under the socket lock, in process context; consumes skb. */
int kq_xmit(struct sock *sk, struct socket *tun, struct sk_buff *skb, u16 family,
	    const u8 *saddr, const u8 *daddr, __be16 sport, __be16 dport, u8 ecn)
{
	struct kq_route *r = &kq_ext_of(sk)->route;
	struct net *net = sock_net(sk);
	bool same;
	int err = 0;

	skb->mark = sk->sk_mark;
	skb->priority = sk->sk_priority;
	local_bh_disable();
	same = kq_route_match(r, sk, family, saddr, daddr, dport);
	if (family == AF_INET) {
		struct flowi4 fl4 = {};
		struct rtable *rt = NULL;

		memcpy(&fl4.daddr, daddr, 4);
		memcpy(&fl4.saddr, saddr, 4);
		if (same)
			rt = dst_cache_get_ip4(&r->cache, &fl4.saddr);
		if (!rt) {
			fl4.flowi4_oif = sk->sk_bound_dev_if;
			fl4.flowi4_proto = IPPROTO_UDP;
			fl4.flowi4_mark = sk->sk_mark;
			fl4.fl4_sport = sport;
			fl4.fl4_dport = dport;
			rt = ip_route_output_key(net, &fl4);
			if (IS_ERR(rt)) {
				err = PTR_ERR(rt);
				kfree_skb(skb);
				goto out;
			}
			if (!same)
				kq_route_remember(r, sk, family, saddr, daddr, dport);
			dst_cache_set_ip4(&r->cache, &rt->dst, fl4.saddr);
		}
		udp_tunnel_xmit_skb(rt, tun->sk, skb, fl4.saddr, fl4.daddr, ecn & INET_ECN_MASK,
				    ip4_dst_hoplimit(&rt->dst), htons(IP_DF), sport, dport,
				    false, false KQ_TUNNEL_IPCB_FLAGS);
	} else {
#if IS_ENABLED(CONFIG_IPV6)
		struct flowi6 fl6 = {};
		struct dst_entry *dst = NULL;

		memcpy(&fl6.daddr, daddr, 16);
		memcpy(&fl6.saddr, saddr, 16);
		if (same)
			dst = dst_cache_get_ip6(&r->cache, &fl6.saddr);
		if (!dst) {
			fl6.flowi6_oif = sk->sk_bound_dev_if;
			fl6.flowi6_proto = IPPROTO_UDP;
			fl6.flowi6_mark = sk->sk_mark;
			fl6.fl6_sport = sport;
			fl6.fl6_dport = dport;
			dst = ip6_dst_lookup_flow(net, tun->sk, &fl6, NULL);
			if (IS_ERR(dst)) {
				err = PTR_ERR(dst);
				kfree_skb(skb);
				goto out;
			}
			if (!same)
				kq_route_remember(r, sk, family, saddr, daddr, dport);
			dst_cache_set_ip6(&r->cache, dst, &fl6.saddr);
		}
		udp_tunnel6_xmit_skb(dst, tun->sk, skb, NULL, &fl6.saddr, &fl6.daddr,
				     ecn & INET_ECN_MASK, ip6_dst_hoplimit(dst), 0, sport, dport,
				     false KQ_TUNNEL_IPCB_FLAGS);
#else
		kfree_skb(skb);
		err = -EAFNOSUPPORT;
#endif
	}
out:
	local_bh_enable();
	return err;
}

/* The source address the routing table picks for daddr. */
int kq_route_saddr(struct sock *sk, u16 family, const u8 *daddr, __be16 dport, u8 *saddr)
{
	struct net *net = sock_net(sk);

	if (family == AF_INET) {
		struct flowi4 fl4 = {};
		struct rtable *rt;

		fl4.flowi4_oif = sk->sk_bound_dev_if;
		fl4.flowi4_proto = IPPROTO_UDP;
		memcpy(&fl4.daddr, daddr, 4);
		memcpy(&fl4.saddr, saddr, 4);
		fl4.fl4_dport = dport;
		rt = ip_route_output_key(net, &fl4);
		if (IS_ERR(rt))
			return PTR_ERR(rt);
		memcpy(saddr, &fl4.saddr, 4);
		ip_rt_put(rt);
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct flowi6 fl6 = {};
		struct dst_entry *dst;

		fl6.flowi6_oif = sk->sk_bound_dev_if;
		fl6.flowi6_proto = IPPROTO_UDP;
		memcpy(&fl6.daddr, daddr, 16);
		memcpy(&fl6.saddr, saddr, 16);
		fl6.fl6_dport = dport;
		dst = ip6_dst_lookup_flow(net, sk, &fl6, NULL);
		if (IS_ERR(dst))
			return PTR_ERR(dst);
		memcpy(saddr, &fl6.saddr, 16);
		dst_release(dst);
		return 0;
	}
#else
	return -EAFNOSUPPORT;
#endif
}

/* ---- socket fields ---- */

void kq_sk_set_peer(struct sock *sk, const void *addr, u16 port)
{
	struct inet_sock *inet = inet_sk(sk);

	if (sk->sk_family == AF_INET6) {
#if IS_ENABLED(CONFIG_IPV6)
		memcpy(&sk->sk_v6_daddr, addr, sizeof(struct in6_addr));
#endif
	} else {
		memcpy(&inet->inet_daddr, addr, sizeof(__be32));
	}
	inet->inet_dport = htons(port);
}

void kq_sk_set_state(struct sock *sk, int state) { inet_sk_set_state(sk, state); }
int kq_sk_state(const struct sock *sk) { return READ_ONCE(sk->sk_state); }
void kq_sk_set_shutdown(struct sock *sk, int how) { WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how); }
int kq_sk_shutdown(const struct sock *sk) { return READ_ONCE(sk->sk_shutdown); }
int kq_sk_type(const struct sock *sk) { return sk->sk_type; }
int kq_sk_err_take(struct sock *sk) { return sock_error(sk); }

/* ---- socket buffers: SO_SNDBUF/SO_RCVBUF and what is queued against them ---- */

void kq_sk_bufs(const struct sock *sk, int *sndbuf, int *rcvbuf, bool *snd_locked,
		bool *rcv_locked)
{
	*sndbuf = READ_ONCE(sk->sk_sndbuf);
	*rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	*snd_locked = sk->sk_userlocks & SOCK_SNDBUF_LOCK;
	*rcv_locked = sk->sk_userlocks & SOCK_RCVBUF_LOCK;
}

void kq_sk_grow_bufs(struct sock *sk, int sndbuf, int rcvbuf)
{
	if (sndbuf > READ_ONCE(sk->sk_sndbuf))
		WRITE_ONCE(sk->sk_sndbuf, sndbuf);
	if (rcvbuf > READ_ONCE(sk->sk_rcvbuf))
		WRITE_ONCE(sk->sk_rcvbuf, rcvbuf);
}

/* Mirrors the engine's buffers in the socket's counters (ss, SIOCOUTQ-style readers). The
 * engine owns the bytes; nothing is charged to skbs. */
void kq_sk_account(struct sock *sk, u64 queued, u64 unread)
{
	WRITE_ONCE(sk->sk_wmem_queued, (int)min_t(u64, queued, INT_MAX));
	atomic_set(&sk->sk_rmem_alloc, (int)min_t(u64, unread, INT_MAX));
}

/* A new socket for a connection accepted on the listener lsk (process context): the same
 * family, type and protocol, initialised as inet_create/inet6_create would. Our proto init has
 * run when it returns. */
struct sock *kq_sk_new_child(struct sock *lsk)
{
	struct sock *sk = sk_alloc(sock_net(lsk), lsk->sk_family, GFP_KERNEL, lsk->sk_prot,
				   lsk->sk_kern_sock);
	struct inet_sock *inet;

	if (!sk)
		return NULL;
	sock_init_data(NULL, sk);
	sk->sk_type = lsk->sk_type;
	sk->sk_protocol = lsk->sk_protocol;
	sk->sk_destruct = kq_ext_of(lsk)->orig_destruct;
	sk->sk_bound_dev_if = lsk->sk_bound_dev_if;
	sk->sk_mark = lsk->sk_mark;
	sk->sk_sndbuf = lsk->sk_sndbuf;
	sk->sk_rcvbuf = lsk->sk_rcvbuf;
	inet = inet_sk(sk);
	inet->uc_ttl = -1;
	inet_set_bit(MC_LOOP, sk);
	inet->mc_ttl = 1;
	inet->pmtudisc = IP_PMTUDISC_WANT;
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		struct ipv6_pinfo *np = &((struct kq6_sock *)sk)->v6;

		inet->pinet6 = np;
		np->hop_limit = -1;
		np->mcast_hops = IPV6_DEFAULT_MCASTHOPS;
		inet6_set_bit(MC6_LOOP, sk);
		inet6_set_bit(MC6_ALL, sk);
		np->pmtudisc = IPV6_PMTUDISC_WANT;
		sk->sk_ipv6only = lsk->sk_ipv6only;
	}
#endif
	if (sk->sk_prot->init(sk)) {
		sk_common_release(sk);
		return NULL;
	}
	return sk;
}

/* Drops a child that was never handed to accept's caller. */
void kq_sk_free_child(struct sock *sk)
{
	inet_sk_set_state(sk, TCP_CLOSE);
	sk_common_release(sk);
}

/* ---- waiting, waking, msghdr ---- */

/* Sleeps until woken, a signal, or timeo; the socket lock is released meanwhile. */
long kq_wait(struct sock *sk, long timeo)
{
	struct kq_ext *e = kq_ext_of(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	add_wait_queue(sk_sleep(sk), &wait);
	/* From here datagrams wake this task instead of the work item (see kq_rx_enqueue). */
	atomic_inc(&e->waiters);
	smp_mb__after_atomic();
	release_sock(sk);
	clear_bit(KQ_F_BACKLOG, &e->flags);
	/* Queued while the lock was ours: the caller processes it, no sleep. */
	if (skb_queue_empty(&e->rxq))
		timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, timeo);
	atomic_dec(&e->waiters);
	lock_sock(sk);
	remove_wait_queue(sk_sleep(sk), &wait);
	return timeo;
}

long kq_sndtimeo(struct sock *sk, int nonblock) { return sock_sndtimeo(sk, nonblock); }
long kq_rcvtimeo(struct sock *sk, int nonblock) { return sock_rcvtimeo(sk, nonblock); }

/* 0 to go on waiting; else the errno that ends the wait. */
int kq_signal_errno(long timeo)
{
	if (signal_pending(current))
		return sock_intr_errno(timeo);
	return timeo ? 0 : -EAGAIN;
}

void kq_wake(struct sock *sk)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLIN | EPOLLRDNORM | EPOLLOUT |
					   EPOLLWRNORM | EPOLLERR | EPOLLHUP);
	rcu_read_unlock();
	sk_wake_async_rcu(sk, SOCK_WAKE_IO, POLL_IN);
}

void kq_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait)
{
	sock_poll_wait(file, sock, wait);
}

size_t kq_msg_left(struct msghdr *msg) { return msg_data_left(msg); }

int kq_copy_from_msg(void *dst, struct msghdr *msg, size_t len)
{
	return copy_from_iter_full(dst, len, &msg->msg_iter) ? 0 : -EFAULT;
}

int kq_copy_to_msg(struct msghdr *msg, const void *src, size_t len)
{
	return copy_to_iter(src, len, &msg->msg_iter) == len ? 0 : -EFAULT;
}

void kq_msg_revert(struct msghdr *msg, size_t n) { iov_iter_revert(&msg->msg_iter, n); }

int kq_msg_has_control(struct msghdr *msg)
{
	return msg->msg_control && msg->msg_controllen > 0;
}

/* Finds the SOL_QUIC cmsg of a sendmsg: returns its type with its data copied to data (len
 * bytes exactly), -ENOENT when there is none, -EINVAL when one is malformed or repeated. */
int kq_cmsg_quic(struct msghdr *msg, void *data, int len)
{
	struct cmsghdr *cmsg;
	int found = -ENOENT;

	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != SOL_QUIC_KQ)
			continue;
		if (found >= 0)
			return -EINVAL;
		if (cmsg->cmsg_type == 0) {	/* QUIC_STREAM_INFO */
			if (cmsg->cmsg_len != CMSG_LEN(16) && cmsg->cmsg_len != CMSG_LEN(12))
				return -EINVAL;
			if (len < 16)
				return -EINVAL;
			memset(data, 0, 16);
			memcpy(data, CMSG_DATA(cmsg), cmsg->cmsg_len - CMSG_LEN(0));
		} else if (cmsg->cmsg_type == 1) {	/* QUIC_HANDSHAKE_INFO */
			if (cmsg->cmsg_len < CMSG_LEN(1) || len < 1)
				return -EINVAL;
			memcpy(data, CMSG_DATA(cmsg), 1);
		} else {
			return -EINVAL;
		}
		found = cmsg->cmsg_type;
	}
	return found;
}

int kq_put_cmsg(struct msghdr *msg, int type, int len, void *data)
{
	return put_cmsg(msg, SOL_QUIC_KQ, type, len, data);
}

void kq_msg_set_flags(struct msghdr *msg, int flags) { msg->msg_flags |= flags; }

/* ---- the kernel consumer API (include/linux/quic.h), lxin/quic's signatures ---- */

/* A kquic socket: IPPROTO_QUIC through a proto of this module (net/handshake replaces
 * sk_destruct during a handshake, so the destructor cannot tell). */
static bool kq_is_quic(const struct sock *sk)
{
	return sk && sk->sk_protocol == 261 && sk->sk_prot && sk->sk_prot->owner == THIS_MODULE;
}

/* Sets a SOL_QUIC option; optval may be a kernel (KERNEL_SOCKPTR) or user pointer. */
int quic_do_setsockopt(struct sock *sk, int optname, sockptr_t optval, unsigned int optlen)
{
	if (!kq_is_quic(sk))
		return -EOPNOTSUPP;
	return kq_rust_setsockopt(sk, optname, optval, optlen);
}
EXPORT_SYMBOL_GPL(quic_do_setsockopt);

/* Gets a SOL_QUIC option; *optlen holds the buffer's size on entry, the value's on return. */
int quic_do_getsockopt(struct sock *sk, int optname, sockptr_t optval, sockptr_t optlen)
{
	if (!kq_is_quic(sk))
		return -EOPNOTSUPP;
	return kq_rust_getsockopt(sk, optname, optval, optlen);
}
EXPORT_SYMBOL_GPL(quic_do_getsockopt);

/* The same on kernel buffers, as newer lxin/quic kernels spell it. */
int quic_kernel_setsockopt(struct sock *sk, int optname, void *optval, unsigned int optlen)
{
	return quic_do_setsockopt(sk, optname, KERNEL_SOCKPTR(optval), optlen);
}
EXPORT_SYMBOL_GPL(quic_kernel_setsockopt);

int quic_kernel_getsockopt(struct sock *sk, int optname, void *optval, unsigned int *optlen)
{
	return quic_do_getsockopt(sk, optname, KERNEL_SOCKPTR(optval), KERNEL_SOCKPTR(optlen));
}
EXPORT_SYMBOL_GPL(quic_kernel_getsockopt);
