// SPDX-License-Identifier: GPL-2.0
/*
 * psk_peer: the userspace PSK peer of the kernel consumer test (run-consumer.sh). The quic CLI
 * has no PSK mode, so this runs the handshake through libquic's C library (GnuTLS) and echoes
 * like the sample module does.
 *
 *   psk_peer server <addr> <port> <psk file> <alpn>
 *	accepts one connection, PSK handshake, echoes every stream (same stream id, FIN passed
 *	on) until the peer closes; exit 0 if the handshake succeeded and a stream was echoed.
 *   psk_peer client <addr> <port> <psk file> <alpn> <message>
 *	connects, PSK handshake, sends message on a new stream with FIN and checks the echo.
 *
 * The PSK file holds "identity:hexkey" lines. Exit status: 0 on success, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/quic.h>

static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 20 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int server(struct sockaddr_in *a, const char *psk, const char *alpn)
{
	char buf[4096];
	int lfd, fd, ret, echoed = 0;

	lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_QUIC);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)a, sizeof(*a)) || listen(lfd, 4)) {
		perror("psk_peer: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		perror("psk_peer: accept");
		return 1;
	}
	timeouts(fd);
	ret = quic_server_handshake(fd, psk, NULL, alpn);
	if (ret) {
		fprintf(stderr, "psk_peer: server handshake: %d\n", ret);
		return 1;
	}
	printf("handshake done\n");
	for (;;) {
		int64_t sid = -1;
		uint32_t flags = 0;
		ssize_t n = quic_recvmsg(fd, buf, sizeof(buf), &sid, &flags);

		if (n < 0)
			break;	/* the peer closed (or went silent) */
		if (quic_sendmsg(fd, buf, n, sid, flags & MSG_STREAM_FIN) != n) {
			perror("psk_peer: send");
			break;
		}
		if (flags & MSG_STREAM_FIN)
			echoed++;
	}
	printf("echoed %d streams\n", echoed);
	close(fd);
	close(lfd);
	return echoed ? 0 : 1;
}

static int client(struct sockaddr_in *a, const char *psk, const char *alpn, const char *msg)
{
	size_t len = strlen(msg), got = 0;
	char buf[4096];
	uint32_t flags = 0;
	int fd, ret;

	if (len > sizeof(buf))
		return 1;
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_QUIC);
	if (fd < 0)
		return 1;
	timeouts(fd);
	if (connect(fd, (struct sockaddr *)a, sizeof(*a))) {
		perror("psk_peer: connect");
		return 1;
	}
	ret = quic_client_handshake(fd, psk, NULL, alpn);
	if (ret) {
		fprintf(stderr, "psk_peer: client handshake: %d\n", ret);
		return 1;
	}
	if (quic_sendmsg(fd, msg, len, -1, MSG_STREAM_NEW | MSG_STREAM_FIN) != (ssize_t)len) {
		perror("psk_peer: send");
		return 1;
	}
	while (!(flags & MSG_STREAM_FIN) && got < sizeof(buf)) {
		int64_t sid = -1;
		ssize_t n;

		flags = 0;
		n = quic_recvmsg(fd, buf + got, sizeof(buf) - got, &sid, &flags);
		if (n < 0) {
			perror("psk_peer: recv");
			return 1;
		}
		got += n;
	}
	close(fd);
	if (got != len || memcmp(buf, msg, len)) {
		fprintf(stderr, "psk_peer: echo differs (%zu bytes)\n", got);
		return 1;
	}
	printf("echo ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	if (argc < 6 || inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: psk_peer server|client addr port pskfile alpn [message]\n");
		return 2;
	}
	a.sin_port = htons(atoi(argv[3]));
	if (!strcmp(argv[1], "server"))
		return server(&a, argv[4], argv[5]);
	if (!strcmp(argv[1], "client") && argc > 6)
		return client(&a, argv[4], argv[5], argv[6]);
	return 2;
}
