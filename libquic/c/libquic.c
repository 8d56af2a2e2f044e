// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kquic libquic: the C side of the userspace QUIC library.
 *
 *  - quic_sendmsg()/quic_recvmsg(): stream cmsgs around sendmsg()/recvmsg();
 *  - the GnuTLS backend: quic_handshake() and the step API over a caller's
 *    gnutls_session_t, the session helpers, PSK mode of
 *    quic_client_handshake()/quic_server_handshake();
 *  - certificate mode of quic_client_handshake()/quic_server_handshake()
 *    goes to the rustls backend (Rust, crate quic-capi, over libquic's ksock
 *    socket driver); a client whose pkey_file is PEM (its key and certificate
 *    chain) authenticates with that certificate, and a server whose socket has
 *    QUIC_SOCKOPT_CONFIG.certificate_request set (1 request, 2 require) asks
 *    for one and verifies it against the system CAs (SSL_CERT_FILE);
 *  - the log hooks.
 *
 * The kernel contract the handshake follows (the same order as the Rust driver
 * in libquic/src/ksock/handshake.rs): every secret is installed
 * (QUIC_SOCKOPT_CRYPTO_SECRET) as TLS derives it, except the 1-RTT send
 * secret, which is held back until TLS reports the handshake complete and all
 * Initial/Handshake CRYPTO bytes are sent: installing it tells the kernel the
 * handshake is done.  CRYPTO bytes at the APP level (NewSessionTicket) go out
 * after it.  The peer's transport parameters reach the kernel
 * (QUIC_SOCKOPT_TRANSPORT_PARAM_EXT) when TLS parses the extension.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syslog.h>
#include <time.h>

#include <netinet/quic.h>

#include "kquic_internal.h"

#define TP_EXT_TYPE	0x39u	/* quic_transport_parameters, RFC 9001 section 8.2 */
#define TP_EXT_MAX	512
#define RECV_BUF_LEN	65536
#define ALPNS_MAX	128	/* QUIC_SOCKOPT_ALPN limit */

#define QUIC_CMSG_STREAM_FLAGS						\
	(MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN | MSG_QUIC_STREAM_UNI | \
	 MSG_QUIC_STREAM_DONTWAIT | MSG_QUIC_STREAM_SNDBLOCK)

/* ---------------------------------------------------------------- logging */

static int log_level = -1;		/* nothing until the caller opts in */
static quic_set_log_func_t log_func;

int quic_set_log_level(int level)
{
	int old = log_level;

	log_level = level;
	return old;
}

quic_set_log_func_t quic_set_log_func(quic_set_log_func_t func)
{
	quic_set_log_func_t old = log_func;

	log_func = func;
	return old;
}

__attribute__((format(printf, 2, 3)))
void kquic_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {
		"EMERG", "ALERT", "CRIT", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG",
	};
	char msg[256];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_func) {
		log_func(level, msg);
		return;
	}
	fprintf(stderr, "libquic [%s] %s\n",
		level >= 0 && level <= LOG_DEBUG ? names[level] : "LOG", msg);
}

/* ------------------------------------------------------ sendmsg / recvmsg */

ssize_t quic_sendmsg(int sockfd, const void *msg, size_t len, int64_t sid,
		     uint32_t flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct quic_stream_info))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct quic_stream_info info;
	struct cmsghdr *cm;

	/* A datagram carries no stream: kquic takes MSG_QUIC_DATAGRAM as a
	 * sendmsg() flag on a message without QUIC_STREAM_INFO. */
	if (flags & MSG_QUIC_DATAGRAM)
		return sendmsg(sockfd, &mh, (int)flags);

	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_QUIC;
	cm->cmsg_type = QUIC_STREAM_INFO;
	cm->cmsg_len = CMSG_LEN(sizeof(info));
	info.stream_id = sid;
	info.stream_flags = flags & QUIC_CMSG_STREAM_FLAGS;
	memcpy(CMSG_DATA(cm), &info, sizeof(info));
	return sendmsg(sockfd, &mh, (int)(flags & ~QUIC_CMSG_STREAM_FLAGS));
}

/*
 * Messages with QUIC_HANDSHAKE_INFO are not application data, so quic_recvmsg()
 * skips them (a client's NewSessionTickets never come this way: the kernel keeps
 * them for QUIC_SOCKOPT_SESSION_TICKET, as lxin/quic's does).
 */
