// SPDX-License-Identifier: GPL-2.0
/*
 * libquic against quic.ko (run in the VM by selftests/run.sh): each case forks
 * a client against a server in this process over 127.0.0.1, through the C
 * library only (libquic.so), then moves data with quic_sendmsg/quic_recvmsg.
 * Certificate mode (rustls) and PSK mode (GnuTLS) of
 * quic_client_handshake/quic_server_handshake, a caller's GnuTLS session
 * through quic_handshake() and through the step API in a poll loop, mixed
 * backends, each cipher with GnuTLS, peer verification, ALPN mismatch, client
 * certificates (a server socket with QUIC_SOCKOPT_CONFIG.certificate_request
 * 2 requires one; the client's pkey_file is then a PEM file with its key and
 * certificate), missing key files (-ENOENT).
 * Keys: libquic-keys/ beside the binary (selftests/Makefile makes them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/quic.h>

static char cert[PATH_MAX], key[PATH_MAX], psk[PATH_MAX], identity[PATH_MAX];
static int tests, failed;
static int port = 7400;

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
	fflush(stdout);
}

static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A handshake function: 0 or a negative error. */
typedef int (*hs_fn)(int fd, const void *arg);

struct side { hs_fn fn; const void *arg; };

/* Client: "ping" on stream 0, expects "pong" on stream 1 (server-initiated). */
static int client_io(int fd)
{
	char buf[64] = {};
	int64_t sid = -1;
	uint32_t flags = 0;
	ssize_t n;

	n = quic_sendmsg(fd, "ping", 4, 0, MSG_STREAM_NEW | MSG_STREAM_FIN);
	if (n != 4)
		return 10;
	n = quic_recvmsg(fd, buf, sizeof(buf), &sid, &flags);
	if (n != 4 || memcmp(buf, "pong", 4) || sid != 1 || !(flags & MSG_STREAM_FIN))
		return 11;
	return 0;
}

static int server_io(int fd)
{
	char buf[64] = {};
	int64_t sid = -1;
	uint32_t flags = 0;
	ssize_t n;

	n = quic_recvmsg(fd, buf, sizeof(buf), &sid, &flags);
	if (n != 4 || memcmp(buf, "ping", 4) || sid != 0 || !(flags & MSG_STREAM_FIN))
		return -100;
	n = quic_sendmsg(fd, "pong", 4, 1, MSG_STREAM_NEW | MSG_STREAM_FIN);
	if (n != 4)
		return -101;
	/* Wait for the client's close before closing (the data must get there). */
	flags = 0;
	quic_recvmsg(fd, buf, sizeof(buf), &sid, &flags);
	return 0;
}

/*
 * Runs one case. Returns through crc and src the client's and server's handshake
 * results (or, once they succeeded, the data exchange's: 0 = all good).
 */
static void run_case(struct side c, struct side s, int *crc, int *src)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int lfd, fd, status;
	pid_t pid;

	port++;
	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_QUIC);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4)) {
		*crc = *src = -errno;
		if (lfd >= 0)
			close(lfd);
		return;
	}
	/* A client that fails before sending anything must not leave accept() waiting. */
	timeouts(lfd);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r;

		close(lfd);
		alarm(30);
		fd = socket(AF_INET, SOCK_STREAM, IPPROTO_QUIC);
		timeouts(fd);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
			_exit(99);
		r = c.fn(fd, c.arg);
		if (r)
			_exit(r < 0 && r > -99 ? -r : 98);
		r = client_io(fd);
		close(fd);
		_exit(r ? 100 + r : 0);
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		*src = -errno;
	} else {
		timeouts(fd);
		*src = s.fn(fd, s.arg);
		if (!*src)
			*src = server_io(fd);
		close(fd);
	}
	close(lfd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		*crc = -9999;
	else
		*crc = WEXITSTATUS(status) >= 99 ? WEXITSTATUS(status) : -WEXITSTATUS(status);
}

/* ---------------------------------------------------------------- sides */

static int cert_client(int fd, const void *arg)
{
	const char *const *a = arg;	/* { hostname, alpns } */

	return quic_client_handshake(fd, NULL, a[0], a[1]);
}

static int cert_server(int fd, const void *alpns)
{
	return quic_server_handshake(fd, key, cert, alpns);
}

/* Client with a certificate: pkey_file is a PEM file holding its key and certificate. */
static int identity_client(int fd, const void *pem)
{
	return quic_client_handshake(fd, pem, NULL, "sample");
}

/* Server requiring a client certificate (verified against SSL_CERT_FILE). */
static int mtls_server(int fd, const void *alpns)
{
	struct quic_config c;

	memset(&c, 0, sizeof(c));	/* only the non-zero fields change */
	c.certificate_request = 2;
	if (setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &c, sizeof(c)))
		return -errno;
	return quic_server_handshake(fd, key, cert, alpns);
}

