// SPDX-License-Identifier: GPL-2.0
/*
 * Host test of libquic's GnuTLS backend, no kernel needed: two GnuTLS
 * sessions (client and server) driven through the step API
 * (quic_handshake_init/step), the CRYPTO bytes of each SENDMSG step carried
 * to the peer's next RECVMSG step in memory, and an in-memory "kernel"
 * (kquic_set_kernel_ops, libquic.a only) recording the secrets and transport
 * parameters the library installs.  TAP output.
 *
 *   gnutls_mem <dir holding cert.pem and key.pem>
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syslog.h>
#include <unistd.h>

#include <netinet/quic.h>

#include "kquic_internal.h"

#define FD_CLIENT	1000
#define FD_SERVER	1001

static int tests, failed;

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ---------------------------------------------------- in-memory kernel */

struct ev { int secret; uint8_t level, send; uint32_t type; };

struct side {
	struct ev log[32];
	int nlog;
	uint8_t peer_tp[512];
	unsigned int peer_tp_len;
	int peer_tp_sets;
	/* CRYPTO chunks waiting for this side */
	struct { uint8_t level; size_t len; uint8_t data[8192]; } inbox[32];
	int in_head, in_tail;
	int app_sends;		/* APP-level CRYPTO chunks this side sent */
	int sends_after_app_tx;	/* non-APP chunks sent after the 1-RTT send secret */
	int app_tx_seen;
};

static struct side sides[2];

static struct side *side_of(int fd)
{
	return &sides[fd == FD_SERVER];
}

static int fake_set_secret(int fd, const struct quic_crypto_secret *s)
{
	struct side *sd = side_of(fd);

	if (sd->nlog < 32)
		sd->log[sd->nlog++] = (struct ev){ 1, s->level, s->send, s->type };
	if (s->level == QUIC_CRYPTO_APP && s->send)
		sd->app_tx_seen++;
	return 0;
}

static const char *tp_of(int fd)
{
	return fd == FD_SERVER ? "server-transport-params" : "client-params";
}

static int fake_get_local_tp(int fd, uint8_t *buf, unsigned int *len)
{
	const char *tp = tp_of(fd);

	if (*len < strlen(tp))
		return -EINVAL;
	memcpy(buf, tp, strlen(tp));
	*len = (unsigned int)strlen(tp);
	return 0;
}

static int fake_set_peer_tp(int fd, const uint8_t *buf, size_t len)
{
	struct side *sd = side_of(fd);

	if (len > sizeof(sd->peer_tp))
		return -EINVAL;
	memcpy(sd->peer_tp, buf, len);
	sd->peer_tp_len = (unsigned int)len;
	sd->peer_tp_sets++;
	return 0;
}

static const struct kquic_kernel_ops fake_ops = {
	.set_secret = fake_set_secret,
	.get_local_tp = fake_get_local_tp,
	.set_peer_tp = fake_set_peer_tp,
};

/* Runs a step's call against the in-memory kernel. */
static void run_step(int fd, struct quic_handshake_step *st)
{
	struct side *me = side_of(fd), *peer = side_of(fd == FD_CLIENT ? FD_SERVER : FD_CLIENT);

	if (st->op == QUIC_HANDSHAKE_STEP_OP_SENDMSG) {
		const struct msghdr *m = st->s_sendmsg.msg;
		struct cmsghdr *cm = CMSG_FIRSTHDR(m);
		uint8_t level = ((struct quic_handshake_info *)CMSG_DATA(cm))->crypto_level;
		size_t len = m->msg_iov[0].iov_len;

		if (cm->cmsg_level != SOL_QUIC || cm->cmsg_type != QUIC_HANDSHAKE_INFO ||
		    len > sizeof(peer->inbox[0].data) || peer->in_tail == 32) {
			st->s_sendmsg.retval = -EINVAL;
			return;
		}
		if (level == QUIC_CRYPTO_APP)
			me->app_sends++;
		else if (me->app_tx_seen)
			me->sends_after_app_tx++;
		peer->inbox[peer->in_tail].level = level;
		peer->inbox[peer->in_tail].len = len;
		memcpy(peer->inbox[peer->in_tail].data, m->msg_iov[0].iov_base, len);
		peer->in_tail++;
		st->s_sendmsg.retval = (ssize_t)len;
	} else {
		struct msghdr *m = st->s_recvmsg.msg;
		struct cmsghdr *cm;

		if (me->in_head == me->in_tail) {
			st->s_recvmsg.retval = -EAGAIN;
			return;
		}
		memcpy(m->msg_iov[0].iov_base, me->inbox[me->in_head].data,
		       me->inbox[me->in_head].len);
		cm = CMSG_FIRSTHDR(m);
		cm->cmsg_level = SOL_QUIC;
		cm->cmsg_type = QUIC_HANDSHAKE_INFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct quic_handshake_info));
		((struct quic_handshake_info *)CMSG_DATA(cm))->crypto_level =
			me->inbox[me->in_head].level;
		m->msg_controllen = CMSG_SPACE(sizeof(struct quic_handshake_info));
		m->msg_flags = 0;
		st->s_recvmsg.retval = (ssize_t)me->inbox[me->in_head].len;
		me->in_head++;
	}
}