ssize_t quic_recvmsg(int sockfd, void *msg, size_t len, int64_t *sid,
		     uint32_t *flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct quic_stream_info)) +
			 CMSG_SPACE(sizeof(struct quic_handshake_info))];
		struct cmsghdr align;
	} control;
	int rflags = flags ? (int)*flags : 0;

	for (;;) {
		struct iovec iov = { .iov_base = msg, .iov_len = len };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		struct quic_stream_info info;
		int handshake = 0, have_info = 0;
		struct cmsghdr *cm;
		ssize_t ret;

		ret = recvmsg(sockfd, &mh, rflags);
		if (ret < 0)
			return ret;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_QUIC)
				continue;
			if (cm->cmsg_type == QUIC_HANDSHAKE_INFO)
				handshake = 1;
			if (cm->cmsg_type == QUIC_STREAM_INFO &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(info))) {
				memcpy(&info, CMSG_DATA(cm), sizeof(info));
				have_info = 1;
			}
		}
		if (handshake) {
			kquic_log(LOG_DEBUG, "skipped %zd bytes of post-handshake CRYPTO data", ret);
			/* Not the caller's data: leave no trace of it in the buffer. */
			memset(msg, 0, (size_t)ret);
			/* Consume what a peek left queued (CRYPTO bytes come first). */
			if (rflags & MSG_PEEK) {
				mh.msg_controllen = sizeof(control.buf);
				iov.iov_len = (size_t)ret;
				if (recvmsg(sockfd, &mh, (rflags & ~MSG_PEEK) | MSG_DONTWAIT) < 0)
					return -1;
			}
			continue;
		}
		if (flags)
			*flags = (uint32_t)mh.msg_flags;
		if (have_info) {
			if (sid)
				*sid = info.stream_id;
			if (flags)
				*flags |= info.stream_flags;
		}
		return ret;
	}
}

/* ------------------------------------------------------ kernel operations */

static int sock_set_secret(int fd, const struct quic_crypto_secret *s)
{
	if (setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, s, sizeof(*s)))
		return -errno;
	return 0;
}

static int sock_get_local_tp(int fd, uint8_t *buf, unsigned int *len)
{
	socklen_t l = *len;

	if (getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf, &l))
		return -errno;
	*len = l;
	return 0;
}

static int sock_set_peer_tp(int fd, const uint8_t *buf, size_t len)
{
	if (setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf, len))
		return -errno;
	return 0;
}

static const struct kquic_kernel_ops sock_ops = {
	.set_secret = sock_set_secret,
	.get_local_tp = sock_get_local_tp,
	.set_peer_tp = sock_set_peer_tp,
};

static const struct kquic_kernel_ops *kops = &sock_ops;

void kquic_set_kernel_ops(const struct kquic_kernel_ops *ops)
{
	kops = ops ? ops : &sock_ops;
}

/* --------------------------------------------------------- GnuTLS backend */

struct out_msg {
	struct out_msg *next;
	union {
		char buf[CMSG_SPACE(sizeof(struct quic_handshake_info))];
		struct cmsghdr align;
	} control;
	struct iovec iov;
	struct msghdr mh;
	uint8_t level;
	size_t len;
	uint8_t data[];
};

struct hs_ctx {
	gnutls_session_t session;
	int fd;
	struct out_msg *out;		/* CRYPTO bytes to send, in order */
	struct quic_handshake_step step;
	int step_is_live;		/* step handed out, not yet processed */
	struct out_msg *step_msg;	/* the message a SENDMSG step sends */
	struct quic_crypto_secret app_tx; /* held back until completion */
	unsigned int have_app_tx:1;
	unsigned int app_tx_installed:1;
	unsigned int completed:1;
	unsigned int is_server:1;
	union {
		char buf[CMSG_SPACE(sizeof(struct quic_handshake_info))];
		struct cmsghdr align;
	} rcontrol;
	struct iovec riov;
	struct msghdr rmh;
	uint8_t rbuf[RECV_BUF_LEN];
};

static struct hs_ctx *ctx_of(gnutls_session_t session)
{
	gnutls_ext_priv_data_t p = NULL;

	if (gnutls_ext_get_data(session, TP_EXT_TYPE, &p) < 0)
		return NULL;
	return p;
}

static int level_to_quic(gnutls_record_encryption_level_t l)
{
	switch (l) {
	case GNUTLS_ENCRYPTION_LEVEL_INITIAL:
		return QUIC_CRYPTO_INITIAL;
	case GNUTLS_ENCRYPTION_LEVEL_EARLY:
		return QUIC_CRYPTO_EARLY;
	case GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE:
		return QUIC_CRYPTO_HANDSHAKE;
	case GNUTLS_ENCRYPTION_LEVEL_APPLICATION:
		return QUIC_CRYPTO_APP;
	}
	return -1;
}

static int level_from_quic(uint8_t l, gnutls_record_encryption_level_t *out)
{
	switch (l) {
	case QUIC_CRYPTO_INITIAL:
		*out = GNUTLS_ENCRYPTION_LEVEL_INITIAL;
		return 0;
	case QUIC_CRYPTO_EARLY:
		*out = GNUTLS_ENCRYPTION_LEVEL_EARLY;
		return 0;
	case QUIC_CRYPTO_HANDSHAKE:
		*out = GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE;
		return 0;
	case QUIC_CRYPTO_APP:
		*out = GNUTLS_ENCRYPTION_LEVEL_APPLICATION;
		return 0;
	}
	return -EINVAL;
}