/* Concatenates the test key and certificate into the client's PEM file. */
static int write_identity(void)
{
	const char *parts[] = { key, cert };
	FILE *out = fopen(identity, "w");
	char buf[4096];
	size_t n;
	unsigned int i;

	if (!out)
		return -errno;
	for (i = 0; i < 2; i++) {
		FILE *in = fopen(parts[i], "r");

		if (!in) {
			fclose(out);
			return -errno;
		}
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
	}
	return fclose(out) ? -errno : 0;
}

static int psk_client(int fd, const void *alpns)
{
	return quic_client_handshake(fd, psk, NULL, alpns);
}

static int psk_server(int fd, const void *alpns)
{
	return quic_server_handshake(fd, psk, NULL, alpns);
}

struct gnutls_opts {
	int server;
	const char *prio;
	int steps;	/* drive with the step API in a poll loop */
	const char *alpn;
	int ticket;	/* server: send a ticket; client: quic_session_get_data must return one */
};

static int run_steps(int fd, gnutls_session_t s)
{
	struct quic_handshake_step *st = NULL;
	int ret = quic_handshake_init(s, &st);

	while (!ret && st) {
		struct pollfd p = { .fd = fd };
		ssize_t r;

		if (st->op == QUIC_HANDSHAKE_STEP_OP_SENDMSG) {
			r = sendmsg(fd, st->s_sendmsg.msg, st->s_sendmsg.flags);
			st->s_sendmsg.retval = r < 0 ? -errno : r;
		} else {
			r = recvmsg(fd, st->s_recvmsg.msg, st->s_recvmsg.flags);
			if (r < 0 && errno == EAGAIN) {
				p.events = POLLIN;
				if (poll(&p, 1, 10000) <= 0) {
					ret = -ETIMEDOUT;
					break;
				}
				continue;
			}
			st->s_recvmsg.retval = r < 0 ? -errno : r;
		}
		ret = quic_handshake_step(s, &st);
	}
	quic_handshake_deinit(s);
	return ret;
}

static int gnutls_side(int fd, const void *arg)
{
	const struct gnutls_opts *o = arg;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	char alpn[32];
	size_t alen = sizeof(alpn);
	int ret;

	if (gnutls_certificate_allocate_credentials(&cred))
		return -ENOMEM;
	if (o->server && gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM)) {
		gnutls_certificate_free_credentials(cred);
		return -EINVAL;
	}
	gnutls_init(&s, o->server ? GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET : GNUTLS_CLIENT);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	if (o->server && o->ticket) {
		static gnutls_datum_t tkey;

		if (!tkey.data)
			gnutls_session_ticket_key_generate(&tkey);
		gnutls_session_ticket_enable_server(s, &tkey);
	}
	ret = gnutls_priority_set_direct(s, o->prio ? o->prio : QUIC_PRIORITY, NULL);
	if (!ret && o->alpn)
		ret = quic_session_set_alpn(s, o->alpn, strlen(o->alpn));
	gnutls_transport_set_int(s, fd);
	if (!ret)
		ret = o->steps ? run_steps(fd, s) : quic_handshake(s);
	if (!ret && o->alpn &&
	    (quic_session_get_alpn(s, alpn, &alen) || alen != strlen(o->alpn) ||
	     memcmp(alpn, o->alpn, alen)))
		ret = -EPROTO;
	if (!ret && !o->server && o->ticket) {
		uint8_t data[8192];
		size_t len = sizeof(data);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		poll(&p, 1, 5000);	/* the ticket follows the handshake */
		ret = quic_session_get_data(s, data, &len);
		if (!ret && len < 64)
			ret = -ENODATA;
	}
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return ret;
}

