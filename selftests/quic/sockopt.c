// SPDX-License-Identifier: GPL-2.0
/* kquic selftests: SOL_QUIC socket options and fall-through to other levels. */
#include <netinet/ip.h>

#include "common.h"

static int qsock(int family)
{
	return socket(family, SOCK_DGRAM, IPPROTO_QUIC);
}

KTEST(unknown_option_enoprotoopt)
{
	int fd = qsock(AF_INET), v = 1;
	char buf[64];
	socklen_t len = sizeof(buf);

	EXPECT_OK(fd);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, 99, &v, sizeof(v)), ENOPROTOOPT);
	EXPECT_ERRNO(getsockopt(fd, SOL_QUIC, 99, buf, &len), ENOPROTOOPT);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, -1, &v, sizeof(v)), ENOPROTOOPT);
	close(fd);
	return 0;
}

KTEST(short_buffers_einval)
{
	int fd = qsock(AF_INET);
	struct quic_event_option ev = { .type = QUIC_EVENT_STREAM_UPDATE, .on = 1 };
	struct quic_config cfg;
	struct quic_errinfo ei = { 0 };
	struct quic_crypto_secret sec = { 0 };
	socklen_t len = 2;

	EXPECT_OK(fd);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, 1), EINVAL);
	EXPECT_ERRNO(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, &len), EINVAL);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, 2), EINVAL);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_STREAM_RESET, &ei, sizeof(ei) - 1), EINVAL);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &sec, 8), EINVAL);
	close(fd);
	return 0;
}

KTEST(config_defaults_and_roundtrip)
{
	int fd = qsock(AF_INET6);
	struct quic_config cfg, got;
	socklen_t len = sizeof(got);

	EXPECT_OK(fd);
	memset(&got, 0xff, sizeof(got));
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &got, &len));
	EXPECT_EQ(len, sizeof(got));
	EXPECT_EQ(got.version, QUIC_VERSION_V1);
	EXPECT_EQ(got.congestion_control_algo, QUIC_CONG_ALG_RENO);
	EXPECT_EQ(got.initial_smoothed_rtt, 333000);

	cfg = got;
	cfg.version = QUIC_VERSION_V2;
	cfg.congestion_control_algo = QUIC_CONG_ALG_CUBIC;
	cfg.validate_peer_address = 1;
	cfg.keepalive_probe_interval = 5000000;
	cfg.payload_cipher_type = 54;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)));
	len = sizeof(got);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &got, &len));
	EXPECT_TRUE(memcmp(&cfg, &got, sizeof(cfg)) == 0);

	/* An older, shorter struct: only its prefix is copied, the rest is kept. */
	cfg.version = QUIC_VERSION_V1;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, 4));
	len = sizeof(got);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &got, &len));
	EXPECT_EQ(got.version, QUIC_VERSION_V1);
	EXPECT_EQ(got.congestion_control_algo, QUIC_CONG_ALG_CUBIC);
	close(fd);
	return 0;
}

KTEST(config_bad_values_einval)
{
	int fd = qsock(AF_INET);
	struct quic_config cfg, base;
	socklen_t len = sizeof(base);

	EXPECT_OK(fd);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &base, &len));
	cfg = base;
	cfg.version = 0x12345678;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)), EINVAL);
	cfg = base;
	cfg.congestion_control_algo = 200;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)), EINVAL);
	cfg = base;
	cfg.payload_cipher_type = 7;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)), EINVAL);
	/* Nothing of a rejected struct was applied. */
	len = sizeof(cfg);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, &len));
	EXPECT_TRUE(memcmp(&cfg, &base, sizeof(cfg)) == 0);
	close(fd);
	return 0;
}

KTEST(transport_param_roundtrip_and_validation)
{
	int fd = qsock(AF_INET);
	struct quic_transport_param p = { 0 }, got = { 0 };
	socklen_t len = sizeof(got);

	EXPECT_OK(fd);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, &len));
	EXPECT_EQ(got.max_udp_payload_size, 65527);
	EXPECT_EQ(got.ack_delay_exponent, 3);
	EXPECT_EQ(got.max_ack_delay, 25000);
	EXPECT_EQ(got.max_idle_timeout, 30000000);
	EXPECT_EQ(got.max_streams_bidi, 100);

	p = got;
	p.max_data = 1 << 24;
	p.max_streams_uni = 7;
	p.max_datagram_frame_size = 1200;
	p.grease_quic_bit = 1;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &p, sizeof(p)));
	memset(&got, 0, sizeof(got));
	len = sizeof(got);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, &len));
	EXPECT_TRUE(memcmp(&p, &got, sizeof(p)) == 0);

	/* RFC 9000 section 18.2 ranges. */
	got = p;
	got.ack_delay_exponent = 21;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, sizeof(got)), EINVAL);
	got = p;
	got.max_udp_payload_size = 1199;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, sizeof(got)), EINVAL);
	got = p;
	got.active_connection_id_limit = 1;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, sizeof(got)), EINVAL);
	got = p;
	got.max_ack_delay = 16384 * 1000;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, sizeof(got)), EINVAL);
	got = p;
	got.max_data = 1ULL << 62;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, sizeof(got)), EINVAL);

	/* The peer's (remote) set is kept apart from the local one. */
	memset(&got, 0, sizeof(got));
	got.remote = 1;
	len = sizeof(got);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, &len));
	EXPECT_EQ(got.remote, 1);
	EXPECT_EQ(got.max_data, 65536 * 32);
	close(fd);
	return 0;
}

