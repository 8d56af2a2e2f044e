// SPDX-License-Identifier: GPL-2.0
/* kquic selftests: creating, binding and closing IPPROTO_QUIC sockets. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "common.h"

static int make(int family, int type)
{
	return socket(family, type, IPPROTO_QUIC);
}

KTEST(socket_inet_stream)
{
	int fd = make(AF_INET, SOCK_STREAM);

	EXPECT_OK(fd);
	EXPECT_OK(close(fd));
	return 0;
}

KTEST(socket_inet_dgram)
{
	int fd = make(AF_INET, SOCK_DGRAM);

	EXPECT_OK(fd);
	EXPECT_OK(close(fd));
	return 0;
}

KTEST(socket_inet6_stream)
{
	int fd = make(AF_INET6, SOCK_STREAM);

	EXPECT_OK(fd);
	EXPECT_OK(close(fd));
	return 0;
}

KTEST(socket_inet6_dgram)
{
	int fd = make(AF_INET6, SOCK_DGRAM);

	EXPECT_OK(fd);
	EXPECT_OK(close(fd));
	return 0;
}

KTEST(socket_unsupported_type_fails)
{
	/* Only SOCK_STREAM and SOCK_DGRAM entries are registered for IPPROTO_QUIC. */
	EXPECT_ERRNO(make(AF_INET, SOCK_SEQPACKET), ESOCKTNOSUPPORT);
	EXPECT_ERRNO(make(AF_INET6, SOCK_SEQPACKET), ESOCKTNOSUPPORT);
	return 0;
}

KTEST(bind_loopback_ephemeral)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0), got;
	socklen_t len = sizeof(got);
	int fd = make(AF_INET, SOCK_DGRAM);

	EXPECT_OK(fd);
	EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_OK(getsockname(fd, (struct sockaddr *)&got, &len));
	EXPECT_EQ(got.sin_family, AF_INET);
	EXPECT_TRUE(ntohs(got.sin_port) != 0);
	EXPECT_EQ(got.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	/* The port is really held by a UDP socket. */
	EXPECT_EQ(udp_sockets_on_port(ntohs(got.sin_port), 0), 1);
	close(fd);
	return 0;
}

KTEST(bind_twice_einval)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0);
	int fd = make(AF_INET, SOCK_STREAM);

	EXPECT_OK(fd);
	EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	close(fd);
	return 0;
}

KTEST(bind_wildcard)
{
	struct sockaddr_in a = sin_of("0.0.0.0", 0), got;
	socklen_t len = sizeof(got);
	int fd = make(AF_INET, SOCK_DGRAM);

	EXPECT_OK(fd);
	EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_OK(getsockname(fd, (struct sockaddr *)&got, &len));
	EXPECT_EQ(got.sin_addr.s_addr, htonl(INADDR_ANY));
	EXPECT_TRUE(ntohs(got.sin_port) != 0);
	close(fd);
	return 0;
}

KTEST(bind_ipv6_loopback_and_wildcard)
{
	struct sockaddr_in6 a = sin6_of("::1", 0), w = sin6_of("::", 0), got;
	socklen_t len = sizeof(got);
	int fd = make(AF_INET6, SOCK_STREAM), fd2 = make(AF_INET6, SOCK_DGRAM);

	EXPECT_OK(fd);
	EXPECT_OK(fd2);
	EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_OK(getsockname(fd, (struct sockaddr *)&got, &len));
	EXPECT_EQ(got.sin6_family, AF_INET6);
	EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&got.sin6_addr));
	EXPECT_TRUE(ntohs(got.sin6_port) != 0);
	EXPECT_EQ(udp_sockets_on_port(ntohs(got.sin6_port), 1), 1);
	EXPECT_OK(bind(fd2, (struct sockaddr *)&w, sizeof(w)));
	len = sizeof(got);
	EXPECT_OK(getsockname(fd2, (struct sockaddr *)&got, &len));
	EXPECT_TRUE(IN6_IS_ADDR_UNSPECIFIED(&got.sin6_addr));
	EXPECT_TRUE(ntohs(got.sin6_port) != 0);
	close(fd);
	close(fd2);
	return 0;
}

