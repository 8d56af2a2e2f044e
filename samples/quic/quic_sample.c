// SPDX-License-Identifier: GPL-2.0
/*
 * quic_sample: an in-kernel QUIC user of kquic, as SMB or NFS would be one.
 *
 * role=client: opens a kernel QUIC socket, sets the ALPN, connects, has the handshake done
 * through net/handshake (tls_client_hello_x509 or _psk: the userspace agent runs it on the
 * socket), then sends `streams` messages, each on a new bidirectional stream with FIN, reads
 * each echo back and compares. Module init returns the result: insmod fails if anything did.
 *
 * role=both: the server below and the client against it (kernel to kernel).
 *
 * role=server: listens on port; a kernel thread accepts connections and hands each to a work
 * item, which has its handshake done (tls_server_hello_x509 or _psk) and echoes every stream
 * back until the peer closes. `served` counts the streams echoed. rmmod stops it.
 *
 * clients=N (N > 0): the client part runs N connections at once (work items on an unbound
 * workqueue), each handshaking through the agent and echoing `streams` streams; module init
 * waits for all of them to end and succeeds whatever their outcome: `clients_ok` and
 * `clients_failed` count them.
 *
 * Parameters: role, addr (IPv4 or IPv6 literal), port, alpn, auth (x509|psk), psk (key
 * serial), cert and privkey (x509: key serials of this side's certificate and private key,
 * else the agent's configured ones), peername, timeout_ms, streams, message, clients.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/inet.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/atomic.h>
#include <net/sock.h>
#include <net/handshake.h>
#include <linux/quic.h>

static char *role = "client";
module_param(role, charp, 0444);
MODULE_PARM_DESC(role, "client, server or both");
static char *addr = "127.0.0.1";
module_param(addr, charp, 0444);
MODULE_PARM_DESC(addr, "server address (client: to connect to; server: to listen on)");
static int port = 4433;
module_param(port, int, 0444);
static char *alpn = "sample";
module_param(alpn, charp, 0444);
static char *auth = "x509";
module_param(auth, charp, 0444);
MODULE_PARM_DESC(auth, "x509 or psk");
static int psk;
module_param(psk, int, 0444);
MODULE_PARM_DESC(psk, "key serial of the PSK (auth=psk)");
static int cert;
module_param(cert, int, 0444);
MODULE_PARM_DESC(cert, "x509: key serial of this side's certificate (0: the agent's own)");
static int privkey;
module_param(privkey, int, 0444);
MODULE_PARM_DESC(privkey, "x509: key serial of the private key of cert");
static char *peername = "localhost";
module_param(peername, charp, 0444);
static int timeout_ms = 15000;
module_param(timeout_ms, int, 0444);
static int streams = 3;
module_param(streams, int, 0444);
static char *message = "hello from the kernel";
module_param(message, charp, 0444);
static int served;
module_param(served, int, 0444);
MODULE_PARM_DESC(served, "server: streams echoed so far");
static int peerid;
module_param(peerid, int, 0444);
MODULE_PARM_DESC(peerid, "the last client handshake's authenticated peer identity (key serial)");
static int srv_peerid;
module_param(srv_peerid, int, 0444);
MODULE_PARM_DESC(srv_peerid, "the last server handshake's authenticated peer identity (key serial)");
static int clients;
module_param(clients, int, 0444);
MODULE_PARM_DESC(clients, "run this many client connections at once (0: one, init fails if it does)");
static int clients_ok;
module_param(clients_ok, int, 0444);
MODULE_PARM_DESC(clients_ok, "clients=N: connections that handshook and echoed every stream");
static int clients_failed;
module_param(clients_failed, int, 0444);
MODULE_PARM_DESC(clients_failed, "clients=N: connections that failed");

struct hs_wait {
	struct completion done;
	int status;
	key_serial_t peerid;
};

static void hs_done(void *data, int status, key_serial_t id)
{
	struct hs_wait *w = data;

	w->status = status;
	w->peerid = id;
	complete(&w->done);
}

/*
 * Asks net/handshake for the handshake on sock (which has a file) and waits for DONE. 0 and the
 * peer's identity (key serial, 0 if none) in *id, or a negative errno.
 */
