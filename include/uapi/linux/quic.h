/* SPDX-License-Identifier: GPL-2.0+ WITH Linux-syscall-note */
/*
 * kquic: QUIC sockets in the Linux kernel -- the user/kernel ABI.
 *
 * Everything in this file is a number or a memory layout that userspace,
 * kernel consumers and the kquic module must agree on.  It is binary
 * compatible with the lxin/quic implementation described by
 * draft-lxin-quic-socket-apis; the names used by that draft, where they differ
 * from the current ones, are provided as aliases with identical values.
 *
 * The Rust twin of this file is the quic-uapi crate (uapi/ in the kquic tree);
 * a test there compares both definitions field by field, so change them
 * together.
 *
 * Rules for this header:
 *  - it needs nothing but <linux/types.h>, so it builds with only libc and
 *    kernel uapi headers on the include path;
 *  - values that libc or other uapi headers may already provide are guarded
 *    with #ifndef and spelled numerically;
 *  - structures use natural alignment; padding that the layout needs is named
 *    explicitly (reserved) wherever the ABI names it.  64-bit members are
 *    assumed to be 8-byte aligned (as on x86_64 and arm64).
 */
#ifndef _UAPI_LINUX_QUIC_H
#define _UAPI_LINUX_QUIC_H

#include <linux/types.h>

/* ---------------------------------------------------------------------------
 * Protocol number and socket option level
 */

/* socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM, IPPROTO_QUIC) */
#ifndef IPPROTO_QUIC
#define IPPROTO_QUIC				261
#endif

/* Level for setsockopt(), getsockopt() and cmsgs.  (287 is SOL_VSOCK.) */
#ifndef SOL_QUIC
#define SOL_QUIC				288
#endif

/* ---------------------------------------------------------------------------
 * Ancillary data (cmsg_level SOL_QUIC) for sendmsg() and recvmsg()
 */

enum quic_cmsg_type {
	QUIC_STREAM_INFO = 0,		/* struct quic_stream_info */
	QUIC_HANDSHAKE_INFO = 1		/* struct quic_handshake_info */
};

/* The two low bits of a stream id (RFC 9000, section 2.1). */
#define QUIC_STREAM_TYPE_SERVER_MASK		0x01
#define QUIC_STREAM_TYPE_UNI_MASK		0x02
#define QUIC_STREAM_TYPE_MASK			0x03

/*
 * Flags for quic_stream_info.stream_flags and for the flags argument of
 * sendmsg()/recvmsg() and msg_flags.  They reuse MSG_* bits that have no
 * meaning on a QUIC socket; the value of the reused bit is noted on each line.
 * They are spelled numerically so that <sys/socket.h> is not required.
 */
#ifndef MSG_QUIC_STREAM_NEW
#define MSG_QUIC_STREAM_NEW			0x400	/* MSG_SYN: open the stream */
#endif
#ifndef MSG_QUIC_STREAM_FIN
#define MSG_QUIC_STREAM_FIN			0x200	/* MSG_FIN: last data of the stream */
#endif
#ifndef MSG_QUIC_STREAM_UNI
#define MSG_QUIC_STREAM_UNI			0x800	/* MSG_CONFIRM: unidirectional stream */
#endif
#ifndef MSG_QUIC_STREAM_DONTWAIT
#define MSG_QUIC_STREAM_DONTWAIT		0x10000	/* MSG_WAITFORONE: open without blocking */
#endif
#ifndef MSG_QUIC_STREAM_SNDBLOCK
#define MSG_QUIC_STREAM_SNDBLOCK		0x2000	/* MSG_ERRQUEUE: send STREAMS_BLOCKED */
#endif
#ifndef MSG_QUIC_DATAGRAM
#define MSG_QUIC_DATAGRAM			0x1000	/* MSG_RST: unreliable datagram */
#endif
#ifndef MSG_QUIC_NOTIFICATION
#define MSG_QUIC_NOTIFICATION			0x8000	/* MSG_MORE: the data is an event */
#endif