KTEST(bind_same_port_shares_one_udp_socket)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0);
	int fd1 = make(AF_INET, SOCK_DGRAM), fd2 = make(AF_INET, SOCK_STREAM);
	int port;

	EXPECT_OK(fd1);
	EXPECT_OK(fd2);
	EXPECT_OK(bind(fd1, (struct sockaddr *)&a, sizeof(a)));
	port = bound_port(fd1);
	EXPECT_TRUE(port > 0);
	a.sin_port = htons(port);
	EXPECT_OK(bind(fd2, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_EQ(bound_port(fd2), port);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	/* The tunnel stays while one user is left, and goes with the last. */
	close(fd1);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	close(fd2);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 0);
	return 0;
}

KTEST(bind_explicit_port)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0);
	int probe = socket(AF_INET, SOCK_DGRAM, 0), fd = make(AF_INET, SOCK_DGRAM);
	int port;

	/* Find a free port with a plain UDP socket, free it, then bind QUIC to it. */
	EXPECT_OK(probe);
	EXPECT_OK(bind(probe, (struct sockaddr *)&a, sizeof(a)));
	port = bound_port(probe);
	close(probe);
	a.sin_port = htons(port);
	EXPECT_OK(fd);
	EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_EQ(bound_port(fd), port);
	close(fd);
	return 0;
}

KTEST(bind_port_in_use_by_udp_eaddrinuse)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0);
	int udp = socket(AF_INET, SOCK_DGRAM, 0), fd = make(AF_INET, SOCK_DGRAM);

	EXPECT_OK(udp);
	EXPECT_OK(bind(udp, (struct sockaddr *)&a, sizeof(a)));
	a.sin_port = htons(bound_port(udp));
	EXPECT_OK(fd);
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
	/* A failed bind leaves the socket unbound: binding elsewhere still works. */
	a.sin_port = 0;
	EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	close(udp);
	close(fd);
	return 0;
}

KTEST(bind_bad_address_errors)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0);
	struct sockaddr_in6 a6 = sin6_of("::1", 0);
	struct sockaddr_in other = sin_of("192.0.2.1", 0);	/* TEST-NET-1: not local */
	int fd = make(AF_INET, SOCK_DGRAM), fd6 = make(AF_INET6, SOCK_DGRAM);

	EXPECT_OK(fd);
	EXPECT_OK(fd6);
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
	EXPECT_ERRNO(bind(fd6, (struct sockaddr *)&a6, sizeof(a6) - 1), EINVAL);
	/* (An IPv4 address on an AF_INET6 socket is accepted, as in lxin/quic: see bind.c.) */
	EXPECT_ERRNO(bind(fd, (struct sockaddr *)&other, sizeof(other)), EADDRNOTAVAIL);
	close(fd);
	close(fd6);
	return 0;
}

KTEST(close_releases_everything)
{
	struct sockaddr_in a = sin_of("127.0.0.1", 0);
	int ports[64];

	/* Many bound sockets, then close: every tunnel port is gone afterwards. */
	for (int i = 0; i < 64; i++) {
		int fd = make(i % 2 ? AF_INET : AF_INET6, SOCK_DGRAM);

		EXPECT_OK(fd);
		if (i % 2) {
			EXPECT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
		} else {
			struct sockaddr_in6 a6 = sin6_of("::1", 0);

			EXPECT_OK(bind(fd, (struct sockaddr *)&a6, sizeof(a6)));
		}
		ports[i] = bound_port(fd);
		EXPECT_TRUE(ports[i] > 0);
		close(fd);
	}
	for (int i = 0; i < 64; i++)
		EXPECT_EQ(udp_sockets_on_port(ports[i], !(i % 2)), 0);
	return 0;
}

static int module_refcnt(void)
{
	FILE *f = fopen("/sys/module/quic/refcnt", "r");
	int n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

KTEST(module_pinned_while_socket_open)
{
	int base = module_refcnt(), fd;

	if (base < 0)
		KSKIP("quic is not a loaded module");
	fd = make(AF_INET, SOCK_DGRAM);
	EXPECT_OK(fd);
	/* The socket pins the module (through its proto and its proto_ops). */
	EXPECT_TRUE(module_refcnt() > base);
	/* delete_module(2) must refuse to unload while the socket exists. */
	EXPECT_ERRNO(syscall(SYS_delete_module, "quic", O_NONBLOCK), EWOULDBLOCK);
	close(fd);
	EXPECT_EQ(module_refcnt(), base);
	return 0;
}

KTEST_MAIN()
