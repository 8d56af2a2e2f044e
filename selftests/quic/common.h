/* SPDX-License-Identifier: GPL-2.0 */
/* Shared helpers of the kquic socket selftests. */
#ifndef _KQUIC_SELFTEST_COMMON_H
#define _KQUIC_SELFTEST_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/quic.h>

#include "../lib/ktap.h"

static inline struct sockaddr_in sin_of(const char *ip, unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static inline struct sockaddr_in6 sin6_of(const char *ip, unsigned short port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

/*
 * Counts kernel UDP sockets bound to a local port by reading /proc/net/udp{,6}
 * (the tunnel sockets of the module are ordinary UDP sockets there).
 */
static inline int udp_sockets_on_port(unsigned short port, int v6)
{
	FILE *f = fopen(v6 ? "/proc/net/udp6" : "/proc/net/udp", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		unsigned int p;

		/* "  sl  local_address ..." then "   0: 0100007F:1F90 ..." */
		if (!colon)
			continue;
		colon = strchr(colon + 1, ':');
		if (colon && sscanf(colon + 1, "%x", &p) == 1 && p == port)
			n++;
	}
	fclose(f);
	return n;
}

static inline int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

#endif
