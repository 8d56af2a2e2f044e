// SPDX-License-Identifier: GPL-2.0
/*
 * kquic selftests: who shares a UDP tunnel and who gets EADDRINUSE. IPv4 addresses on AF_INET6
 * sockets, v4-mapped binds, IPV6_V6ONLY and dual-stack wildcards, link-local scopes, bound
 * devices, other users, and exclusive listening.
 */
#include <net/if.h>
#include <sys/wait.h>

#include "common.h"

static int make(int family, int type)
{
	return socket(family, type, IPPROTO_QUIC);
}

static int make_v6only(int on)
{
	int fd = make(AF_INET6, SOCK_DGRAM);

	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int bind4(int fd, const char *ip, int port)
{
	struct sockaddr_in a = sin_of(ip, port);

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static int bind6(int fd, const char *ip, int port)
{
	struct sockaddr_in6 a = sin6_of(ip, port);

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

KTEST(bind_ipv4_address_on_inet6_socket)
{
	struct sockaddr_in6 got;
	socklen_t len = sizeof(got);
	int fd6 = make(AF_INET6, SOCK_DGRAM), fd4 = make(AF_INET, SOCK_DGRAM), port;

	EXPECT_OK(fd6);
	EXPECT_OK(fd4);
	EXPECT_OK(bind4(fd6, "127.0.0.1", 0));
	EXPECT_OK(getsockname(fd6, (struct sockaddr *)&got, &len));
	EXPECT_EQ(got.sin6_family, AF_INET6);
	EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&got.sin6_addr));
	EXPECT_EQ(got.sin6_addr.s6_addr[15], 1);
	port = ntohs(got.sin6_port);
	/* An IPv4 tunnel, which an AF_INET socket of the same address and port shares. */
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	EXPECT_EQ(udp_sockets_on_port(port, 1), 0);
	EXPECT_OK(bind4(fd4, "127.0.0.1", port));
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	close(fd6);
	close(fd4);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 0);
	return 0;
}

KTEST(bind_v4_mapped_shares_with_inet)
{
	int fd6 = make(AF_INET6, SOCK_STREAM), fd4 = make(AF_INET, SOCK_STREAM), port;

	EXPECT_OK(fd6);
	EXPECT_OK(fd4);
	EXPECT_OK(bind4(fd4, "127.0.0.1", 0));
	port = bound_port(fd4);
	EXPECT_OK(bind6(fd6, "::ffff:127.0.0.1", port));
	EXPECT_EQ(bound_port(fd6), port);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	close(fd6);
	close(fd4);
	return 0;
}

KTEST(bind_v4_mapped_on_v6only_einval)
{
	int fd = make_v6only(1);

	EXPECT_OK(fd);
	EXPECT_ERRNO(bind6(fd, "::ffff:127.0.0.1", 0), EINVAL);
	EXPECT_ERRNO(bind4(fd, "127.0.0.1", 0), EINVAL);
	/* The failed binds left it unbound. */
	EXPECT_OK(bind6(fd, "::1", 0));
	close(fd);
	return 0;
}

KTEST(bind_dual_stack_wildcard_serves_ipv4_binds)
{
	int fd6 = make_v6only(0), fd4 = make(AF_INET, SOCK_DGRAM), fd4b = make(AF_INET, SOCK_DGRAM);
	struct sockaddr_in got;
	socklen_t len = sizeof(got);
	int port;

	EXPECT_OK(fd6);
	EXPECT_OK(fd4);
	EXPECT_OK(fd4b);
	EXPECT_OK(bind6(fd6, "::", 0));
	port = bound_port(fd6);
	/* The dual-stack socket receives IPv4 for the port: IPv4 binds share it. */
	EXPECT_OK(bind4(fd4, "0.0.0.0", port));
	EXPECT_OK(bind4(fd4b, "127.0.0.1", port));
	EXPECT_OK(getsockname(fd4b, (struct sockaddr *)&got, &len));
	EXPECT_EQ(got.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	EXPECT_EQ(ntohs(got.sin_port), port);
	EXPECT_EQ(udp_sockets_on_port(port, 1), 1);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 0);
	close(fd6);
	/* The tunnel lives on for its IPv4 users. */
	EXPECT_EQ(udp_sockets_on_port(port, 1), 1);
	close(fd4);
	close(fd4b);
	EXPECT_EQ(udp_sockets_on_port(port, 1), 0);
	return 0;
}

KTEST(bind_v6only_wildcard_leaves_ipv4_to_others)
{
	int fd6 = make_v6only(1), fd4 = make(AF_INET, SOCK_DGRAM), port;

	EXPECT_OK(fd6);
	EXPECT_OK(fd4);
	EXPECT_OK(bind6(fd6, "::", 0));
	port = bound_port(fd6);
	EXPECT_OK(bind4(fd4, "0.0.0.0", port));
	/* Two tunnels: one IPv6-only, one IPv4. */
	EXPECT_EQ(udp_sockets_on_port(port, 1), 1);
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	close(fd6);
	close(fd4);
	return 0;
}

