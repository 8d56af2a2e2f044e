// SPDX-License-Identifier: GPL-2.0
/*
 * Appendix B has no main(): it is the handshake half of Appendix C.  This file
 * compiles it alone and runs a handshake with it as a tool:
 *   appendix-b server <addr> <port> <key> <cert> [alpn]
 *   appendix-b client <addr> <port> [alpn]
 * (exit 0 when the handshake succeeded; the client waits for the server to
 * close first).
 */
#include "appendix-b.h"

int main(int argc, char *argv[])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned int alen = sizeof(a);
	int fd, lfd, ret;

	if (argc < 4)
		return 2;
	a.sin_port = htons(atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &a.sin_addr);
	if (!strcmp(argv[1], "client")) {
		fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_QUIC);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return 1;
		ret = client_handshake(fd, argc > 4 ? argv[4] : NULL, NULL, 0, NULL, NULL);
		printf("client_handshake: %d\n", ret);
		if (!ret) {
			/* Stay until the server closes: closing right after our
			 * Finished could cut it off before the server reads it. */
			struct timeval tv = { .tv_sec = 10 };
			char buf[64];
			int64_t sid;
			uint32_t flags = 0;

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			quic_recvmsg(fd, buf, sizeof(buf), &sid, &flags);
		}
		close(fd);
		return ret ? 1 : 0;
	}
	if (argc < 6)
		return 2;
	lfd = socket(AF_INET, SOCK_DGRAM, IPPROTO_QUIC);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1))
		return 1;
	fd = accept(lfd, (struct sockaddr *)&a, &alen);
	if (fd < 0)
		return 1;
	{
		uint8_t key[64] = "kquic appendix b ticket key 0123456789abcdef0123456789abcdef";

		ret = server_handshake(fd, argv[4], argv[5], argc > 6 ? argv[6] : NULL, key, 64);
	}
	printf("server_handshake: %d\n", ret);
	close(fd);
	close(lfd);
	return ret ? 1 : 0;
}