static int handshake(struct socket *sock, bool server, key_serial_t *id)
{
	struct tls_handshake_args args = {};
	unsigned long give_up = jiffies + msecs_to_jiffies(timeout_ms);
	struct hs_wait w;
	bool use_psk = !strcmp(auth, "psk");
	long left;
	int err;

	init_completion(&w.done);
	w.status = -ETIMEDOUT;
	w.peerid = 0;
	args.ta_sock = sock;
	args.ta_done = hs_done;
	args.ta_data = &w;
	args.ta_timeout_ms = timeout_ms;
	args.ta_peername = server ? NULL : peername;
	if (use_psk) {
		args.ta_num_peerids = 1;
		args.ta_my_peerids[0] = psk;
	} else {
		args.ta_my_cert = cert;
		args.ta_my_privkey = privkey;
	}
	for (;;) {
		if (server)
			err = use_psk ? tls_server_hello_psk(&args, GFP_KERNEL) :
					tls_server_hello_x509(&args, GFP_KERNEL);
		else
			err = use_psk ? tls_client_hello_psk(&args, GFP_KERNEL) :
					tls_client_hello_x509(&args, GFP_KERNEL);
		/* -EAGAIN: the queue of requests not yet accepted by an agent is full (at most
		 * 50 per network namespace); try again until the timeout. */
		if (err != -EAGAIN || time_after(jiffies, give_up))
			break;
		msleep(20 + get_random_u32_below(80));
	}
	if (err)
		return err;
	left = wait_for_completion_interruptible_timeout(&w.done,
							 msecs_to_jiffies(timeout_ms + 2000));
	if (left <= 0) {
		/* Not done yet: cancel; if the agent finished meanwhile, DONE already ran. */
		if (tls_handshake_cancel(sock->sk))
			return left ? (int)left : -ETIMEDOUT;
		wait_for_completion(&w.done);
	}
	if (!w.status)
		*id = w.peerid;
	return w.status;
}

/* One message on a stream: send with QUIC_STREAM_INFO (sid -1 + NEW opens the next one). */
static int send_stream(struct socket *sock, s64 sid, u32 flags, const void *data, size_t len)
{
	char control[CMSG_SPACE(sizeof(struct quic_stream_info))] = {};
	struct quic_stream_info *info;
	struct msghdr msg = {};
	struct cmsghdr *cmsg;
	struct kvec iov = { .iov_base = (void *)data, .iov_len = len };

	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	cmsg = (struct cmsghdr *)control;
	cmsg->cmsg_level = SOL_QUIC;
	cmsg->cmsg_type = QUIC_STREAM_INFO;
	cmsg->cmsg_len = CMSG_LEN(sizeof(*info));
	info = (struct quic_stream_info *)CMSG_DATA(cmsg);
	info->stream_id = sid;
	info->stream_flags = flags;
	return kernel_sendmsg(sock, &msg, &iov, 1, len);
}

/*
 * Receives stream data: returns the length and sets *sid and *fin. TLS messages that arrive
 * after the handshake (the server's NewSessionTickets, with QUIC_HANDSHAKE_INFO) are skipped.
 */
static int recv_stream(struct socket *sock, void *buf, size_t len, s64 *sid, bool *fin)
{
	char control[CMSG_SPACE(sizeof(struct quic_stream_info))];
	struct msghdr msg;
	struct cmsghdr *cmsg;
	struct kvec iov;
	int n;

	for (;;) {
		bool handshake_msg = false, got = false;

		memset(&msg, 0, sizeof(msg));
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		iov.iov_base = buf;
		iov.iov_len = len;
		n = kernel_recvmsg(sock, &msg, &iov, 1, len, 0);
		if (n < 0)
			return n;
		/* put_cmsg advanced msg_control past what it wrote: walk the buffer from its
		 * start, over the bytes used. */
		msg.msg_controllen = sizeof(control) - msg.msg_controllen;
		msg.msg_control = control;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			struct quic_stream_info *info;

			if (cmsg->cmsg_level != SOL_QUIC)
				continue;
			if (cmsg->cmsg_type == QUIC_HANDSHAKE_INFO) {
				handshake_msg = true;
				continue;
			}
			if (cmsg->cmsg_type != QUIC_STREAM_INFO)
				continue;
			info = (struct quic_stream_info *)CMSG_DATA(cmsg);
			*sid = info->stream_id;
			*fin = info->stream_flags & MSG_QUIC_STREAM_FIN;
			got = true;
		}
		if (handshake_msg)
			continue;
		if (!got)
			return -EPROTO;
		return n;
	}
}