static uint32_t cipher_to_tls(gnutls_cipher_algorithm_t c)
{
	switch (c) {
	case GNUTLS_CIPHER_AES_128_GCM:
		return 51;	/* TLS_CIPHER_AES_GCM_128 */
	case GNUTLS_CIPHER_AES_256_GCM:
		return 52;	/* TLS_CIPHER_AES_GCM_256 */
	case GNUTLS_CIPHER_AES_128_CCM:
		return 53;	/* TLS_CIPHER_AES_CCM_128 */
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		return 54;	/* TLS_CIPHER_CHACHA20_POLY1305 */
	default:
		return 0;
	}
}

static int on_secret(gnutls_session_t session, gnutls_record_encryption_level_t glevel,
		     const void *rx, const void *tx, size_t len)
{
	struct hs_ctx *ctx = ctx_of(session);
	struct quic_crypto_secret s;
	gnutls_cipher_algorithm_t c;
	int level = level_to_quic(glevel), err;

	if (!ctx)
		return 0;
	if (level < 0 || len > sizeof(s.secret)) {
		kquic_log(LOG_ERR, "secret of level %d, %zu bytes: unusable", (int)glevel, len);
		return GNUTLS_E_INTERNAL_ERROR;
	}
	c = glevel == GNUTLS_ENCRYPTION_LEVEL_EARLY ? gnutls_early_cipher_get(session)
						    : gnutls_cipher_get(session);
	memset(&s, 0, sizeof(s));
	s.level = (uint8_t)level;
	s.type = cipher_to_tls(c);
	if (!s.type) {
		kquic_log(LOG_ERR, "cipher %s is not a QUIC cipher", gnutls_cipher_get_name(c));
		return GNUTLS_E_INTERNAL_ERROR;
	}
	if (tx) {
		s.send = 1;
		memcpy(s.secret, tx, len);
		if (level == QUIC_CRYPTO_APP) {
			ctx->app_tx = s;
			ctx->have_app_tx = 1;
		} else {
			err = kops->set_secret(ctx->fd, &s);
			if (err && level == QUIC_CRYPTO_EARLY) {
				kquic_log(LOG_NOTICE, "0-RTT send secret refused (%d): no early data", err);
			} else if (err) {
				kquic_log(LOG_ERR, "installing send secret of level %d: %d", level, err);
				gnutls_memset(&s, 0, sizeof(s));
				return GNUTLS_E_INTERNAL_ERROR;
			}
		}
	}
	if (rx) {
		s.send = 0;
		memcpy(s.secret, rx, len);
		err = kops->set_secret(ctx->fd, &s);
		if (err && level == QUIC_CRYPTO_EARLY) {
			kquic_log(LOG_NOTICE, "0-RTT receive secret refused (%d)", err);
		} else if (err) {
			kquic_log(LOG_ERR, "installing receive secret of level %d: %d", level, err);
			gnutls_memset(&s, 0, sizeof(s));
			return GNUTLS_E_INTERNAL_ERROR;
		}
	}
	gnutls_memset(&s, 0, sizeof(s));
	kquic_log(LOG_DEBUG, "secrets of level %d: send %d receive %d", level, !!tx, !!rx);
	return 0;
}

static int on_output(gnutls_session_t session, gnutls_record_encryption_level_t glevel,
		     gnutls_handshake_description_t htype, const void *data, size_t len)
{
	struct hs_ctx *ctx = ctx_of(session);
	struct out_msg *m, **tail;
	int level = level_to_quic(glevel);

	/* The kernel runs key updates itself; QUIC has no ChangeCipherSpec
	 * (a priority string without %DISABLE_TLS13_COMPAT_MODE asks for one). */
	if (!ctx || htype == GNUTLS_HANDSHAKE_KEY_UPDATE ||
	    htype == GNUTLS_HANDSHAKE_CHANGE_CIPHER_SPEC)
		return 0;
	if (level < 0)
		return GNUTLS_E_INTERNAL_ERROR;
	m = calloc(1, sizeof(*m) + len);
	if (!m)
		return GNUTLS_E_MEMORY_ERROR;
	m->level = (uint8_t)level;
	m->len = len;
	memcpy(m->data, data, len);
	for (tail = &ctx->out; *tail; tail = &(*tail)->next)
		;
	*tail = m;
	kquic_log(LOG_DEBUG, "%zu bytes of handshake type %d out at level %d", len, (int)htype,
		  level);
	return 0;
}

static int on_alert(gnutls_session_t session, gnutls_record_encryption_level_t level,
		    gnutls_alert_level_t alevel, gnutls_alert_description_t desc)
{
	(void)session;
	kquic_log(LOG_NOTICE, "TLS alert %d (%s), level %d, at encryption level %d", (int)desc,
		  gnutls_alert_get_strname(desc), (int)alevel, (int)level);
	return 0;
}