KTEST(bind_overlapping_addresses_eaddrinuse)
{
	int a = make(AF_INET, SOCK_DGRAM), b = make(AF_INET, SOCK_DGRAM);
	int c = make_v6only(0), port;

	EXPECT_OK(a);
	EXPECT_OK(b);
	EXPECT_OK(c);
	EXPECT_OK(bind4(a, "127.0.0.1", 0));
	port = bound_port(a);
	/* The wildcard would take 127.0.0.1's datagrams too, and so would a dual-stack one. */
	EXPECT_ERRNO(bind4(b, "0.0.0.0", port), EADDRINUSE);
	EXPECT_ERRNO(bind6(c, "::", port), EADDRINUSE);
	close(a);
	close(b);
	close(c);
	return 0;
}

KTEST(connect_across_families_enetunreach)
{
	struct sockaddr_in6 m = sin6_of("::ffff:127.0.0.1", 4433), l6 = sin6_of("::1", 4433);
	int v6only = make_v6only(1), bound6 = make(AF_INET6, SOCK_DGRAM);
	int mapped = make(AF_INET6, SOCK_DGRAM);

	EXPECT_OK(v6only);
	EXPECT_OK(bound6);
	EXPECT_OK(mapped);
	/* Neither a v6-only socket nor one bound to an IPv6 address reaches an IPv4 peer, */
	EXPECT_ERRNO(connect(v6only, (struct sockaddr *)&m, sizeof(m)), ENETUNREACH);
	EXPECT_OK(bind6(bound6, "::1", 0));
	EXPECT_ERRNO(connect(bound6, (struct sockaddr *)&m, sizeof(m)), ENETUNREACH);
	/* and a socket bound to an IPv4 address does not reach an IPv6 one. */
	EXPECT_OK(bind4(mapped, "127.0.0.1", 0));
	EXPECT_ERRNO(connect(mapped, (struct sockaddr *)&l6, sizeof(l6)), ENETUNREACH);
	close(v6only);
	close(bound6);
	close(mapped);
	return 0;
}

KTEST(link_local_needs_a_scope)
{
	struct sockaddr_in6 ll = sin6_of("fe80::1", 4433);
	int a = make(AF_INET6, SOCK_DGRAM), b = make(AF_INET6, SOCK_DGRAM);

	EXPECT_OK(a);
	EXPECT_OK(b);
	EXPECT_ERRNO(bind6(a, "fe80::1", 0), EINVAL);
	EXPECT_ERRNO(connect(b, (struct sockaddr *)&ll, sizeof(ll)), EINVAL);
	close(a);
	close(b);
	return 0;
}

KTEST(bound_device_keys_the_tunnel)
{
	int a = make(AF_INET, SOCK_DGRAM), b = make(AF_INET, SOCK_DGRAM), c = make(AF_INET, SOCK_DGRAM);
	int port;

	EXPECT_OK(a);
	EXPECT_OK(b);
	EXPECT_OK(c);
	EXPECT_OK(setsockopt(a, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3));
	EXPECT_OK(setsockopt(c, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3));
	EXPECT_OK(bind4(a, "127.0.0.1", 0));
	port = bound_port(a);
	/* Same device: shared. No device: a different tunnel, which UDP refuses beside it. */
	EXPECT_OK(bind4(c, "127.0.0.1", port));
	EXPECT_EQ(udp_sockets_on_port(port, 0), 1);
	EXPECT_ERRNO(bind4(b, "127.0.0.1", port), EADDRINUSE);
	close(a);
	close(b);
	close(c);
	return 0;
}

KTEST(bind_other_users_port_eaddrinuse)
{
	int fd = make(AF_INET, SOCK_DGRAM), port, status = -1;
	pid_t pid;

	EXPECT_OK(fd);
	EXPECT_OK(bind4(fd, "127.0.0.1", 0));
	port = bound_port(fd);
	pid = fork();
	EXPECT_OK(pid);
	if (pid == 0) {
		int s;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		s = make(AF_INET, SOCK_DGRAM);
		if (s < 0)
			_exit(11);
		/* Another user's address and port: refused; any other port: fine. */
		if (bind4(s, "127.0.0.1", port) != -1 || errno != EADDRINUSE)
			_exit(12);
		if (bind4(s, "127.0.0.1", 0))
			_exit(13);
		_exit(0);
	}
	EXPECT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	close(fd);
	return 0;
}

KTEST(listen_is_exclusive_per_address)
{
	int a = make(AF_INET, SOCK_STREAM), b = make(AF_INET, SOCK_STREAM), port;

	EXPECT_OK(a);
	EXPECT_OK(b);
	EXPECT_OK(bind4(a, "127.0.0.1", 0));
	port = bound_port(a);
	EXPECT_OK(bind4(b, "127.0.0.1", port));
	EXPECT_OK(listen(a, 8));
	EXPECT_ERRNO(listen(b, 8), EADDRINUSE);
	close(a);
	/* The first listener is gone: the second may listen now. */
	EXPECT_OK(listen(b, 8));
	close(b);
	return 0;
}

KTEST_MAIN()