/* As lxin/quic: a zeroed struct with one field set changes only that field. */
KTEST(zeroed_struct_sets_one_field)
{
	int fd = qsock(AF_INET);
	struct quic_config cfg = { 0 }, gcfg;
	struct quic_transport_param p = { 0 }, got;
	socklen_t len = sizeof(gcfg);

	EXPECT_OK(fd);
	cfg.keepalive_probe_interval = 7000000;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)));
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &gcfg, &len));
	EXPECT_EQ(gcfg.keepalive_probe_interval, 7000000);
	EXPECT_EQ(gcfg.version, QUIC_VERSION_V1);
	EXPECT_EQ(gcfg.initial_smoothed_rtt, 333000);

	p.max_streams_uni = 9;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &p, sizeof(p)));
	memset(&got, 0, sizeof(got));
	len = sizeof(got);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &got, &len));
	EXPECT_EQ(got.max_streams_uni, 9);
	EXPECT_EQ(got.max_udp_payload_size, 65527);
	EXPECT_EQ(got.max_streams_bidi, 100);
	close(fd);
	return 0;
}

KTEST(event_option)
{
	int fd = qsock(AF_INET);
	struct quic_event_option ev = { .type = QUIC_EVENT_KEY_UPDATE, .on = 1 };
	socklen_t len = sizeof(ev);

	EXPECT_OK(fd);
	ev.on = 0xff;
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len));
	EXPECT_EQ(ev.on, 0);	/* all events off by default */
	ev.on = 1;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)));
	ev.on = 0;
	len = sizeof(ev);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len));
	EXPECT_EQ(ev.on, 1);
	ev.type = QUIC_EVENT_NEW_TOKEN;
	len = sizeof(ev);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len));
	EXPECT_EQ(ev.on, 0);
	/* Any non-zero on is on (lxin/quic). */
	ev.on = 7;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)));
	ev.on = 0;
	len = sizeof(ev);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len));
	EXPECT_EQ(ev.on, 1);
	ev.type = QUIC_EVENT_MAX;
	ev.on = 1;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)), EINVAL);
	ev.type = QUIC_EVENT_NONE;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)), EINVAL);
	close(fd);
	return 0;
}

KTEST(alpn_token_ticket_bytes)
{
	int fd = qsock(AF_INET6);
	char buf[256], big[200];
	socklen_t len = sizeof(buf);
	unsigned char tok[100], ticket[1000];

	EXPECT_OK(fd);
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "smbd,h3", 7));
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, buf, &len));
	EXPECT_EQ(len, 7);
	EXPECT_TRUE(memcmp(buf, "smbd,h3", 7) == 0);
	/* Too small an output buffer for the stored value. */
	len = 3;
	EXPECT_ERRNO(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, buf, &len), EINVAL);
	memset(big, 'a', sizeof(big));
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, big, sizeof(big)), EINVAL);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "h3,,x", 5), EINVAL);

	for (unsigned i = 0; i < sizeof(tok); i++)
		tok[i] = i * 7;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TOKEN, tok, sizeof(tok)));
	len = sizeof(buf);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TOKEN, buf, &len));
	EXPECT_EQ(len, sizeof(tok));
	EXPECT_TRUE(memcmp(buf, tok, sizeof(tok)) == 0);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TOKEN, big, 121), EINVAL);

	memset(ticket, 0x5a, sizeof(ticket));
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_SESSION_TICKET, ticket, sizeof(ticket)));
	{
		unsigned char out[1000];
		socklen_t olen = sizeof(out);

		EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_SESSION_TICKET, out, &olen));
		EXPECT_EQ(olen, sizeof(ticket));
		EXPECT_TRUE(memcmp(out, ticket, sizeof(ticket)) == 0);
	}
	close(fd);
	return 0;
}

KTEST(connection_options_need_a_connection)
{
	int fd = qsock(AF_INET);
	struct quic_errinfo ei = { .stream_id = 0, .errcode = 1 };
	struct quic_stream_info si = { .stream_id = -1 };
	struct quic_crypto_secret sec = { .send = 1, .level = QUIC_CRYPTO_HANDSHAKE, .type = 51 };
	socklen_t len = sizeof(si);

	EXPECT_OK(fd);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_STREAM_RESET, &ei, sizeof(ei)), ENOTCONN);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_KEY_UPDATE, NULL, 0), ENOTCONN);
	EXPECT_ERRNO(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_STREAM_OPEN, &si, &len), ENOTCONN);
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &sec, sizeof(sec)), ENOTCONN);
	sec.type = 99;
	EXPECT_ERRNO(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &sec, sizeof(sec)), EINVAL);
	close(fd);
	return 0;
}

KTEST(other_levels_fall_through)
{
	int fd = qsock(AF_INET), fd6 = qsock(AF_INET6), v, tos = 0x10;
	socklen_t len = sizeof(v);

	EXPECT_OK(fd);
	EXPECT_OK(fd6);
	/* SOL_SOCKET */
	v = 65536;
	EXPECT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
	EXPECT_OK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len));
	EXPECT_EQ(v, IPPROTO_QUIC);
	/* IPPROTO_IP */
	EXPECT_OK(setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)));
	v = 0;
	len = sizeof(v);
	EXPECT_OK(getsockopt(fd, IPPROTO_IP, IP_TOS, &v, &len));
	EXPECT_EQ(v, 0x10);
	/* IPPROTO_IPV6 */
	v = 17;
	EXPECT_OK(setsockopt(fd6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof(v)));
	v = 0;
	len = sizeof(v);
	EXPECT_OK(getsockopt(fd6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, &len));
	EXPECT_EQ(v, 17);
	close(fd);
	close(fd6);
	return 0;
}

KTEST_MAIN()