int main(int argc, char **argv)
{
	char exe[PATH_MAX], *dir;
	const char *noverify[] = { NULL, "sample" }, *verify[] = { "localhost", "sample" };
	const char *badname[] = { "wrong.example", "sample" }, *h3[] = { NULL, "h3" };
	static const struct { const char *name, *prio; } ciphers[] = {
		{ "AES-128-GCM", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:%DISABLE_TLS13_COMPAT_MODE" },
		{ "AES-256-GCM", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:%DISABLE_TLS13_COMPAT_MODE" },
		{ "ChaCha20-Poly1305", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE" },
		{ "AES-128-CCM", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM:%DISABLE_TLS13_COMPAT_MODE" },
	};
	struct gnutls_opts gc = { 0, NULL, 0, "sample", 0 }, gs = { 1, NULL, 0, "sample", 0 };
	struct gnutls_opts gstep = { 0, NULL, 1, "sample", 0 };
	struct gnutls_opts tc = { 0, NULL, 0, NULL, 1 }, ts = { 1, NULL, 0, NULL, 1 };
	int c, s;
	unsigned int i;

	(void)argc;
	signal(SIGPIPE, SIG_IGN);
	if (!realpath(argv[0], exe) && readlink("/proc/self/exe", exe, sizeof(exe) - 1) < 0)
		return 1;
	dir = dirname(exe);
	snprintf(cert, sizeof(cert), "%s/libquic-keys/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/libquic-keys/key.pem", dir);
	snprintf(psk, sizeof(psk), "%s/libquic-keys/psk.txt", dir);
	/* The build directory is read-only in the guest: the client's PEM goes to /tmp. */
	snprintf(identity, sizeof(identity), "/tmp/libquic-handshake-%d-client.pem", (int)getpid());
	/* The client verifying "localhost" trusts the test certificate (rustls reads SSL_CERT_FILE). */
	setenv("SSL_CERT_FILE", cert, 1);
	printf("TAP version 13\n");

	run_case((struct side){ cert_client, noverify }, (struct side){ cert_server, "sample" }, &c, &s);
	ok(c == 0 && s == 0, "certificate mode, rustls both sides: handshake and streams (client %d, server %d)", c, s);
	run_case((struct side){ cert_client, verify }, (struct side){ cert_server, "sample" }, &c, &s);
	ok(c == 0 && s == 0, "certificate mode, client verifies \"localhost\" against a CA file (client %d, server %d)", c, s);
	run_case((struct side){ cert_client, badname }, (struct side){ cert_server, "sample" }, &c, &s);
	ok(c < 0 && s < 0, "certificate mode, wrong host name: both fail (client %d, server %d)", c, s);
	run_case((struct side){ cert_client, h3 }, (struct side){ cert_server, "sample" }, &c, &s);
	ok(c < 0 && s < 0, "certificate mode, no common ALPN: both fail (client %d, server %d)", c, s);
	run_case((struct side){ psk_client, "sample" }, (struct side){ psk_server, "sample" }, &c, &s);
	ok(c == 0 && s == 0, "PSK mode, GnuTLS both sides: handshake and streams (client %d, server %d)", c, s);
	run_case((struct side){ gnutls_side, &gc }, (struct side){ cert_server, "sample" }, &c, &s);
	ok(c == 0 && s == 0, "quic_handshake(GnuTLS client) with a rustls server (client %d, server %d)", c, s);
	run_case((struct side){ cert_client, noverify }, (struct side){ gnutls_side, &gs }, &c, &s);
	ok(c == 0 && s == 0, "rustls client with quic_handshake(GnuTLS server) (client %d, server %d)", c, s);
	run_case((struct side){ gnutls_side, &gstep }, (struct side){ gnutls_side, &gs }, &c, &s);
	ok(c == 0 && s == 0, "step API in a poll loop (client) with a GnuTLS server (client %d, server %d)", c, s);
	run_case((struct side){ gnutls_side, &tc }, (struct side){ gnutls_side, &ts }, &c, &s);
	ok(c == 0 && s == 0, "quic_session_get_data: the server's ticket becomes session data (client %d, server %d)", c, s);
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		struct gnutls_opts cc = { 0, ciphers[i].prio, 0, NULL, 0 }, sc = { 1, ciphers[i].prio, 0, NULL, 0 };

		run_case((struct side){ gnutls_side, &cc }, (struct side){ gnutls_side, &sc }, &c, &s);
		ok(c == 0 && s == 0, "GnuTLS both sides, %s: handshake and streams (client %d, server %d)",
		   ciphers[i].name, c, s);
	}

	/* Client certificates: the server requires one (certificate_request = 2). */
	c = write_identity();
	ok(c == 0, "client key+certificate PEM written to %s (%d)", identity, c);
	run_case((struct side){ identity_client, identity }, (struct side){ mtls_server, "sample" }, &c, &s);
	ok(c == 0 && s == 0, "client certificate: a client with one is let in (client %d, server %d)", c, s);
	run_case((struct side){ cert_client, noverify }, (struct side){ mtls_server, "sample" }, &c, &s);
	ok(c != 0 && s < 0, "client certificate required: a client without one fails (client %d, server %d)", c, s);
	run_case((struct side){ identity_client, identity }, (struct side){ cert_server, "sample" }, &c, &s);
	ok(c == 0 && s == 0, "client certificate offered, server not asking: fine (client %d, server %d)", c, s);
	{
		int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_QUIC);

		c = quic_client_handshake(fd, "/nonexistent/client.pem", NULL, "sample");
		s = quic_server_handshake(fd, "/nonexistent/key.pem", "/nonexistent/cert.pem", "sample");
		ok(c == -ENOENT && s == -ENOENT, "missing key/certificate files: -ENOENT (client %d, server %d)", c, s);
		close(fd);
	}
	unlink(identity);
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