/* Both handshakes to the end (or the first failure); returns client and server results. */
static void pump(gnutls_session_t c, gnutls_session_t s, int *rc, int *rs)
{
	struct quic_handshake_step *cst = NULL, *sst = NULL;
	int i;

	memset(sides, 0, sizeof(sides));
	*rc = quic_handshake_init(c, &cst);
	*rs = quic_handshake_init(s, &sst);
	for (i = 0; i < 200 && !*rc && !*rs && (cst || sst); i++) {
		if (cst) {
			run_step(FD_CLIENT, cst);
			*rc = quic_handshake_step(c, &cst);
		}
		if (sst && !*rc) {
			run_step(FD_SERVER, sst);
			*rs = quic_handshake_step(s, &sst);
		}
	}
	if (!*rc && cst)
		*rc = -ETIMEDOUT;
	if (!*rs && sst)
		*rs = -ETIMEDOUT;
	quic_handshake_deinit(c);
	quic_handshake_deinit(s);
}

/* ------------------------------------------------------------- sessions */

static gnutls_psk_client_credentials_t ccred;
static gnutls_psk_server_credentials_t scred;
static gnutls_certificate_credentials_t xcred_server, xcred_client;
static gnutls_datum_t ticket_key;

static gnutls_session_t new_session(int server, int cert, const char *alpns, const char *prio,
				    unsigned int extra)
{
	gnutls_session_t s;

	if (gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | extra))
		abort();
	if (cert)
		gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
				       server ? xcred_server : xcred_client);
	else if (server)
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, scred);
	else
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, ccred);
	if (gnutls_priority_set_direct(s, prio ? prio : QUIC_PRIORITY, NULL))
		abort();
	if (alpns && quic_session_set_alpn(s, alpns, strlen(alpns)))
		abort();
	if (server && ticket_key.data)
		gnutls_session_ticket_enable_server(s, &ticket_key);
	gnutls_transport_set_int(s, server ? FD_SERVER : FD_CLIENT);
	return s;
}

static int find_secret(struct side *sd, uint8_t level, uint8_t send)
{
	int i;

	for (i = 0; i < sd->nlog; i++)
		if (sd->log[i].level == level && sd->log[i].send == send)
			return i;
	return -1;
}

/* The contract: 1-RTT send secret exactly once and last, after every
 * Initial/Handshake send; peer parameters delivered once, byte for byte. */
static void check_contract(const char *what, int fd)
{
	struct side *sd = side_of(fd);
	const char *peer_tp = tp_of(fd == FD_CLIENT ? FD_SERVER : FD_CLIENT);
	int app_tx = find_secret(sd, QUIC_CRYPTO_APP, 1);

	ok(find_secret(sd, QUIC_CRYPTO_HANDSHAKE, 1) >= 0 &&
	   find_secret(sd, QUIC_CRYPTO_HANDSHAKE, 0) >= 0 &&
	   find_secret(sd, QUIC_CRYPTO_APP, 0) >= 0,
	   "%s %s: handshake and 1-RTT secrets installed", what, fd == FD_CLIENT ? "client" : "server");
	ok(app_tx == sd->nlog - 1 && sd->app_tx_seen == 1 && sd->sends_after_app_tx == 0,
	   "%s %s: 1-RTT send secret once, last, after all handshake sends", what,
	   fd == FD_CLIENT ? "client" : "server");
	ok(sd->peer_tp_sets == 1 && sd->peer_tp_len == strlen(peer_tp) &&
	   !memcmp(sd->peer_tp, peer_tp, sd->peer_tp_len),
	   "%s %s: peer transport parameters handed over once, unchanged", what,
	   fd == FD_CLIENT ? "client" : "server");
}