static int tp_recv(gnutls_session_t session, const unsigned char *data, size_t len)
{
	struct hs_ctx *ctx = ctx_of(session);
	int err;

	if (!ctx)
		return 0;
	err = kops->set_peer_tp(ctx->fd, data, len);
	if (err) {
		kquic_log(LOG_ERR, "peer transport parameters refused: %d", err);
		return GNUTLS_E_RECEIVED_ILLEGAL_EXTENSION;
	}
	return 0;
}

static int tp_send(gnutls_session_t session, gnutls_buffer_t out)
{
	struct hs_ctx *ctx = ctx_of(session);
	uint8_t buf[TP_EXT_MAX];
	unsigned int len = sizeof(buf);
	int err;

	if (!ctx)
		return 0;
	err = kops->get_local_tp(ctx->fd, buf, &len);
	if (err) {
		kquic_log(LOG_ERR, "local transport parameters: %d", err);
		return GNUTLS_E_INTERNAL_ERROR;
	}
	err = gnutls_buffer_append_data(out, buf, len);
	return err < 0 ? err : (int)len;
}

static void out_free(struct out_msg *m)
{
	gnutls_memset(m->data, 0, m->len);
	free(m);
}

/* Feeds CRYPTO bytes of a level to TLS and advances the handshake. */
static int tls_feed(gnutls_session_t session, uint8_t level, const uint8_t *data, size_t len,
		    int run_handshake)
{
	gnutls_record_encryption_level_t gl;
	int ret;

	if (level_from_quic(level, &gl))
		return -EINVAL;
	if (len) {
		ret = gnutls_handshake_write(session, gl, data, len);
		if (ret < 0 && gnutls_error_is_fatal(ret))
			goto fail;
	}
	if (!run_handshake)
		return 0;
	ret = gnutls_handshake(session);
	if (ret == 0)
		return 1;	/* complete */
	if (!gnutls_error_is_fatal(ret))
		return 0;
fail:
	kquic_log(LOG_ERR, "TLS: %s (%d)", gnutls_strerror(ret), ret);
	gnutls_alert_send_appropriate(session, ret);
	return ret;
}

int quic_handshake_process(gnutls_session_t session, uint8_t level, const uint8_t *data,
			   size_t datalen)
{
	int ret;

	/* After the handshake, APP-level bytes are post-handshake messages
	 * (NewSessionTicket) that gnutls_handshake_write() takes in itself. */
	ret = tls_feed(session, level, data, datalen, level != QUIC_CRYPTO_APP);
	return ret < 0 ? ret : 0;
}

static void on_complete(struct hs_ctx *ctx)
{
	int ret;

	if (ctx->completed)
		return;
	ctx->completed = 1;
	kquic_log(LOG_DEBUG, "TLS handshake complete (%s)", ctx->is_server ? "server" : "client");
	/* The kernel learns the ALPN TLS selected (getsockopt QUIC_SOCKOPT_ALPN then reports it). */
	{
		gnutls_datum_t sel;

		if (!gnutls_alpn_get_selected_protocol(ctx->session, &sel) && sel.size &&
		    setsockopt(ctx->fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, sel.data, sel.size))
			kquic_log(LOG_DEBUG, "setting the selected ALPN: %d", -errno);
	}
	if (ctx->is_server) {
		/* One NewSessionTicket when the server has tickets enabled. */
		ret = gnutls_session_ticket_send(ctx->session, 1, 0);
		if (ret < 0)
			kquic_log(LOG_DEBUG, "no session ticket sent: %s", gnutls_strerror(ret));
	}
}

