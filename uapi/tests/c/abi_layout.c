// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile-time check of include/uapi/linux/quic.h against the ABI table
 * (shared/spec/abi.md): every structure's size and alignment, every member's
 * offset and exact type, and every constant's value.  Nothing runs: if this
 * file compiles with -std=c11 -Wall -Wextra -Werror, the header matches.
 *
 * Built by uapi/tests/abi.rs (cargo test -p quic-uapi), by hand with:
 *   gcc -std=c11 -Wall -Wextra -Werror -I include/uapi -c uapi/tests/c/abi_layout.c -o /dev/null
 */
#include <stddef.h>
#include <sys/socket.h>		/* MSG_* to check the reused bits */

#include <linux/quic.h>
#include <linux/quic.h>		/* include guard */
#include <linux/tls.h>		/* TLS_CIPHER_* after ours: must not clash */

#define CHECK(cond) _Static_assert(cond, #cond)

#define SIZE(T, size, align)						\
	_Static_assert(sizeof(T) == (size), #T ": size");		\
	_Static_assert(_Alignof(T) == (align), #T ": alignment")

#define FIELD(T, f, type, off)						\
	_Static_assert(offsetof(T, f) == (off), #T "." #f ": offset");	\
	_Static_assert(__builtin_types_compatible_p(__typeof__(((T *)0)->f), type), \
		       #T "." #f ": type")

#define VALUE(name, v) _Static_assert((name) == (v), #name " == " #v)

/* ---- numbers ---- */
VALUE(IPPROTO_QUIC, 261);
VALUE(SOL_QUIC, 288);

VALUE(QUIC_STREAM_INFO, 0);
VALUE(QUIC_HANDSHAKE_INFO, 1);

VALUE(QUIC_CRYPTO_APP, 0);
VALUE(QUIC_CRYPTO_INITIAL, 1);
VALUE(QUIC_CRYPTO_HANDSHAKE, 2);
VALUE(QUIC_CRYPTO_EARLY, 3);
VALUE(QUIC_CRYPTO_MAX, 4);

VALUE(QUIC_STREAM_TYPE_SERVER_MASK, 0x01);
VALUE(QUIC_STREAM_TYPE_UNI_MASK, 0x02);
VALUE(QUIC_STREAM_TYPE_MASK, 0x03);

VALUE(MSG_QUIC_STREAM_NEW, 0x400);
VALUE(MSG_QUIC_STREAM_FIN, 0x200);
VALUE(MSG_QUIC_STREAM_UNI, 0x800);
VALUE(MSG_QUIC_STREAM_DONTWAIT, 0x10000);
VALUE(MSG_QUIC_STREAM_SNDBLOCK, 0x2000);
VALUE(MSG_QUIC_DATAGRAM, 0x1000);
VALUE(MSG_QUIC_NOTIFICATION, 0x8000);
/* the reused MSG_* bits, as libc defines them */
VALUE(MSG_QUIC_STREAM_NEW, MSG_SYN);
VALUE(MSG_QUIC_STREAM_FIN, MSG_FIN);
VALUE(MSG_QUIC_STREAM_UNI, MSG_CONFIRM);
VALUE(MSG_QUIC_STREAM_DONTWAIT, MSG_WAITFORONE);
VALUE(MSG_QUIC_STREAM_SNDBLOCK, MSG_ERRQUEUE);
VALUE(MSG_QUIC_DATAGRAM, MSG_RST);
VALUE(MSG_QUIC_NOTIFICATION, MSG_MORE);
/* the draft's names */
VALUE(MSG_STREAM_NEW, MSG_QUIC_STREAM_NEW);
VALUE(MSG_STREAM_FIN, MSG_QUIC_STREAM_FIN);
VALUE(MSG_STREAM_UNI, MSG_QUIC_STREAM_UNI);
VALUE(MSG_STREAM_DONTWAIT, MSG_QUIC_STREAM_DONTWAIT);
VALUE(MSG_STREAM_SNDBLOCK, MSG_QUIC_STREAM_SNDBLOCK);
VALUE(MSG_DATAGRAM, MSG_QUIC_DATAGRAM);
VALUE(MSG_NOTIFICATION, MSG_QUIC_NOTIFICATION);
/* all distinct */
CHECK((MSG_QUIC_STREAM_NEW ^ MSG_QUIC_STREAM_FIN ^ MSG_QUIC_STREAM_UNI ^
       MSG_QUIC_STREAM_DONTWAIT ^ MSG_QUIC_STREAM_SNDBLOCK ^ MSG_QUIC_DATAGRAM ^
       MSG_QUIC_NOTIFICATION) ==
      (MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN | MSG_QUIC_STREAM_UNI |
       MSG_QUIC_STREAM_DONTWAIT | MSG_QUIC_STREAM_SNDBLOCK | MSG_QUIC_DATAGRAM |
       MSG_QUIC_NOTIFICATION));

VALUE(QUIC_SOCKOPT_EVENT, 0);
VALUE(QUIC_SOCKOPT_STREAM_OPEN, 1);
VALUE(QUIC_SOCKOPT_STREAM_RESET, 2);
VALUE(QUIC_SOCKOPT_STREAM_STOP_SENDING, 3);
VALUE(QUIC_SOCKOPT_CONNECTION_ID, 4);
VALUE(QUIC_SOCKOPT_CONNECTION_CLOSE, 5);
VALUE(QUIC_SOCKOPT_CONNECTION_MIGRATION, 6);
VALUE(QUIC_SOCKOPT_KEY_UPDATE, 7);
VALUE(QUIC_SOCKOPT_TRANSPORT_PARAM, 8);
VALUE(QUIC_SOCKOPT_CONFIG, 9);
VALUE(QUIC_SOCKOPT_TOKEN, 10);
VALUE(QUIC_SOCKOPT_ALPN, 11);
VALUE(QUIC_SOCKOPT_SESSION_TICKET, 12);
VALUE(QUIC_SOCKOPT_CRYPTO_SECRET, 13);
VALUE(QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, 14);

VALUE(QUIC_TOKEN_MAX_LEN, 120);
VALUE(QUIC_ALPN_MAX_LEN, 128);
VALUE(QUIC_TRANSPORT_PARAM_EXT_MAX_LEN, 512);

VALUE(QUIC_VERSION_V1, 0x1);
VALUE(QUIC_VERSION_V2, 0x6b3343cf);

VALUE(QUIC_CONG_ALG_RENO, 0);
VALUE(QUIC_CONG_ALG_CUBIC, 1);
VALUE(QUIC_CONG_ALG_BBR, 2);
VALUE(QUIC_CONG_ALG_MAX, 3);

VALUE(QUIC_EVENT_NONE, 0);
VALUE(QUIC_EVENT_STREAM_UPDATE, 1);
VALUE(QUIC_EVENT_STREAM_MAX_DATA, 2);
VALUE(QUIC_EVENT_STREAM_MAX_STREAM, 3);
VALUE(QUIC_EVENT_CONNECTION_ID, 4);
VALUE(QUIC_EVENT_CONNECTION_CLOSE, 5);
VALUE(QUIC_EVENT_CONNECTION_MIGRATION, 6);
VALUE(QUIC_EVENT_KEY_UPDATE, 7);
VALUE(QUIC_EVENT_NEW_TOKEN, 8);
VALUE(QUIC_EVENT_NEW_SESSION_TICKET, 9);
VALUE(QUIC_EVENT_MAX, 10);

VALUE(QUIC_STREAM_SEND_STATE_READY, 0);
VALUE(QUIC_STREAM_SEND_STATE_SEND, 1);
VALUE(QUIC_STREAM_SEND_STATE_SENT, 2);
VALUE(QUIC_STREAM_SEND_STATE_RECVD, 3);
VALUE(QUIC_STREAM_SEND_STATE_RESET_SENT, 4);
VALUE(QUIC_STREAM_SEND_STATE_RESET_RECVD, 5);
VALUE(QUIC_STREAM_RECV_STATE_RECV, 6);
VALUE(QUIC_STREAM_RECV_STATE_SIZE_KNOWN, 7);
VALUE(QUIC_STREAM_RECV_STATE_RECVD, 8);
VALUE(QUIC_STREAM_RECV_STATE_READ, 9);
VALUE(QUIC_STREAM_RECV_STATE_RESET_RECVD, 10);
VALUE(QUIC_STREAM_RECV_STATE_RESET_READ, 11);

VALUE(QUIC_TRANSPORT_ERROR_NONE, 0x00);
VALUE(QUIC_TRANSPORT_ERROR_INTERNAL, 0x01);
VALUE(QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED, 0x02);
VALUE(QUIC_TRANSPORT_ERROR_FLOW_CONTROL, 0x03);
VALUE(QUIC_TRANSPORT_ERROR_STREAM_LIMIT, 0x04);
VALUE(QUIC_TRANSPORT_ERROR_STREAM_STATE, 0x05);
VALUE(QUIC_TRANSPORT_ERROR_FINAL_SIZE, 0x06);
VALUE(QUIC_TRANSPORT_ERROR_FRAME_ENCODING, 0x07);
VALUE(QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM, 0x08);
VALUE(QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT, 0x09);
VALUE(QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION, 0x0a);
VALUE(QUIC_TRANSPORT_ERROR_INVALID_TOKEN, 0x0b);
VALUE(QUIC_TRANSPORT_ERROR_APPLICATION, 0x0c);
VALUE(QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED, 0x0d);
VALUE(QUIC_TRANSPORT_ERROR_KEY_UPDATE, 0x0e);
VALUE(QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED, 0x0f);
VALUE(QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH, 0x10);
VALUE(QUIC_TRANSPORT_ERROR_VERSION_NEGOTIATION, 0x11);
VALUE(QUIC_TRANSPORT_ERROR_CRYPTO, 0x100);

VALUE(TLS_CIPHER_AES_GCM_128, 51);
VALUE(TLS_CIPHER_AES_GCM_256, 52);
VALUE(TLS_CIPHER_AES_CCM_128, 53);
VALUE(TLS_CIPHER_CHACHA20_POLY1305, 54);

VALUE(QUIC_CRYPTO_SECRET_BUFFER_SIZE, 48);

/* ---- layouts ---- */
SIZE(struct quic_handshake_info, 1, 1);
FIELD(struct quic_handshake_info, crypto_level, __u8, 0);

SIZE(struct quic_stream_info, 16, 8);
FIELD(struct quic_stream_info, stream_id, __s64, 0);
FIELD(struct quic_stream_info, stream_flags, __u32, 8);

SIZE(struct quic_errinfo, 16, 8);
FIELD(struct quic_errinfo, stream_id, __s64, 0);
FIELD(struct quic_errinfo, errcode, __u32, 8);

SIZE(struct quic_event_option, 2, 1);
FIELD(struct quic_event_option, type, __u8, 0);
FIELD(struct quic_event_option, on, __u8, 1);

SIZE(struct quic_connection_id_info, 12, 4);
FIELD(struct quic_connection_id_info, dest, __u8, 0);
FIELD(struct quic_connection_id_info, reserved, __u8[3], 1);
FIELD(struct quic_connection_id_info, active, __u32, 4);
FIELD(struct quic_connection_id_info, prior_to, __u32, 8);

SIZE(struct quic_connection_close, 72, 4);
FIELD(struct quic_connection_close, errcode, __u32, 0);
FIELD(struct quic_connection_close, frame, __u8, 4);
FIELD(struct quic_connection_close, reserved, __u8[3], 5);
FIELD(struct quic_connection_close, phrase, __u8[64], 8);

SIZE(struct quic_crypto_secret, 56, 4);
FIELD(struct quic_crypto_secret, send, __u8, 0);
FIELD(struct quic_crypto_secret, level, __u8, 1);
FIELD(struct quic_crypto_secret, reserved, __u16, 2);
FIELD(struct quic_crypto_secret, type, __u32, 4);
FIELD(struct quic_crypto_secret, secret, __u8[48], 8);

SIZE(struct quic_stream_update, 24, 8);
FIELD(struct quic_stream_update, id, __s64, 0);
FIELD(struct quic_stream_update, state, __u8, 8);
FIELD(struct quic_stream_update, reserved, __u8[3], 9);
FIELD(struct quic_stream_update, errcode, __u32, 12);
FIELD(struct quic_stream_update, finalsz, __u64, 16);

SIZE(struct quic_stream_max_data, 16, 8);
FIELD(struct quic_stream_max_data, id, __s64, 0);
FIELD(struct quic_stream_max_data, max_data, __u64, 8);

SIZE(struct quic_transport_param, 56, 8);
FIELD(struct quic_transport_param, remote, __u8, 0);
FIELD(struct quic_transport_param, disable_active_migration, __u8, 1);
FIELD(struct quic_transport_param, grease_quic_bit, __u8, 2);
FIELD(struct quic_transport_param, stateless_reset, __u8, 3);
FIELD(struct quic_transport_param, disable_1rtt_encryption, __u8, 4);
FIELD(struct quic_transport_param, disable_compatible_version, __u8, 5);
FIELD(struct quic_transport_param, active_connection_id_limit, __u8, 6);
FIELD(struct quic_transport_param, ack_delay_exponent, __u8, 7);
FIELD(struct quic_transport_param, max_datagram_frame_size, __u16, 8);
FIELD(struct quic_transport_param, max_udp_payload_size, __u16, 10);
FIELD(struct quic_transport_param, max_idle_timeout, __u32, 12);
FIELD(struct quic_transport_param, max_ack_delay, __u32, 16);
FIELD(struct quic_transport_param, max_streams_bidi, __u16, 20);
FIELD(struct quic_transport_param, max_streams_uni, __u16, 22);
FIELD(struct quic_transport_param, max_data, __u64, 24);
FIELD(struct quic_transport_param, max_stream_data_bidi_local, __u64, 32);
FIELD(struct quic_transport_param, max_stream_data_bidi_remote, __u64, 40);
FIELD(struct quic_transport_param, max_stream_data_uni, __u64, 48);

SIZE(struct quic_config, 28, 4);
FIELD(struct quic_config, version, __u32, 0);
FIELD(struct quic_config, plpmtud_probe_interval, __u32, 4);
FIELD(struct quic_config, initial_smoothed_rtt, __u32, 8);
FIELD(struct quic_config, payload_cipher_type, __u32, 12);
FIELD(struct quic_config, congestion_control_algo, __u8, 16);
FIELD(struct quic_config, validate_peer_address, __u8, 17);
FIELD(struct quic_config, stream_data_nodelay, __u8, 18);
FIELD(struct quic_config, receive_session_ticket, __u8, 19);
FIELD(struct quic_config, certificate_request, __u8, 20);
FIELD(struct quic_config, reserved, __u8[3], 21);
FIELD(struct quic_config, keepalive_probe_interval, __u32, 24);

SIZE(union quic_event, 72, 8);
FIELD(union quic_event, update, struct quic_stream_update, 0);
FIELD(union quic_event, max_data, struct quic_stream_max_data, 0);
FIELD(union quic_event, close, struct quic_connection_close, 0);
FIELD(union quic_event, info, struct quic_connection_id_info, 0);
FIELD(union quic_event, max_stream, __u64, 0);
FIELD(union quic_event, local_migration, __u8, 0);
FIELD(union quic_event, key_update_phase, __u8, 0);

/* The enum tags exist (the draft names enum quic_event_type). */
CHECK(sizeof(enum quic_cmsg_type) == sizeof(int));
CHECK(sizeof(enum quic_crypto_level) == sizeof(int));
CHECK(sizeof(enum quic_cong_algo) == sizeof(int));
CHECK(sizeof(enum quic_event_type) == sizeof(int));
CHECK(sizeof(enum quic_stream_state) == sizeof(int));
CHECK(sizeof(enum quic_transport_error) == sizeof(int));

/*
 * Code written against the draft: its names and struct usage must compile
 * (bodies follow the draft's appendices; nothing here is executed).
 */
int draft_style_names(void);
int draft_style_names(void)
{
	struct quic_transport_param param = { 0 };
	struct quic_config config = { 0 };
	struct quic_stream_info sinfo = { 0 };
	struct quic_handshake_info hinfo = { 0 };
	struct quic_event_option event = { 0 };
	struct quic_errinfo errinfo = { 0 };
	struct quic_connection_id_info idinfo = { 0 };
	struct quic_connection_close close = { 0 };
	struct quic_crypto_secret secret = { 0 };
	struct quic_stream_update update = { 0 };
	union quic_event ev;
	enum quic_event_type type = QUIC_EVENT_NONE;
	unsigned int flags;
	int opts[] = {
		QUIC_SOCKOPT_EVENT, QUIC_SOCKOPT_STREAM_OPEN, QUIC_SOCKOPT_STREAM_RESET,
		QUIC_SOCKOPT_STREAM_STOP_SENDING, QUIC_SOCKOPT_CONNECTION_ID,
		QUIC_SOCKOPT_CONNECTION_CLOSE, QUIC_SOCKOPT_CONNECTION_MIGRATION,
		QUIC_SOCKOPT_KEY_UPDATE, QUIC_SOCKOPT_TRANSPORT_PARAM, QUIC_SOCKOPT_CONFIG,
		QUIC_SOCKOPT_TOKEN, QUIC_SOCKOPT_ALPN, QUIC_SOCKOPT_SESSION_TICKET,
		QUIC_SOCKOPT_CRYPTO_SECRET, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
	};
	int states[] = {
		QUIC_STREAM_SEND_STATE_RECVD, QUIC_STREAM_SEND_STATE_RESET_SENT,
		QUIC_STREAM_SEND_STATE_RESET_RECVD, QUIC_STREAM_RECV_STATE_RECV,
		QUIC_STREAM_RECV_STATE_SIZE_KNOWN, QUIC_STREAM_RECV_STATE_RECVD,
		QUIC_STREAM_RECV_STATE_RESET_RECVD,
	};
	enum quic_event_type events[] = {
		QUIC_EVENT_NONE, QUIC_EVENT_STREAM_UPDATE, QUIC_EVENT_STREAM_MAX_STREAM,
		QUIC_EVENT_CONNECTION_ID, QUIC_EVENT_CONNECTION_CLOSE,
		QUIC_EVENT_CONNECTION_MIGRATION, QUIC_EVENT_KEY_UPDATE,
		QUIC_EVENT_NEW_TOKEN, QUIC_EVENT_NEW_SESSION_TICKET,
	};

	flags = MSG_STREAM_NEW | MSG_STREAM_FIN;
	flags |= MSG_STREAM_UNI | MSG_STREAM_DONTWAIT | MSG_STREAM_SNDBLOCK;
	flags |= MSG_DATAGRAM | MSG_NOTIFICATION | MSG_EOR;

	param.remote = 1;
	config.validate_peer_address = 1;
	config.version = QUIC_VERSION_V2;
	config.congestion_control_algo = QUIC_CONG_ALG_CUBIC;
	config.payload_cipher_type = TLS_CIPHER_AES_GCM_128;
	sinfo.stream_id = -1;
	sinfo.stream_flags = flags;
	hinfo.crypto_level = QUIC_CRYPTO_APP;
	event.type = QUIC_EVENT_STREAM_UPDATE;
	event.on = 1;
	errinfo.errcode = 1;
	idinfo.dest = 1;
	close.phrase[0] = 'x';
	secret.level = QUIC_CRYPTO_HANDSHAKE;
	secret.type = TLS_CIPHER_CHACHA20_POLY1305;
	update.state = QUIC_STREAM_RECV_STATE_RECVD;
	ev.update = update;
	ev.max_stream = 4;

	return (int)(param.remote + config.validate_peer_address + sinfo.stream_flags +
		     hinfo.crypto_level + event.on + errinfo.errcode + idinfo.dest +
		     close.phrase[0] + secret.level + ev.local_migration + type +
		     opts[0] + states[0] + events[0] + SOL_QUIC + IPPROTO_QUIC +
		     QUIC_STREAM_INFO + QUIC_HANDSHAKE_INFO);
}