static int log_calls;
static int log_last_level;

static void log_cb(int level, const char *msg)
{
	(void)msg;
	log_calls++;
	log_last_level = level;
}

static void test_psk(void)
{
	gnutls_session_t c = new_session(0, 0, "h3, smb", NULL, 0);
	gnutls_session_t s = new_session(1, 0, "smb", NULL, 0);
	char alpn[64];
	size_t alen = sizeof(alpn);
	int rc, rs;

	pump(c, s, &rc, &rs);
	ok(rc == 0 && rs == 0, "PSK handshake completes (client %d, server %d)", rc, rs);
	check_contract("PSK", FD_CLIENT);
	check_contract("PSK", FD_SERVER);
	ok(!quic_session_get_alpn(c, alpn, &alen) && alen == 3 && !memcmp(alpn, "smb", 3),
	   "client ALPN is the server's choice");
	alen = sizeof(alpn);
	ok(!quic_session_get_alpn(s, alpn, &alen) && alen == 3 && !memcmp(alpn, "smb", 3),
	   "server ALPN");
	alen = 2;
	ok(quic_session_get_alpn(s, alpn, &alen) == -EINVAL, "get_alpn: short buffer is -EINVAL");
	ok(side_of(FD_CLIENT)->log[0].type == 51, "default cipher: AES-128-GCM (51)");
	gnutls_deinit(c);
	gnutls_deinit(s);
}

static void test_cipher(const char *name, const char *prio, uint32_t type)
{
	/* Certificates: an external PSK is bound to SHA-256, AES-256-GCM's suite uses SHA-384. */
	gnutls_session_t c = new_session(0, 1, NULL, prio, 0);
	gnutls_session_t s = new_session(1, 1, NULL, prio, 0);
	int rc, rs, i, all = 1;

	pump(c, s, &rc, &rs);
	for (i = 0; i < sides[0].nlog; i++)
		all &= sides[0].log[i].type == type;
	ok(rc == 0 && rs == 0 && sides[0].nlog >= 4 && all,
	   "%s: handshake completes, every secret typed %u (%d %d %d)", name, type, rc, rs, sides[0].nlog);
	gnutls_deinit(c);
	gnutls_deinit(s);
}

static void test_alpn_mismatch(void)
{
	gnutls_session_t c = new_session(0, 0, "h3", NULL, 0);
	gnutls_session_t s = new_session(1, 0, "smb", NULL, 0);
	int rc, rs;

	pump(c, s, &rc, &rs);
	ok(rs < 0, "no common ALPN: the server fails (%d)", rs);
	ok(side_of(FD_SERVER)->app_tx_seen == 0, "no common ALPN: no 1-RTT send secret");
	gnutls_deinit(c);
	gnutls_deinit(s);
}