/* Chooses the next step: a send, the held-back 1-RTT secret, a receive, or done. */
static int next_step(struct hs_ctx *ctx, struct quic_handshake_step **pstep)
{
	struct out_msg *m;
	struct quic_handshake_info *info;
	struct cmsghdr *cm;
	int err;

	for (;;) {
		for (m = ctx->out; m; m = m->next)
			if (m->level != QUIC_CRYPTO_APP || ctx->app_tx_installed)
				break;
		if (m) {
			memset(&m->control, 0, sizeof(m->control));
			m->iov.iov_base = m->data;
			m->iov.iov_len = m->len;
			memset(&m->mh, 0, sizeof(m->mh));
			m->mh.msg_iov = &m->iov;
			m->mh.msg_iovlen = 1;
			m->mh.msg_control = m->control.buf;
			m->mh.msg_controllen = sizeof(m->control.buf);
			cm = CMSG_FIRSTHDR(&m->mh);
			cm->cmsg_level = SOL_QUIC;
			cm->cmsg_type = QUIC_HANDSHAKE_INFO;
			cm->cmsg_len = CMSG_LEN(sizeof(*info));
			info = (struct quic_handshake_info *)CMSG_DATA(cm);
			info->crypto_level = m->level;
			memset(&ctx->step, 0, sizeof(ctx->step));
			ctx->step.op = QUIC_HANDSHAKE_STEP_OP_SENDMSG;
			ctx->step.s_sendmsg.msg = &m->mh;
			ctx->step.s_sendmsg.flags = MSG_NOSIGNAL;
			ctx->step.s_sendmsg.retval = -EUCLEAN;
			ctx->step_msg = m;
			ctx->step_is_live = 1;
			*pstep = &ctx->step;
			return 0;
		}
		if (ctx->completed && !ctx->app_tx_installed) {
			if (!ctx->have_app_tx) {
				kquic_log(LOG_ERR, "handshake complete without a 1-RTT send secret");
				return -EPROTO;
			}
			err = kops->set_secret(ctx->fd, &ctx->app_tx);
			gnutls_memset(&ctx->app_tx, 0, sizeof(ctx->app_tx));
			if (err) {
				kquic_log(LOG_ERR, "installing the 1-RTT send secret: %d", err);
				return err;
			}
			ctx->app_tx_installed = 1;
			continue;
		}
		break;
	}
	if (ctx->completed) {
		ctx->step_is_live = 0;
		*pstep = NULL;
		return 0;
	}
	memset(&ctx->rcontrol, 0, sizeof(ctx->rcontrol));
	ctx->riov.iov_base = ctx->rbuf;
	ctx->riov.iov_len = sizeof(ctx->rbuf);
	memset(&ctx->rmh, 0, sizeof(ctx->rmh));
	ctx->rmh.msg_iov = &ctx->riov;
	ctx->rmh.msg_iovlen = 1;
	ctx->rmh.msg_control = ctx->rcontrol.buf;
	ctx->rmh.msg_controllen = sizeof(ctx->rcontrol.buf);
	memset(&ctx->step, 0, sizeof(ctx->step));
	ctx->step.op = QUIC_HANDSHAKE_STEP_OP_RECVMSG;
	ctx->step.s_recvmsg.msg = &ctx->rmh;
	ctx->step.s_recvmsg.flags = MSG_DONTWAIT;
	ctx->step.s_recvmsg.retval = -EUCLEAN;
	ctx->step_msg = NULL;
	ctx->step_is_live = 1;
	*pstep = &ctx->step;
	return 0;
}

static int process_send(struct hs_ctx *ctx)
{
	struct out_msg *m = ctx->step_msg, **pp;
	ssize_t r = ctx->step.s_sendmsg.retval;

	if (r < 0) {
		kquic_log(LOG_ERR, "handshake sendmsg: %zd", r);
		return (int)r;
	}
	if ((size_t)r != m->len) {
		kquic_log(LOG_ERR, "handshake sendmsg sent %zd of %zu bytes", r, m->len);
		return -EMSGSIZE;
	}
	for (pp = &ctx->out; *pp != m; pp = &(*pp)->next)
		;
	*pp = m->next;
	out_free(m);
	ctx->step_msg = NULL;
	return 0;
}

static int process_recv(struct hs_ctx *ctx)
{
	ssize_t r = ctx->step.s_recvmsg.retval;
	struct cmsghdr *cm;
	int level = -1, ret;

	if (r < 0) {
		if (r != -EAGAIN && r != -EWOULDBLOCK && r != -EINTR)
			kquic_log(LOG_ERR, "handshake recvmsg: %zd", r);
		return (int)r;
	}
	if (r == 0) {
		kquic_log(LOG_ERR, "connection closed during the handshake");
		return -ECONNRESET;
	}
	if (ctx->rmh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		kquic_log(LOG_ERR, "handshake message truncated");
		return -EMSGSIZE;
	}
	for (cm = CMSG_FIRSTHDR(&ctx->rmh); cm; cm = CMSG_NXTHDR(&ctx->rmh, cm))
		if (cm->cmsg_level == SOL_QUIC && cm->cmsg_type == QUIC_HANDSHAKE_INFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct quic_handshake_info)))
			level = ((struct quic_handshake_info *)CMSG_DATA(cm))->crypto_level;
	if (level < 0) {
		kquic_log(LOG_ERR, "%zd bytes without QUIC_HANDSHAKE_INFO during the handshake", r);
		return -EBADMSG;
	}
	kquic_log(LOG_DEBUG, "%zd handshake bytes in at level %d", r, level);
	ret = tls_feed(ctx->session, (uint8_t)level, ctx->rbuf, (size_t)r, 1);
	if (ret < 0)
		return ret;
	if (ret == 1)
		on_complete(ctx);
	return 0;
}

/*
 * 0-RTT on a GnuTLS server: it takes early data only with an anti-replay context, which
 * records each ClientHello that resumes and refuses early data for one seen before within the
 * window. One context per process, with a fixed-size table (the oldest entry makes room).
 */
#define AR_SLOTS 1024
#define AR_KEY_MAX 64

static struct ar_entry {
	time_t expires;
	unsigned int len;
	unsigned char key[AR_KEY_MAX];
} ar_table[AR_SLOTS];
static pthread_mutex_t ar_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ar_once = PTHREAD_ONCE_INIT;
static gnutls_anti_replay_t ar_ctx;