/* The draft's names for the same flags. */
#ifndef MSG_STREAM_NEW
#define MSG_STREAM_NEW				0x400	/* MSG_QUIC_STREAM_NEW */
#endif
#ifndef MSG_STREAM_FIN
#define MSG_STREAM_FIN				0x200	/* MSG_QUIC_STREAM_FIN */
#endif
#ifndef MSG_STREAM_UNI
#define MSG_STREAM_UNI				0x800	/* MSG_QUIC_STREAM_UNI */
#endif
#ifndef MSG_STREAM_DONTWAIT
#define MSG_STREAM_DONTWAIT			0x10000	/* MSG_QUIC_STREAM_DONTWAIT */
#endif
#ifndef MSG_STREAM_SNDBLOCK
#define MSG_STREAM_SNDBLOCK			0x2000	/* MSG_QUIC_STREAM_SNDBLOCK */
#endif
#ifndef MSG_DATAGRAM
#define MSG_DATAGRAM				0x1000	/* MSG_QUIC_DATAGRAM */
#endif
#ifndef MSG_NOTIFICATION
#define MSG_NOTIFICATION			0x8000	/* MSG_QUIC_NOTIFICATION */
#endif

/* Encryption levels, as carried in quic_handshake_info and quic_crypto_secret. */
enum quic_crypto_level {
	QUIC_CRYPTO_APP = 0,		/* 1-RTT */
	QUIC_CRYPTO_INITIAL = 1,
	QUIC_CRYPTO_HANDSHAKE = 2,
	QUIC_CRYPTO_EARLY = 3,		/* 0-RTT */
	QUIC_CRYPTO_MAX = 4
};

/* cmsg QUIC_HANDSHAKE_INFO: the level of a TLS handshake message. */
struct quic_handshake_info {
	__u8	crypto_level;
};

/* cmsg QUIC_STREAM_INFO, and the argument of QUIC_SOCKOPT_STREAM_OPEN. */
struct quic_stream_info {
	__s64	stream_id;	/* -1: the next stream id to open */
	__u32	stream_flags;	/* MSG_QUIC_STREAM_* */
};

/* ---------------------------------------------------------------------------
 * Socket options (level SOL_QUIC)
 */

#define QUIC_SOCKOPT_EVENT			0	/* struct quic_event_option */
#define QUIC_SOCKOPT_STREAM_OPEN		1	/* struct quic_stream_info (get) */
#define QUIC_SOCKOPT_STREAM_RESET		2	/* struct quic_errinfo (set) */
#define QUIC_SOCKOPT_STREAM_STOP_SENDING	3	/* struct quic_errinfo (set) */
#define QUIC_SOCKOPT_CONNECTION_ID		4	/* struct quic_connection_id_info */
#define QUIC_SOCKOPT_CONNECTION_CLOSE		5	/* struct quic_connection_close */
#define QUIC_SOCKOPT_CONNECTION_MIGRATION	6	/* struct sockaddr_in(6) (set) */
#define QUIC_SOCKOPT_KEY_UPDATE			7	/* no argument (set) */
#define QUIC_SOCKOPT_TRANSPORT_PARAM		8	/* struct quic_transport_param */
#define QUIC_SOCKOPT_CONFIG			9	/* struct quic_config */
#define QUIC_SOCKOPT_TOKEN			10	/* bytes */
#define QUIC_SOCKOPT_ALPN			11	/* "alpn1,alpn2,..." */
#define QUIC_SOCKOPT_SESSION_TICKET		12	/* bytes */
#define QUIC_SOCKOPT_CRYPTO_SECRET		13	/* struct quic_crypto_secret (set) */
#define QUIC_SOCKOPT_TRANSPORT_PARAM_EXT	14	/* TLS extension 0x39 body */

/* Largest accepted values of the byte-string options. */
#define QUIC_TOKEN_MAX_LEN			120	/* QUIC_SOCKOPT_TOKEN */
#define QUIC_ALPN_MAX_LEN			128	/* QUIC_SOCKOPT_ALPN */
#define QUIC_TRANSPORT_PARAM_EXT_MAX_LEN	512	/* QUIC_SOCKOPT_TRANSPORT_PARAM_EXT */

/* QUIC versions (RFC 9000, RFC 9369). */
#define QUIC_VERSION_V1				0x1
#define QUIC_VERSION_V2				0x6b3343cf

/*
 * QUIC_SOCKOPT_TRANSPORT_PARAM.  With remote = 0 it is the local set that is
 * advertised to the peer; with remote = 1 it is the peer's set (get it after
 * a handshake, set it before a 0-RTT resumption).  Times are microseconds.
 */
