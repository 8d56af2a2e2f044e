// SPDX-License-Identifier: GPL-2.0
/*
 * kquic demo: opens IPPROTO_QUIC sockets of every family and type, binds them (two of them
 * sharing one UDP port), sets a few SOL_QUIC options and prints what the kernel reports.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/quic.h>

static void show(const char *what, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		}
	}
	printf("  %-34s fd %d bound to %s port %d\n", what, fd, ip, port);
}

int main(void)
{
	static const struct { int family, type; const char *addr, *name; } socks[] = {
		{ AF_INET, SOCK_STREAM, "127.0.0.1", "AF_INET  SOCK_STREAM 127.0.0.1" },
		{ AF_INET, SOCK_DGRAM, "0.0.0.0", "AF_INET  SOCK_DGRAM  0.0.0.0" },
		{ AF_INET6, SOCK_STREAM, "::1", "AF_INET6 SOCK_STREAM ::1" },
		{ AF_INET6, SOCK_DGRAM, "::", "AF_INET6 SOCK_DGRAM  ::" },
	};
	int fds[5];
	struct quic_config cfg;
	socklen_t len = sizeof(cfg);

	printf("Creating IPPROTO_QUIC (%d) sockets:\n", IPPROTO_QUIC);
	for (int i = 0; i < 4; i++) {
		int fd = socket(socks[i].family, socks[i].type, IPPROTO_QUIC);

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		if (socks[i].family == AF_INET6) {
			struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

			inet_pton(AF_INET6, socks[i].addr, &a.sin6_addr);
			if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
				perror("bind");
				return 1;
			}
		} else {
			struct sockaddr_in a = { .sin_family = AF_INET };

			inet_pton(AF_INET, socks[i].addr, &a.sin_addr);
			if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
				perror("bind");
				return 1;
			}
		}
		fds[i] = fd;
		show(socks[i].name, fd);
	}

	/* A second socket on the first one's address and port shares its UDP tunnel socket. */
	{
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);

		getsockname(fds[0], (struct sockaddr *)&a, &alen);
		fds[4] = socket(AF_INET, SOCK_DGRAM, IPPROTO_QUIC);
		if (fds[4] < 0 || bind(fds[4], (struct sockaddr *)&a, sizeof(a))) {
			perror("shared bind");
			return 1;
		}
		show("AF_INET  SOCK_DGRAM  (shared port)", fds[4]);
	}

	if (getsockopt(fds[0], SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, &len) == 0)
		printf("QUIC_SOCKOPT_CONFIG: version 0x%x, congestion control %s, initial RTT %u us\n",
		       cfg.version, cfg.congestion_control_algo ? "cubic" : "reno",
		       cfg.initial_smoothed_rtt);
	if (setsockopt(fds[0], SOL_QUIC, QUIC_SOCKOPT_ALPN, "smbd,h3", 7) == 0)
		printf("QUIC_SOCKOPT_ALPN set to \"smbd,h3\"\n");
	if (setsockopt(fds[0], SOL_QUIC, 77, "x", 1) < 0)
		printf("unknown SOL_QUIC option 77: %s (as expected)\n", strerror(errno));

	printf("\nThe kernel's view (/proc/net/protocols, /proc/net/udp):\n");
	fflush(stdout);
	system("grep -E '^(protocol|QUIC)' /proc/net/protocols | cut -c1-40");
	system("cat /proc/net/udp /proc/net/udp6 | awk 'NR==1 || $2 ~ /:/ {print \"  \" $2, $3}' | head -12");
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	printf("\nAll sockets closed.\n");
	return 0;
}