static void test_cert_and_resumption(void)
{
	gnutls_session_t c, s;
	uint8_t data[4096];
	size_t len = sizeof(data);
	int rc, rs, i, got = 0;

	if (gnutls_session_ticket_key_generate(&ticket_key))
		abort();
	c = new_session(0, 1, "h3", NULL, 0);
	s = new_session(1, 1, "h3", NULL, GNUTLS_NO_AUTO_SEND_TICKET);
	pump(c, s, &rc, &rs);
	ok(rc == 0 && rs == 0, "certificate handshake completes (client %d, server %d)", rc, rs);
	check_contract("certificate", FD_CLIENT);
	check_contract("certificate", FD_SERVER);
	ok(side_of(FD_SERVER)->app_sends == 1, "server sends one NewSessionTicket at APP level");
	/* What the kernel would deliver to the client after the handshake. */
	for (i = side_of(FD_CLIENT)->in_head; i < side_of(FD_CLIENT)->in_tail; i++) {
		if (side_of(FD_CLIENT)->inbox[i].level != QUIC_CRYPTO_APP)
			continue;
		got += !quic_handshake_process(c, QUIC_CRYPTO_APP, side_of(FD_CLIENT)->inbox[i].data,
					       side_of(FD_CLIENT)->inbox[i].len);
	}
	ok(got == 1, "client takes the ticket (quic_handshake_process at APP level)");
	ok(!gnutls_session_get_data(c, data, &len) && len > 0, "session data: %zu bytes", len);
	ok(!gnutls_session_is_resumed(c), "first connection is not resumed");
	gnutls_deinit(c);
	gnutls_deinit(s);

	c = new_session(0, 1, "h3", NULL, 0);
	s = new_session(1, 1, "h3", NULL, GNUTLS_NO_AUTO_SEND_TICKET);
	ok(!quic_session_set_data(c, data, len), "quic_session_set_data");
	pump(c, s, &rc, &rs);
	ok(rc == 0 && rs == 0 && gnutls_session_is_resumed(c) && gnutls_session_is_resumed(s),
	   "second connection resumes (client %d, server %d)", rc, rs);
	check_contract("resumed", FD_CLIENT);
	gnutls_deinit(c);
	gnutls_deinit(s);
	gnutls_free(ticket_key.data);
	ticket_key.data = NULL;
}

static void test_errors(void)
{
	gnutls_session_t c = new_session(0, 0, NULL, NULL, 0);
	struct quic_handshake_step *st = NULL, *bogus = (struct quic_handshake_step *)&st;
	char long_alpn[200];
	int rc;

	ok(quic_handshake_init(c, &bogus) == -EINVAL, "init with *pstep set: -EINVAL");
	ok(quic_handshake_init(c, NULL) == -EINVAL, "init without pstep: -EINVAL");
	memset(sides, 0, sizeof(sides));
	rc = quic_handshake_init(c, &st);
	ok(rc == 0 && st && st->op == QUIC_HANDSHAKE_STEP_OP_SENDMSG,
	   "client's first step sends (the ClientHello)");
	ok(quic_handshake_init(c, &bogus) == -EINVAL && quic_handshake_init(c, &(struct quic_handshake_step *){NULL}) == -EALREADY,
	   "init twice: -EALREADY");
	bogus = (struct quic_handshake_step *)&rc;
	ok(quic_handshake_step(c, &bogus) == -EINVAL, "step with a foreign step: -EINVAL");
	st->s_sendmsg.retval = -EPIPE;
	ok(quic_handshake_step(c, &st) == -EPIPE, "a failed sendmsg is the step's error");
	quic_handshake_deinit(c);
	quic_handshake_deinit(c);	/* twice is harmless */
	ok(quic_handshake_step(c, &st) == -EINVAL, "step after deinit: -EINVAL");
	memset(long_alpn, 'a', sizeof(long_alpn));
	ok(quic_session_set_alpn(c, long_alpn, sizeof(long_alpn)) == -EINVAL,
	   "set_alpn longer than 128 bytes: -EINVAL");
	ok(quic_session_set_alpn(c, " , ", 3) == -EINVAL, "set_alpn with no name: -EINVAL");
	gnutls_deinit(c);

	ok(quic_client_handshake(-1, "/nonexistent/psk.txt", NULL, NULL) == -ENOENT,
	   "client PSK mode, missing file: -ENOENT");
	ok(quic_server_handshake(-1, "/nonexistent/psk.txt", NULL, NULL) == -ENOENT,
	   "server PSK mode, missing file: -ENOENT");
	ok(quic_server_handshake(-1, NULL, NULL, NULL) == -EINVAL, "server without key: -EINVAL");
	ok(quic_server_handshake(-1, "/nonexistent/k.pem", "/nonexistent/c.pem", NULL) == -ENOENT,
	   "server certificate mode, missing files: -ENOENT");
	ok(quic_client_handshake(-1, NULL, NULL, NULL) == -EBADF,
	   "client certificate mode, bad socket: -EBADF");
}