struct quic_transport_param {
	__u8	remote;
	__u8	disable_active_migration;
	__u8	grease_quic_bit;
	__u8	stateless_reset;
	__u8	disable_1rtt_encryption;
	__u8	disable_compatible_version;
	__u8	active_connection_id_limit;
	__u8	ack_delay_exponent;
	__u16	max_datagram_frame_size;
	__u16	max_udp_payload_size;
	__u32	max_idle_timeout;
	__u32	max_ack_delay;
	__u16	max_streams_bidi;
	__u16	max_streams_uni;
	__u64	max_data;
	__u64	max_stream_data_bidi_local;
	__u64	max_stream_data_bidi_remote;
	__u64	max_stream_data_uni;
};

/* QUIC_SOCKOPT_CONFIG: per-socket settings.  Times are microseconds. */
struct quic_config {
	__u32	version;			/* QUIC_VERSION_* */
	__u32	plpmtud_probe_interval;		/* 0: PLPMTUD off */
	__u32	initial_smoothed_rtt;
	__u32	payload_cipher_type;		/* TLS_CIPHER_* (kernel consumers) */
	__u8	congestion_control_algo;	/* QUIC_CONG_ALG_* */
	__u8	validate_peer_address;		/* server: send Retry */
	__u8	stream_data_nodelay;		/* no Nagle-like coalescing */
	__u8	receive_session_ticket;		/* client kernel consumers */
	__u8	certificate_request;		/* server kernel consumers */
	__u8	reserved[3];
	__u32	keepalive_probe_interval;	/* 0: keepalive off */
};

/* QUIC_SOCKOPT_CRYPTO_SECRET: a traffic secret exported by the TLS library. */
#define QUIC_CRYPTO_SECRET_BUFFER_SIZE		48

struct quic_crypto_secret {
	__u8	send;		/* 1: for sending, 0: for receiving */
	__u8	level;		/* QUIC_CRYPTO_* */
	__u16	reserved;
	__u32	type;		/* TLS_CIPHER_* */
	__u8	secret[QUIC_CRYPTO_SECRET_BUFFER_SIZE];
};

/* quic_config.congestion_control_algo */
enum quic_cong_algo {
	QUIC_CONG_ALG_RENO = 0,
	QUIC_CONG_ALG_CUBIC = 1,
	QUIC_CONG_ALG_BBR = 2,		/* kquic addition */
	QUIC_CONG_ALG_MAX = 3
};

/* QUIC_SOCKOPT_STREAM_RESET and QUIC_SOCKOPT_STREAM_STOP_SENDING */
struct quic_errinfo {
	__s64	stream_id;
	__u32	errcode;	/* application error code */
};

/* QUIC_SOCKOPT_CONNECTION_ID, and the payload of QUIC_EVENT_CONNECTION_ID. */
struct quic_connection_id_info {
	__u8	dest;		/* 1: destination ids, 0: source ids */
	__u8	reserved[3];
	__u32	active;		/* sequence number of the id in use */
	__u32	prior_to;	/* ids below this are (to be) retired */
};

/* QUIC_SOCKOPT_EVENT: turn one event type on or off (all start off). */
struct quic_event_option {
	__u8	type;		/* QUIC_EVENT_* */
	__u8	on;
};

/* ---------------------------------------------------------------------------
 * Events: recvmsg() returns them with MSG_QUIC_NOTIFICATION set in msg_flags;
 * the first byte is the event type and the rest is the matching member of
 * union quic_event.
 */

enum quic_event_type {
	QUIC_EVENT_NONE = 0,
	QUIC_EVENT_STREAM_UPDATE = 1,		/* struct quic_stream_update */
	QUIC_EVENT_STREAM_MAX_DATA = 2,		/* struct quic_stream_max_data */
	QUIC_EVENT_STREAM_MAX_STREAM = 3,	/* __u64 max_stream */
	QUIC_EVENT_CONNECTION_ID = 4,		/* struct quic_connection_id_info */
	QUIC_EVENT_CONNECTION_CLOSE = 5,	/* struct quic_connection_close */
	QUIC_EVENT_CONNECTION_MIGRATION = 6,	/* __u8 local_migration */
	QUIC_EVENT_KEY_UPDATE = 7,		/* __u8 key_update_phase */
	QUIC_EVENT_NEW_TOKEN = 8,		/* token bytes */
	QUIC_EVENT_NEW_SESSION_TICKET = 9,	/* NewSessionTicket message */
	QUIC_EVENT_MAX = 10
};