static int ar_add(void *ptr, time_t expires, const gnutls_datum_t *key, const gnutls_datum_t *data)
{
	unsigned int i, len = key->size < AR_KEY_MAX ? key->size : AR_KEY_MAX, slot = 0;
	time_t now = time(NULL);
	int ret = 0;

	(void)ptr;
	(void)data;
	pthread_mutex_lock(&ar_lock);
	for (i = 0; i < AR_SLOTS; i++) {
		struct ar_entry *e = &ar_table[i];

		if (e->expires && e->expires < now)
			e->expires = 0;
		if (e->expires && e->len == len && !memcmp(e->key, key->data, len)) {
			ret = GNUTLS_E_DB_ENTRY_EXISTS;
			goto out;
		}
		if (e->expires < ar_table[slot].expires)
			slot = i;
	}
	ar_table[slot].expires = expires;
	ar_table[slot].len = len;
	memcpy(ar_table[slot].key, key->data, len);
out:
	pthread_mutex_unlock(&ar_lock);
	return ret;
}

static void ar_init(void)
{
	if (gnutls_anti_replay_init(&ar_ctx) < 0) {
		ar_ctx = NULL;
		return;
	}
	gnutls_anti_replay_set_add_function(ar_ctx, ar_add);
}

/* A server session: early data is accepted (when the session enables it) with replay
 * protection, and tickets allow as much as QUIC requires (RFC 9001 section 4.6.1). */
static void server_early_data(gnutls_session_t session)
{
	pthread_once(&ar_once, ar_init);
	if (ar_ctx)
		gnutls_anti_replay_enable(session, ar_ctx);
	gnutls_record_set_max_early_data_size(session, 0xffffffffu);
}

int quic_handshake_init(gnutls_session_t session, struct quic_handshake_step **pstep)
{
	struct hs_ctx *ctx;
	int ret;

	if (!session || !pstep || *pstep)
		return -EINVAL;
	if (ctx_of(session))
		return -EALREADY;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->session = session;
	ctx->fd = gnutls_transport_get_int(session);
	ret = gnutls_session_ext_register(session, "QUIC Transport Parameters", TP_EXT_TYPE,
					  GNUTLS_EXT_TLS, tp_recv, tp_send, NULL, NULL, NULL,
					  GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO |
					  GNUTLS_EXT_FLAG_EE);
	if (ret < 0 && ret != GNUTLS_E_ALREADY_REGISTERED) {
		kquic_log(LOG_ERR, "registering the transport parameters: %s", gnutls_strerror(ret));
		free(ctx);
		return ret;
	}
	gnutls_ext_set_data(session, TP_EXT_TYPE, ctx);
	gnutls_handshake_set_secret_function(session, on_secret);
	gnutls_handshake_set_read_function(session, on_output);
	gnutls_alert_set_read_function(session, on_alert);

	/* A client's first run writes its ClientHello; a server's writes
	 * nothing and waits for the client's. */
	ret = tls_feed(session, QUIC_CRYPTO_INITIAL, NULL, 0, 1);
	if (ret < 0)
		goto fail;
	ctx->is_server = ctx->out == NULL;
	if (ctx->is_server)
		server_early_data(session);
	ret = next_step(ctx, pstep);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	quic_handshake_deinit(session);
	*pstep = NULL;
	return ret;
}

int quic_handshake_step(gnutls_session_t session, struct quic_handshake_step **pstep)
{
	struct hs_ctx *ctx = session ? ctx_of(session) : NULL;
	int ret;

	if (!ctx || !pstep || *pstep != &ctx->step || !ctx->step_is_live)
		return -EINVAL;
	ctx->step_is_live = 0;
	if (ctx->step.op == QUIC_HANDSHAKE_STEP_OP_SENDMSG)
		ret = process_send(ctx);
	else
		ret = process_recv(ctx);
	if (ret == -EAGAIN || ret == -EWOULDBLOCK || ret == -EINTR) {
		/* Nothing lost: the same step again. */
		ctx->step_is_live = 1;
		ctx->step.s_recvmsg.retval = -EUCLEAN;
		ctx->step.s_sendmsg.retval = -EUCLEAN;
		return 0;
	}
	if (ret < 0)
		return ret;
	return next_step(ctx, pstep);
}

void quic_handshake_deinit(gnutls_session_t session)
{
	struct hs_ctx *ctx = session ? ctx_of(session) : NULL;
	struct out_msg *m;

	if (!ctx)
		return;
	gnutls_ext_set_data(session, TP_EXT_TYPE, NULL);
	while ((m = ctx->out)) {
		ctx->out = m->next;
		out_free(m);
	}
	gnutls_memset(ctx, 0, sizeof(*ctx));
	free(ctx);
}