static void test_log(void)
{
	gnutls_session_t c = new_session(0, 0, NULL, NULL, 0);
	struct quic_handshake_step *st = NULL;

	ok(quic_set_log_level(LOG_DEBUG) == -1, "log level is off (-1) by default");
	ok(quic_set_log_func(log_cb) == NULL, "no log function by default");
	memset(sides, 0, sizeof(sides));
	quic_handshake_init(c, &st);
	quic_handshake_deinit(c);
	ok(log_calls > 0 && log_last_level == LOG_DEBUG, "debug messages reach the hook (%d)",
	   log_calls);
	ok(quic_set_log_level(-1) == LOG_DEBUG, "set_log_level returns the old level");
	log_calls = 0;
	st = NULL;
	quic_handshake_init(c, &st);
	quic_handshake_deinit(c);
	ok(log_calls == 0, "nothing logged once the level is off");
	ok(quic_set_log_func(NULL) == log_cb, "set_log_func returns the old hook");
	gnutls_deinit(c);
}

static void test_msg_helpers(void)
{
	int sv[2];
	char buf[32];
	int64_t sid = 77;
	uint32_t flags = 0;
	ssize_t n;

	/* A unix socket ignores SOL_QUIC cmsgs: the data path of the helpers. */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		abort();
	n = quic_sendmsg(sv[0], "hello", 5, 4, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN);
	ok(n == 5, "quic_sendmsg returns the bytes sent");
	n = quic_recvmsg(sv[1], buf, sizeof(buf), &sid, &flags);
	ok(n == 5 && !memcmp(buf, "hello", 5) && sid == 77 && flags == 0,
	   "quic_recvmsg: data, no stream info left sid and flags alone");
	flags = MSG_DONTWAIT;
	n = quic_recvmsg(sv[1], buf, sizeof(buf), &sid, &flags);
	ok(n == -1 && errno == EAGAIN, "quic_recvmsg passes *flags as recvmsg flags (EAGAIN)");
	n = quic_sendmsg(-1, "x", 1, 0, 0);
	ok(n == -1 && errno == EBADF, "quic_sendmsg on a bad fd: -1, EBADF");
	n = quic_recvmsg(-1, buf, 1, NULL, NULL);
	ok(n == -1 && errno == EBADF, "quic_recvmsg on a bad fd: -1, EBADF");
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	char cert[512], key[512];
	gnutls_datum_t psk = { (unsigned char *)"0123456789abcdef0123456789abcdef", 32 };

	if (argc < 2) {
		fprintf(stderr, "usage: %s <dir with cert.pem and key.pem>\n", argv[0]);
		return 2;
	}
	snprintf(cert, sizeof(cert), "%s/cert.pem", argv[1]);
	snprintf(key, sizeof(key), "%s/key.pem", argv[1]);
	kquic_set_kernel_ops(&fake_ops);
	if (gnutls_psk_allocate_client_credentials(&ccred) ||
	    gnutls_psk_set_client_credentials(ccred, "kquic", &psk, GNUTLS_PSK_KEY_HEX) ||
	    gnutls_psk_allocate_server_credentials(&scred) ||
	    gnutls_certificate_allocate_credentials(&xcred_server) ||
	    gnutls_certificate_set_x509_key_file(xcred_server, cert, key, GNUTLS_X509_FMT_PEM) ||
	    gnutls_certificate_allocate_credentials(&xcred_client)) {
		fprintf(stderr, "credentials setup failed\n");
		return 2;
	}
	/* The server looks the client's identity up in a psktool-format file. */
	{
		char path[] = "/tmp/kquic-psk-XXXXXX";
		int fd = mkstemp(path);

		if (fd < 0 || write(fd, "kquic:0123456789abcdef0123456789abcdef\n", 39) != 39 ||
		    gnutls_psk_set_server_credentials_file(scred, path))
			return 2;
		close(fd);
		test_psk();
		test_cipher("AES-256-GCM", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM", 52);
		test_cipher("ChaCha20-Poly1305", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305", 54);
		test_cipher("AES-128-CCM", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM", 53);
		test_alpn_mismatch();
		unlink(path);
	}
	test_cert_and_resumption();
	test_errors();
	test_log();
	test_msg_helpers();
	printf("1..%d\n", tests);
	gnutls_psk_free_client_credentials(ccred);
	gnutls_psk_free_server_credentials(scred);
	gnutls_certificate_free_credentials(xcred_server);
	gnutls_certificate_free_credentials(xcred_client);
	return failed ? 1 : 0;
}