/* quic_stream_update.state (RFC 9000, section 3) */
enum quic_stream_state {
	QUIC_STREAM_SEND_STATE_READY = 0,
	QUIC_STREAM_SEND_STATE_SEND = 1,
	QUIC_STREAM_SEND_STATE_SENT = 2,
	QUIC_STREAM_SEND_STATE_RECVD = 3,
	QUIC_STREAM_SEND_STATE_RESET_SENT = 4,
	QUIC_STREAM_SEND_STATE_RESET_RECVD = 5,
	QUIC_STREAM_RECV_STATE_RECV = 6,
	QUIC_STREAM_RECV_STATE_SIZE_KNOWN = 7,
	QUIC_STREAM_RECV_STATE_RECVD = 8,
	QUIC_STREAM_RECV_STATE_READ = 9,
	QUIC_STREAM_RECV_STATE_RESET_RECVD = 10,
	QUIC_STREAM_RECV_STATE_RESET_READ = 11
};

struct quic_stream_update {
	__s64	id;
	__u8	state;		/* QUIC_STREAM_*_STATE_* */
	__u8	reserved[3];
	__u32	errcode;	/* for the RESET_* states */
	__u64	finalsz;	/* for SIZE_KNOWN, RECVD and RESET_RECVD */
};

struct quic_stream_max_data {
	__s64	id;
	__u64	max_data;
};

/* QUIC_SOCKOPT_CONNECTION_CLOSE, and the payload of QUIC_EVENT_CONNECTION_CLOSE. */
struct quic_connection_close {
	__u32	errcode;
	__u8	frame;		/* type of the frame that caused the close */
	__u8	reserved[3];
	__u8	phrase[64];	/* reason phrase, NUL terminated */
};

union quic_event {
	struct quic_stream_update	update;
	struct quic_stream_max_data	max_data;
	struct quic_connection_close	close;
	struct quic_connection_id_info	info;
	__u64	max_stream;
	__u8	local_migration;
	__u8	key_update_phase;
};

/* ---------------------------------------------------------------------------
 * Transport error codes (RFC 9000, section 20.1; RFC 9368 for 0x11), as seen
 * in quic_connection_close.errcode.
 */

enum quic_transport_error {
	QUIC_TRANSPORT_ERROR_NONE = 0x00,
	QUIC_TRANSPORT_ERROR_INTERNAL = 0x01,
	QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED = 0x02,
	QUIC_TRANSPORT_ERROR_FLOW_CONTROL = 0x03,
	QUIC_TRANSPORT_ERROR_STREAM_LIMIT = 0x04,
	QUIC_TRANSPORT_ERROR_STREAM_STATE = 0x05,
	QUIC_TRANSPORT_ERROR_FINAL_SIZE = 0x06,
	QUIC_TRANSPORT_ERROR_FRAME_ENCODING = 0x07,
	QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM = 0x08,
	QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT = 0x09,
	QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION = 0x0a,
	QUIC_TRANSPORT_ERROR_INVALID_TOKEN = 0x0b,
	QUIC_TRANSPORT_ERROR_APPLICATION = 0x0c,
	QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED = 0x0d,
	QUIC_TRANSPORT_ERROR_KEY_UPDATE = 0x0e,
	QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED = 0x0f,
	QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH = 0x10,
	QUIC_TRANSPORT_ERROR_VERSION_NEGOTIATION = 0x11,
	/* TLS alerts: QUIC_TRANSPORT_ERROR_CRYPTO + alert, up to 0x1ff */
	QUIC_TRANSPORT_ERROR_CRYPTO = 0x100
};

/* ---------------------------------------------------------------------------
 * quic_crypto_secret.type and quic_config.payload_cipher_type use the kTLS
 * cipher numbers of <linux/tls.h>; they are repeated here for programs that do
 * not include it.
 */
#ifndef TLS_CIPHER_AES_GCM_128
#define TLS_CIPHER_AES_GCM_128			51
#endif
#ifndef TLS_CIPHER_AES_GCM_256
#define TLS_CIPHER_AES_GCM_256			52
#endif
#ifndef TLS_CIPHER_AES_CCM_128
#define TLS_CIPHER_AES_CCM_128			53
#endif
#ifndef TLS_CIPHER_CHACHA20_POLY1305
#define TLS_CIPHER_CHACHA20_POLY1305		54
#endif

#endif /* _UAPI_LINUX_QUIC_H */