static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int timeout = -1, r;
	struct timeval tv;
	socklen_t len = sizeof(tv);

	/* Honour SO_RCVTIMEO as the longest wait for the peer. */
	if (events == POLLIN && !getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) &&
	    (tv.tv_sec || tv.tv_usec))
		timeout = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	do {
		r = poll(&p, 1, timeout);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

int quic_handshake(gnutls_session_t session)
{
	struct quic_handshake_step *step = NULL;
	int fd, ret;

	if (!session)
		return -EINVAL;
	fd = gnutls_transport_get_int(session);
	ret = quic_handshake_init(session, &step);
	while (!ret && step) {
		ssize_t r;

		if (step->op == QUIC_HANDSHAKE_STEP_OP_SENDMSG) {
			r = sendmsg(fd, step->s_sendmsg.msg, step->s_sendmsg.flags);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				ret = wait_fd(fd, POLLOUT);
				continue;
			}
			step->s_sendmsg.retval = r < 0 ? -errno : r;
		} else {
			r = recvmsg(fd, step->s_recvmsg.msg, step->s_recvmsg.flags);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				ret = wait_fd(fd, POLLIN);
				continue;
			}
			step->s_recvmsg.retval = r < 0 ? -errno : r;
		}
		ret = quic_handshake_step(session, &step);
	}
	quic_handshake_deinit(session);
	return ret < 0 ? ret : 0;
}

/* ------------------------------------------------------- session helpers */

int quic_session_get_data(gnutls_session_t session, void *data, size_t *size)
{
	int fd, ret;
	socklen_t len;

	if (!session || !data || !size)
		return -EINVAL;
	fd = gnutls_transport_get_int(session);
	len = *size > 0xffffffffu ? 0xffffffffu : (socklen_t)*size;
	/* The kernel keeps the server's latest NewSessionTicket for the client. */
	if (getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_SESSION_TICKET, data, &len))
		return -errno;
	if (!len) {
		/* None arrived (yet): no session data. */
		*size = 0;
		return 0;
	}
	ret = tls_feed(session, QUIC_CRYPTO_APP, data, len, 0);
	if (ret < 0)
		return ret;
	return gnutls_session_get_data(session, data, size);
}

int quic_session_set_data(gnutls_session_t session, const void *data, size_t size)
{
	if (!session || !data)
		return -EINVAL;
	return gnutls_session_set_data(session, data, size);
}

int quic_session_get_alpn(gnutls_session_t session, void *data, size_t *size)
{
	gnutls_datum_t sel;
	int ret;

	if (!session || !data || !size)
		return -EINVAL;
	ret = gnutls_alpn_get_selected_protocol(session, &sel);
	if (ret)
		return ret;
	if (*size < sel.size)
		return -EINVAL;
	memcpy(data, sel.data, sel.size);
	*size = sel.size;
	return 0;
}