static int parse_addr(struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (in4_pton(addr, -1, (u8 *)&sin->sin_addr, -1, NULL)) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (in6_pton(addr, -1, (u8 *)&sin6->sin6_addr, -1, NULL)) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

/* A kernel QUIC socket with a file (net/handshake passes the file to the agent). */
static int quic_socket(int family, struct socket **res)
{
	struct socket *sock;
	struct file *file;
	int err;

	err = sock_create_kern(&init_net, family, SOCK_STREAM, IPPROTO_QUIC, &sock);
	if (err)
		return err;
	err = quic_kernel_setsockopt(sock->sk, QUIC_SOCKOPT_ALPN, alpn, strlen(alpn));
	if (err) {
		sock_release(sock);
		return err;
	}
	file = sock_alloc_file(sock, 0, NULL);	/* releases sock on failure */
	if (IS_ERR(file))
		return PTR_ERR(file);
	*res = sock;
	return 0;
}

/* Closes a socket made by quic_socket (the file owns it). */
static void quic_close(struct socket *sock)
{
	if (sock)
		fput(sock->file);
}

/* One client connection: connect, handshake, `streams` streams echoed. 0 or a negative errno. */
static int client_once(int idx)
{
	struct sockaddr_storage ss;
	struct socket *sock = NULL;
	size_t mlen = strlen(message);
	key_serial_t id = 0;
	char *buf;
	int len, err, i;

	err = parse_addr(&ss, &len);
	if (err)
		return err;
	buf = kmalloc(mlen + 64, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	err = quic_socket(ss.ss_family, &sock);
	if (err)
		goto out;
	/* (void *): struct sockaddr before 7.x, struct sockaddr_unsized since. */
	err = kernel_connect(sock, (void *)&ss, len, 0);
	if (err) {
		pr_err("quic_sample: client %d: connect: %d\n", idx, err);
		goto out;
	}
	err = handshake(sock, false, &id);
	if (err) {
		pr_err("quic_sample: client %d: handshake failed: %d\n", idx, err);
		goto out;
	}
	WRITE_ONCE(peerid, id);
	if (!clients)
		pr_info("quic_sample: client handshake done (peer identity %d)\n", id);
	/* A peer that stops answering must not hold us forever. */
	sock->sk->sk_rcvtimeo = msecs_to_jiffies(timeout_ms);
	for (i = 0; i < streams; i++) {
		char *want;
		s64 sid = -1;
		bool fin = false;
		int n, got = 0;

		want = kasprintf(GFP_KERNEL, "%s #%d.%d", message, idx, i);
		if (!want) {
			err = -ENOMEM;
			goto out;
		}
		n = send_stream(sock, -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN, want,
				strlen(want));
		if (n != strlen(want)) {
			pr_err("quic_sample: client %d: send on stream %d: %d\n", idx, i, n);
			kfree(want);
			err = n < 0 ? n : -EIO;
			goto out;
		}
		while (!fin) {
			n = recv_stream(sock, buf + got, mlen + 63 - got, &sid, &fin);
			if (n < 0) {
				kfree(want);
				err = n;
				pr_err("quic_sample: client %d: recv on stream %d: %d\n", idx, i, n);
				goto out;
			}
			got += n;
		}
		if (got != strlen(want) || memcmp(buf, want, got)) {
			pr_err("quic_sample: client %d: stream %lld: echo differs\n", idx, sid);
			kfree(want);
			err = -EBADMSG;
			goto out;
		}
		if (!clients)
			pr_info("quic_sample: stream %lld echoed %d bytes\n", sid, got);
		kfree(want);
	}
	if (!clients)
		pr_info("quic_sample: client done: %d streams\n", streams);
out:
	quic_close(sock);
	kfree(buf);
	return err;
}

/* clients=N: one work item per connection. */
struct client_work {
	struct work_struct work;
	int idx;
	int err;
};

static void client_work_fn(struct work_struct *work)
{
	struct client_work *cw = container_of(work, struct client_work, work);

	cw->err = client_once(cw->idx);
}

static int run_client(void)
{
	struct workqueue_struct *wq;
	struct client_work *cws;
	int i, first = 0;

	if (clients <= 0)
		return client_once(0);
	cws = kcalloc(clients, sizeof(*cws), GFP_KERNEL);
	if (!cws)
		return -ENOMEM;
	/* Unbound: every blocked connection gets its own worker, all run at once. */
	wq = alloc_workqueue("quic_sample_clients", WQ_UNBOUND, clients);
	if (!wq) {
		kfree(cws);
		return -ENOMEM;
	}
	for (i = 0; i < clients; i++) {
		cws[i].idx = i;
		INIT_WORK(&cws[i].work, client_work_fn);
		queue_work(wq, &cws[i].work);
	}
	destroy_workqueue(wq);	/* waits for every connection to end */
	clients_ok = 0;
	clients_failed = 0;
	for (i = 0; i < clients; i++) {
		if (!cws[i].err) {
			clients_ok++;
		} else {
			clients_failed++;
			if (!first)
				first = cws[i].err;
		}
	}
	pr_info("quic_sample: %d of %d clients succeeded (first error %d)\n", clients_ok, clients,
		first);
	kfree(cws);
	return 0;
}

static struct task_struct *server_task;
static struct socket *listener;
static struct workqueue_struct *server_wq;
static DEFINE_MUTEX(conn_lock);	/* conns, served; sleeps (shutdown takes the socket lock) */
static LIST_HEAD(conns);
static bool stopping;

/* One accepted connection, served by a work item. */
struct server_conn {
	struct work_struct work;
	struct list_head node;
	struct socket *sock;
	struct file *file;
};

/* Echoes every stream of one connection until it ends. */
static void serve(struct socket *sock)
{
	char *buf = kmalloc(4096, GFP_KERNEL);

	if (!buf)
		return;
	while (!READ_ONCE(stopping)) {
		s64 sid = 0;
		bool fin = false;
		int n = recv_stream(sock, buf, 4096, &sid, &fin);

		if (n < 0)
			break;
		if (send_stream(sock, sid, fin ? MSG_QUIC_STREAM_FIN : 0, buf, n) < 0)
			break;
		if (fin) {
			mutex_lock(&conn_lock);
			served++;
			mutex_unlock(&conn_lock);
		}
	}
	kfree(buf);
}

static void server_conn_fn(struct work_struct *work)
{
	struct server_conn *c = container_of(work, struct server_conn, work);
	key_serial_t id = 0;
	int err;

	err = handshake(c->sock, true, &id);
	if (err) {
		pr_err("quic_sample: server handshake failed: %d\n", err);
	} else {
		WRITE_ONCE(srv_peerid, id);
		serve(c->sock);
	}
	mutex_lock(&conn_lock);
	list_del(&c->node);
	mutex_unlock(&conn_lock);
	fput(c->file);
	kfree(c);
}

static int server_thread(void *unused)
{
	while (!kthread_should_stop()) {
		struct server_conn *c;
		struct socket *conn;
		struct file *file;
		int err = kernel_accept(listener, &conn, 0);

		if (err) {
			if (kthread_should_stop())
				break;
			if (err != -EAGAIN)
				msleep(20);
			continue;
		}
		file = sock_alloc_file(conn, 0, NULL);	/* releases conn on failure */
		if (IS_ERR(file))
			continue;
		c = kzalloc(sizeof(*c), GFP_KERNEL);
		if (!c) {
			fput(file);
			continue;
		}
		/* A silent peer must not pin the work item: rmmod waits for it. */
		conn->sk->sk_rcvtimeo = msecs_to_jiffies(timeout_ms);
		c->sock = conn;
		c->file = file;
		INIT_WORK(&c->work, server_conn_fn);
		mutex_lock(&conn_lock);
		list_add(&c->node, &conns);
		mutex_unlock(&conn_lock);
		queue_work(server_wq, &c->work);
	}
	return 0;
}

static int run_server(void)
{
	struct sockaddr_storage ss;
	int len, err;

	err = parse_addr(&ss, &len);
	if (err)
		return err;
	server_wq = alloc_workqueue("quic_sample_server", WQ_UNBOUND, 0);
	if (!server_wq)
		return -ENOMEM;
	err = quic_socket(ss.ss_family, &listener);
	if (err)
		goto fail_wq;
	err = kernel_bind(listener, (void *)&ss, len);	/* see kernel_connect above */
	if (!err)
		err = kernel_listen(listener, 256);
	/* accept() returns every second to look at kthread_should_stop(). */
	listener->sk->sk_rcvtimeo = HZ;
	if (err)
		goto fail;
	server_task = kthread_run(server_thread, NULL, "quic_sample");
	if (IS_ERR(server_task)) {
		err = PTR_ERR(server_task);
		server_task = NULL;
		goto fail;
	}
	pr_info("quic_sample: serving on %s port %d\n", addr, port);
	return 0;
fail:
	quic_close(listener);
	listener = NULL;
fail_wq:
	destroy_workqueue(server_wq);
	server_wq = NULL;
	return err;
}

static void stop_server(void)
{
	struct server_conn *c;

	if (server_task)
		kthread_stop(server_task);
	server_task = NULL;
	if (server_wq) {
		/* Wake the connections still served: their work items end and drop them. */
		WRITE_ONCE(stopping, true);
		mutex_lock(&conn_lock);
		list_for_each_entry(c, &conns, node)
			kernel_sock_shutdown(c->sock, SHUT_RDWR);
		mutex_unlock(&conn_lock);
		destroy_workqueue(server_wq);
		server_wq = NULL;
	}
	quic_close(listener);
	listener = NULL;
}

static int __init quic_sample_init(void)
{
	int err;

	if (clients < 0 || clients > 1000 || timeout_ms <= 0)
		return -EINVAL;
	if (!strcmp(role, "server"))
		return run_server();
	if (!strcmp(role, "client"))
		return run_client();
	if (strcmp(role, "both"))
		return -EINVAL;
	/* Kernel to kernel: this module's server, and its client against it. */
	err = run_server();
	if (err)
		return err;
	err = run_client();
	if (err)
		stop_server();
	return err;
}

static void __exit quic_sample_exit(void)
{
	stop_server();
}

module_init(quic_sample_init);
module_exit(quic_sample_exit);
MODULE_DESCRIPTION("kquic sample consumer: a kernel QUIC client or server through net/handshake");
MODULE_LICENSE("GPL");