/* Splits "a, b,c" into ALPN entries inside buf (which it modifies). */
static int split_alpns(char *buf, gnutls_datum_t *out, int max)
{
	char *p = buf, *end;
	int n = 0;

	while (*p) {
		while (*p == ' ')
			p++;
		end = strchr(p, ',');
		if (end)
			*end = '\0';
		if (*p) {
			size_t l = strlen(p);

			while (l && p[l - 1] == ' ')
				p[--l] = '\0';
			if (l > 255 || n == max)
				return -EINVAL;
			out[n].data = (unsigned char *)p;
			out[n].size = (unsigned int)l;
			n++;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return n;
}

int quic_session_set_alpn(gnutls_session_t session, const void *data, size_t size)
{
	gnutls_datum_t list[16];
	char buf[ALPNS_MAX + 1];
	int n;

	if (!session || !data || size > ALPNS_MAX)
		return -EINVAL;
	memcpy(buf, data, size);
	buf[size] = '\0';
	n = split_alpns(buf, list, 16);
	if (n <= 0)
		return -EINVAL;
	return gnutls_alpn_set_protocols(session, list, (unsigned int)n, GNUTLS_ALPN_MANDATORY);
}

/* ------------------------------------------------- whole handshakes (PSK) */

/* The first "identity:hexkey" line of a PSK file. */
static int read_psk_file(const char *path, char *identity, size_t idlen, char *key,
			 size_t keylen)
{
	char line[1024], *colon, *end;
	FILE *f = fopen(path, "r");
	int ret = -EINVAL;

	if (!f) {
		kquic_log(LOG_ERR, "PSK file %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		end = line + strcspn(line, "\r\n");
		*end = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon || colon == line || !colon[1] ||
		    (size_t)(colon - line) >= idlen || strlen(colon + 1) >= keylen ||
		    strspn(colon + 1, "0123456789abcdefABCDEF") != strlen(colon + 1))
			break;
		*colon = '\0';
		strcpy(identity, line);
		strcpy(key, colon + 1);
		ret = 0;
		break;
	}
	gnutls_memset(line, 0, sizeof(line));
	fclose(f);
	if (ret)
		kquic_log(LOG_ERR, "PSK file %s: no \"identity:hexkey\" line", path);
	return ret;
}

static int gnutls_common(gnutls_session_t session, int fd, const char *alpns)
{
	int ret = gnutls_priority_set_direct(session, QUIC_PRIORITY, NULL);

	if (ret)
		return ret;
	if (alpns && *alpns) {
		ret = quic_session_set_alpn(session, alpns, strlen(alpns));
		if (ret)
			return ret;
	}
	gnutls_transport_set_int(session, fd);
	return 0;
}

static int psk_client(int fd, const char *psk_file, const char *alpns)
{
	gnutls_psk_client_credentials_t cred;
	gnutls_session_t session;
	char identity[256], hex[1024];
	gnutls_datum_t key;
	int ret;

	ret = read_psk_file(psk_file, identity, sizeof(identity), hex, sizeof(hex));
	if (ret)
		return ret;
	ret = gnutls_psk_allocate_client_credentials(&cred);
	if (ret)
		goto out_key;
	key.data = (unsigned char *)hex;
	key.size = (unsigned int)strlen(hex);
	ret = gnutls_psk_set_client_credentials(cred, identity, &key, GNUTLS_PSK_KEY_HEX);
	if (ret)
		goto out_cred;
	ret = gnutls_init(&session, GNUTLS_CLIENT);
	if (ret)
		goto out_cred;
	ret = gnutls_credentials_set(session, GNUTLS_CRD_PSK, cred);
	if (!ret)
		ret = gnutls_common(session, fd, alpns);
	if (!ret)
		ret = quic_handshake(session);
	gnutls_deinit(session);
out_cred:
	gnutls_psk_free_client_credentials(cred);
out_key:
	gnutls_memset(hex, 0, sizeof(hex));
	return ret;
}

static int psk_server(int fd, const char *psk_file, const char *alpns)
{
	gnutls_psk_server_credentials_t cred;
	gnutls_session_t session;
	FILE *f;
	int ret;

	/* gnutls reads the file per handshake: fail early on a missing one. */
	f = fopen(psk_file, "r");
	if (!f) {
		kquic_log(LOG_ERR, "PSK file %s: %s", psk_file, strerror(errno));
		return -errno;
	}
	fclose(f);
	ret = gnutls_psk_allocate_server_credentials(&cred);
	if (ret)
		return ret;
	ret = gnutls_psk_set_server_credentials_file(cred, psk_file);
	if (ret)
		goto out_cred;
	ret = gnutls_init(&session, GNUTLS_SERVER);
	if (ret)
		goto out_cred;
	ret = gnutls_credentials_set(session, GNUTLS_CRD_PSK, cred);
	if (!ret)
		ret = gnutls_common(session, fd, alpns);
	if (!ret)
		ret = quic_handshake(session);
	gnutls_deinit(session);
out_cred:
	gnutls_psk_free_server_credentials(cred);
	return ret;
}

/*
 * Whether a client's pkey_file is PEM (a private key and certificate chain: certificate mode
 * with a client certificate, a kquic extension) rather than a PSK file ("identity:hexkey"
 * lines): 1 or 0, or -errno when it cannot be read.
 */
static int file_is_pem(const char *path)
{
	char head[64];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		int err = errno;

		kquic_log(LOG_ERR, "key file %s: %s", path, strerror(err));
		return -err;
	}
	n = fread(head, 1, sizeof(head) - 1, f);
	fclose(f);
	head[n] = '\0';
	return strstr(head, "-----BEGIN ") != NULL;
}

int quic_client_handshake(int sockfd, const char *pkey_file, const char *hostname,
			  const char *alpns)
{
	int ret, pem = 0;

	if (alpns && strlen(alpns) > ALPNS_MAX)
		return -EINVAL;
	if (pkey_file) {
		pem = file_is_pem(pkey_file);
		if (pem < 0)
			return pem;
	}
	if (pkey_file && !pem)
		ret = psk_client(sockfd, pkey_file, alpns);
	else
		ret = kquic_rustls_client_handshake(sockfd, pem ? pkey_file : NULL, hostname, alpns);
	if (ret)
		kquic_log(LOG_ERR, "client handshake (%s mode) failed: %d",
			  pkey_file && !pem ? "PSK" : pem ? "certificate, with a client certificate"
						       : "certificate", ret);
	return ret;
}

int quic_server_handshake(int sockfd, const char *pkey_file, const char *cert_file,
			  const char *alpns)
{
	int ret;

	if (!pkey_file || (alpns && strlen(alpns) > ALPNS_MAX))
		return -EINVAL;
	if (cert_file)
		ret = kquic_rustls_server_handshake(sockfd, pkey_file, cert_file, alpns);
	else
		ret = psk_server(sockfd, pkey_file, alpns);
	if (ret)
		kquic_log(LOG_ERR, "server handshake (%s mode) failed: %d",
			  cert_file ? "certificate" : "PSK", ret);
	return ret;
}
