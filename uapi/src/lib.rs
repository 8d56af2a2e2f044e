//! The kquic socket ABI in Rust: the twin of `include/uapi/linux/quic.h`.
//!
//! This crate is the single Rust definition of the numbers and structures that userspace, kernel
//! consumers and `quic.ko` exchange. The kernel module builds it in (Kbuild passes
//! `--cfg kernel_build` and `no_std`); the userspace library and the host tests use it as an
//! ordinary `no_std` crate. It has no dependencies and no `unsafe`.
//!
//! - Every structure is `#[repr(C)]`, named exactly as in C, with the C field names and types
//!   (`__u8` → `u8`, `__s64` → `i64`, ...). Sizes and alignments are fixed by const assertions, and
//!   `tests/abi.rs` compares every size, offset and constant with what `gcc` computes from the header.
//! - Structures are copied to and from user memory as *bytes*, never by reinterpreting memory:
//!   [`AbiStruct::write_prefix`] produces the C memory image (native endian, padding zeroed, so no
//!   kernel stack bytes leak through padding) and [`AbiStruct::from_bytes_prefix`] builds a value
//!   from however many bytes the caller supplied, zero-filling the rest: "copy user structs by the
//!   length given; a shorter, older struct must still work".
//! - Constants are typed after the field or argument that carries them (`u8` for event types and
//!   crypto levels, `u32` for message flags, `i32` for socket option names, ...).
//! - The draft's older names (`MSG_STREAM_NEW`, `MSG_DATAGRAM`, ...) are provided as aliases.
#![cfg_attr(not(kernel_build), no_std)]
#![forbid(unsafe_code)]
#![allow(non_camel_case_types)]

use core::fmt;
use core::mem::offset_of;

// ------------------------------------------------------------------------------------------------
// Protocol number and socket option level
// ------------------------------------------------------------------------------------------------

/// `socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM, IPPROTO_QUIC)`.
pub const IPPROTO_QUIC: i32 = 261;
/// Level of QUIC socket options and cmsgs (287 is `SOL_VSOCK`).
pub const SOL_QUIC: i32 = 288;

// ------------------------------------------------------------------------------------------------
// Ancillary data
// ------------------------------------------------------------------------------------------------

/// cmsg type carrying a [`quic_stream_info`].
pub const QUIC_STREAM_INFO: i32 = 0;
/// cmsg type carrying a [`quic_handshake_info`].
pub const QUIC_HANDSHAKE_INFO: i32 = 1;

/// Stream id bit: the stream was opened by the server.
pub const QUIC_STREAM_TYPE_SERVER_MASK: i64 = 0x01;
/// Stream id bit: the stream is unidirectional.
pub const QUIC_STREAM_TYPE_UNI_MASK: i64 = 0x02;
/// Both stream type bits.
pub const QUIC_STREAM_TYPE_MASK: i64 = 0x03;

/// Open the stream with this data (reuses `MSG_SYN`).
pub const MSG_QUIC_STREAM_NEW: u32 = 0x400;
/// Last data of the stream (reuses `MSG_FIN`).
pub const MSG_QUIC_STREAM_FIN: u32 = 0x200;
/// Open a unidirectional stream (reuses `MSG_CONFIRM`).
pub const MSG_QUIC_STREAM_UNI: u32 = 0x800;
/// Do not block when opening the stream (reuses `MSG_WAITFORONE`).
pub const MSG_QUIC_STREAM_DONTWAIT: u32 = 0x10000;
/// Send STREAMS_BLOCKED when the stream limit is reached (reuses `MSG_ERRQUEUE`).
pub const MSG_QUIC_STREAM_SNDBLOCK: u32 = 0x2000;
/// The message is an unreliable datagram (reuses `MSG_RST`).
pub const MSG_QUIC_DATAGRAM: u32 = 0x1000;
/// The message is an event, see [`quic_event`] (reuses `MSG_MORE`).
pub const MSG_QUIC_NOTIFICATION: u32 = 0x8000;

/// Draft name of [`MSG_QUIC_STREAM_NEW`].
pub const MSG_STREAM_NEW: u32 = MSG_QUIC_STREAM_NEW;
/// Draft name of [`MSG_QUIC_STREAM_FIN`].
pub const MSG_STREAM_FIN: u32 = MSG_QUIC_STREAM_FIN;
/// Draft name of [`MSG_QUIC_STREAM_UNI`].
pub const MSG_STREAM_UNI: u32 = MSG_QUIC_STREAM_UNI;
/// Draft name of [`MSG_QUIC_STREAM_DONTWAIT`].
pub const MSG_STREAM_DONTWAIT: u32 = MSG_QUIC_STREAM_DONTWAIT;
/// Draft name of [`MSG_QUIC_STREAM_SNDBLOCK`].
pub const MSG_STREAM_SNDBLOCK: u32 = MSG_QUIC_STREAM_SNDBLOCK;
/// Draft name of [`MSG_QUIC_DATAGRAM`].
pub const MSG_DATAGRAM: u32 = MSG_QUIC_DATAGRAM;
/// Draft name of [`MSG_QUIC_NOTIFICATION`].
pub const MSG_NOTIFICATION: u32 = MSG_QUIC_NOTIFICATION;

/// Crypto level: 1-RTT application data.
pub const QUIC_CRYPTO_APP: u8 = 0;
/// Crypto level: Initial.
pub const QUIC_CRYPTO_INITIAL: u8 = 1;
/// Crypto level: Handshake.
pub const QUIC_CRYPTO_HANDSHAKE: u8 = 2;
/// Crypto level: 0-RTT early data.
pub const QUIC_CRYPTO_EARLY: u8 = 3;
/// Number of crypto levels.
pub const QUIC_CRYPTO_MAX: u8 = 4;

// ------------------------------------------------------------------------------------------------
// Socket options (level SOL_QUIC)
// ------------------------------------------------------------------------------------------------

/// Get/set: [`quic_event_option`].
pub const QUIC_SOCKOPT_EVENT: i32 = 0;
/// Get: [`quic_stream_info`] (stream_id -1: the next free id).
pub const QUIC_SOCKOPT_STREAM_OPEN: i32 = 1;
/// Set: [`quic_errinfo`].
pub const QUIC_SOCKOPT_STREAM_RESET: i32 = 2;
/// Set: [`quic_errinfo`].
pub const QUIC_SOCKOPT_STREAM_STOP_SENDING: i32 = 3;
/// Get/set: [`quic_connection_id_info`].
pub const QUIC_SOCKOPT_CONNECTION_ID: i32 = 4;
/// Get/set: [`quic_connection_close`].
pub const QUIC_SOCKOPT_CONNECTION_CLOSE: i32 = 5;
/// Set: `struct sockaddr_in` or `struct sockaddr_in6`.
pub const QUIC_SOCKOPT_CONNECTION_MIGRATION: i32 = 6;
/// Set: no argument.
pub const QUIC_SOCKOPT_KEY_UPDATE: i32 = 7;
/// Get/set: [`quic_transport_param`].
pub const QUIC_SOCKOPT_TRANSPORT_PARAM: i32 = 8;
/// Get/set: [`quic_config`].
pub const QUIC_SOCKOPT_CONFIG: i32 = 9;
/// Get/set: token bytes (client: the token to use; server set: issue NEW_TOKEN).
pub const QUIC_SOCKOPT_TOKEN: i32 = 10;
/// Get/set: comma separated ALPN list.
pub const QUIC_SOCKOPT_ALPN: i32 = 11;
/// Get/set: bytes (client: NewSessionTicket; server listener: ticket key).
pub const QUIC_SOCKOPT_SESSION_TICKET: i32 = 12;
/// Set: [`quic_crypto_secret`].
pub const QUIC_SOCKOPT_CRYPTO_SECRET: i32 = 13;
/// Get/set: body of the TLS extension 0x39 (quic_transport_parameters).
pub const QUIC_SOCKOPT_TRANSPORT_PARAM_EXT: i32 = 14;

/// Largest [`QUIC_SOCKOPT_TOKEN`] value.
pub const QUIC_TOKEN_MAX_LEN: usize = 120;
/// Largest [`QUIC_SOCKOPT_ALPN`] value.
pub const QUIC_ALPN_MAX_LEN: usize = 128;
/// Largest [`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`] value.
pub const QUIC_TRANSPORT_PARAM_EXT_MAX_LEN: usize = 512;

/// QUIC version 1 (RFC 9000).
pub const QUIC_VERSION_V1: u32 = 0x1;
/// QUIC version 2 (RFC 9369).
pub const QUIC_VERSION_V2: u32 = 0x6b33_43cf;

/// Congestion control: NewReno.
pub const QUIC_CONG_ALG_RENO: u8 = 0;
/// Congestion control: CUBIC.
pub const QUIC_CONG_ALG_CUBIC: u8 = 1;
/// Congestion control: BBR (a kquic addition).
pub const QUIC_CONG_ALG_BBR: u8 = 2;
/// Number of congestion control algorithms.
pub const QUIC_CONG_ALG_MAX: u8 = 3;

/// Length of [`quic_crypto_secret::secret`].
pub const QUIC_CRYPTO_SECRET_BUFFER_SIZE: usize = 48;

// ------------------------------------------------------------------------------------------------
// Events: the first byte of a notification
// ------------------------------------------------------------------------------------------------

/// No event.
pub const QUIC_EVENT_NONE: u8 = 0;
/// Payload: [`quic_stream_update`].
pub const QUIC_EVENT_STREAM_UPDATE: u8 = 1;
/// Payload: [`quic_stream_max_data`].
pub const QUIC_EVENT_STREAM_MAX_DATA: u8 = 2;
/// Payload: `u64 max_stream` (stream type in the low 2 bits, the limit above them).
pub const QUIC_EVENT_STREAM_MAX_STREAM: u8 = 3;
/// Payload: [`quic_connection_id_info`].
pub const QUIC_EVENT_CONNECTION_ID: u8 = 4;
/// Payload: [`quic_connection_close`].
pub const QUIC_EVENT_CONNECTION_CLOSE: u8 = 5;
/// Payload: `u8 local_migration`.
pub const QUIC_EVENT_CONNECTION_MIGRATION: u8 = 6;
/// Payload: `u8 key_update_phase`.
pub const QUIC_EVENT_KEY_UPDATE: u8 = 7;
/// Payload: the token bytes.
pub const QUIC_EVENT_NEW_TOKEN: u8 = 8;
/// Payload: the NewSessionTicket message.
pub const QUIC_EVENT_NEW_SESSION_TICKET: u8 = 9;
/// Number of event types.
pub const QUIC_EVENT_MAX: u8 = 10;

// Stream states (RFC 9000, section 3), in quic_stream_update.state.
/// Sending part: Ready.
pub const QUIC_STREAM_SEND_STATE_READY: u8 = 0;
/// Sending part: Send.
pub const QUIC_STREAM_SEND_STATE_SEND: u8 = 1;
/// Sending part: Data Sent.
pub const QUIC_STREAM_SEND_STATE_SENT: u8 = 2;
/// Sending part: Data Recvd (all data acknowledged).
pub const QUIC_STREAM_SEND_STATE_RECVD: u8 = 3;
/// Sending part: Reset Sent.
pub const QUIC_STREAM_SEND_STATE_RESET_SENT: u8 = 4;
/// Sending part: Reset Recvd.
pub const QUIC_STREAM_SEND_STATE_RESET_RECVD: u8 = 5;
/// Receiving part: Recv.
pub const QUIC_STREAM_RECV_STATE_RECV: u8 = 6;
/// Receiving part: Size Known.
pub const QUIC_STREAM_RECV_STATE_SIZE_KNOWN: u8 = 7;
/// Receiving part: Data Recvd.
pub const QUIC_STREAM_RECV_STATE_RECVD: u8 = 8;
/// Receiving part: Data Read.
pub const QUIC_STREAM_RECV_STATE_READ: u8 = 9;
/// Receiving part: Reset Recvd.
pub const QUIC_STREAM_RECV_STATE_RESET_RECVD: u8 = 10;
/// Receiving part: Reset Read.
pub const QUIC_STREAM_RECV_STATE_RESET_READ: u8 = 11;

// ------------------------------------------------------------------------------------------------
// Transport error codes (RFC 9000 section 20.1, RFC 9368 for 0x11)
// ------------------------------------------------------------------------------------------------

/// NO_ERROR.
pub const QUIC_TRANSPORT_ERROR_NONE: u32 = 0x00;
/// INTERNAL_ERROR.
pub const QUIC_TRANSPORT_ERROR_INTERNAL: u32 = 0x01;
/// CONNECTION_REFUSED.
pub const QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED: u32 = 0x02;
/// FLOW_CONTROL_ERROR.
pub const QUIC_TRANSPORT_ERROR_FLOW_CONTROL: u32 = 0x03;
/// STREAM_LIMIT_ERROR.
pub const QUIC_TRANSPORT_ERROR_STREAM_LIMIT: u32 = 0x04;
/// STREAM_STATE_ERROR.
pub const QUIC_TRANSPORT_ERROR_STREAM_STATE: u32 = 0x05;
/// FINAL_SIZE_ERROR.
pub const QUIC_TRANSPORT_ERROR_FINAL_SIZE: u32 = 0x06;
/// FRAME_ENCODING_ERROR.
pub const QUIC_TRANSPORT_ERROR_FRAME_ENCODING: u32 = 0x07;
/// TRANSPORT_PARAMETER_ERROR.
pub const QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM: u32 = 0x08;
/// CONNECTION_ID_LIMIT_ERROR.
pub const QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT: u32 = 0x09;
/// PROTOCOL_VIOLATION.
pub const QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION: u32 = 0x0a;
/// INVALID_TOKEN.
pub const QUIC_TRANSPORT_ERROR_INVALID_TOKEN: u32 = 0x0b;
/// APPLICATION_ERROR.
pub const QUIC_TRANSPORT_ERROR_APPLICATION: u32 = 0x0c;
/// CRYPTO_BUFFER_EXCEEDED.
pub const QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED: u32 = 0x0d;
/// KEY_UPDATE_ERROR.
pub const QUIC_TRANSPORT_ERROR_KEY_UPDATE: u32 = 0x0e;
/// AEAD_LIMIT_REACHED.
pub const QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED: u32 = 0x0f;
/// NO_VIABLE_PATH.
pub const QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH: u32 = 0x10;
/// VERSION_NEGOTIATION_ERROR (RFC 9368).
pub const QUIC_TRANSPORT_ERROR_VERSION_NEGOTIATION: u32 = 0x11;
/// CRYPTO_ERROR base: a TLS alert `a` is reported as `QUIC_TRANSPORT_ERROR_CRYPTO + a`.
pub const QUIC_TRANSPORT_ERROR_CRYPTO: u32 = 0x100;

// ------------------------------------------------------------------------------------------------
// kTLS cipher numbers (<linux/tls.h>), in quic_crypto_secret.type and quic_config.payload_cipher_type
// ------------------------------------------------------------------------------------------------

/// AES-128-GCM.
pub const TLS_CIPHER_AES_GCM_128: u32 = 51;
/// AES-256-GCM.
pub const TLS_CIPHER_AES_GCM_256: u32 = 52;
/// AES-128-CCM.
pub const TLS_CIPHER_AES_CCM_128: u32 = 53;
/// ChaCha20-Poly1305.
pub const TLS_CIPHER_CHACHA20_POLY1305: u32 = 54;

/// kquic's local transport parameter defaults (abi.md: "RFC 9000 where not set").
///
/// Typed like the [`quic_transport_param`] field they fill; times are microseconds.
pub mod defaults {
    /// `max_udp_payload_size`.
    pub const MAX_UDP_PAYLOAD_SIZE: u16 = 65527;
    /// `ack_delay_exponent`.
    pub const ACK_DELAY_EXPONENT: u8 = 3;
    /// `max_ack_delay`: 25 ms.
    pub const MAX_ACK_DELAY: u32 = 25_000;
    /// `active_connection_id_limit` advertised to the peer.
    pub const ACTIVE_CONNECTION_ID_LIMIT: u8 = 7;
    /// abi.md's "local limit 8": connection ids kquic keeps for itself.
    pub const LOCAL_CONNECTION_ID_LIMIT: u8 = 8;
    /// `max_idle_timeout`: 30 s.
    pub const MAX_IDLE_TIMEOUT: u32 = 30_000_000;
    /// `max_data`.
    pub const MAX_DATA: u64 = 65536 * 32;
    /// `max_stream_data_bidi_local`, `max_stream_data_bidi_remote` and `max_stream_data_uni`.
    pub const MAX_STREAM_DATA: u64 = 65536 * 4;
    /// `max_streams_bidi` and `max_streams_uni`.
    pub const MAX_STREAMS: u16 = 100;
}

// ------------------------------------------------------------------------------------------------
// Byte images
// ------------------------------------------------------------------------------------------------

/// The tail beyond a structure's size held non-zero bytes (the caller knows fields we do not);
/// the kernel answers such a request with `E2BIG`, as `copy_struct_from_user()` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooBig;

impl fmt::Display for TooBig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown non-zero fields beyond the structure")
    }
}

/// A fixed-layout ABI structure, copied to and from user memory as its C memory image.
pub trait AbiStruct: Copy + Default {
    /// `sizeof` the C structure.
    const SIZE: usize;

    /// Writes the first `min(out.len(), SIZE)` bytes of the C memory image (native endian,
    /// padding zero) to `out` and returns how many were written. A getsockopt caller with a
    /// shorter, older structure receives the prefix it knows.
    fn write_prefix(&self, out: &mut [u8]) -> usize;

    /// Builds a value from the first bytes of a C memory image. Missing bytes (a shorter, older
    /// structure) read as zero; bytes beyond `SIZE` are ignored.
    fn from_bytes_prefix(bytes: &[u8]) -> Self;

    /// Like [`from_bytes_prefix`](Self::from_bytes_prefix), but bytes beyond `SIZE` (a longer,
    /// newer structure) are accepted only if they are all zero.
    fn from_bytes_checked(bytes: &[u8]) -> Result<Self, TooBig> {
        match bytes.get(Self::SIZE..) {
            Some(tail) if tail.iter().any(|&b| b != 0) => Err(TooBig),
            _ => Ok(Self::from_bytes_prefix(bytes)),
        }
    }
}

/// A member type of an ABI structure: an integer or a byte array.
trait Field: Sized {
    const ZERO: Self;
    /// Writes the member's bytes at the start of `out`.
    fn put(&self, out: &mut [u8]);
    /// Reads the member from the start of `b`.
    fn get(b: &[u8]) -> Self;
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const ZERO: Self = 0;
            fn put(&self, out: &mut [u8]) {
                let b = self.to_ne_bytes();
                out[..b.len()].copy_from_slice(&b);
            }
            fn get(b: &[u8]) -> Self {
                const N: usize = core::mem::size_of::<$t>();
                let mut a = [0u8; N];
                a.copy_from_slice(&b[..N]);
                <$t>::from_ne_bytes(a)
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64, i64);

impl<const N: usize> Field for [u8; N] {
    const ZERO: Self = [0; N];
    fn put(&self, out: &mut [u8]) {
        out[..N].copy_from_slice(self);
    }
    fn get(b: &[u8]) -> Self {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[..N]);
        a
    }
}

/// Defines a `#[repr(C)]` ABI structure together with its size/alignment assertions, `Default`
/// (all zero), its byte image conversions and its [`AbiStruct`] implementation.
///
/// `padding` is the number of bytes the C layout leaves unnamed (tail padding); the assertion
/// `sum of member sizes + padding == size` proves there is no other hole.
macro_rules! abi_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )+
        }
        size = $size:literal, align = $align:literal, padding = $pad:literal;
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )+
        }

        const _: () = {
            assert!(core::mem::size_of::<$name>() == $size);
            assert!(core::mem::align_of::<$name>() == $align);
            assert!(0 $(+ core::mem::size_of::<$ty>())+ + $pad == $size);
        };

        impl $name {
            /// `sizeof` the C structure.
            pub const SIZE: usize = $size;

            /// The value with every member zero (also [`Default::default`]).
            pub const ZERO: Self = Self { $( $field: <$ty as Field>::ZERO, )+ };

            /// The C memory image: members at their C offsets in native byte order, padding zero.
            pub fn to_bytes(&self) -> [u8; $size] {
                let mut out = [0u8; $size];
                $( Field::put(&self.$field, &mut out[offset_of!($name, $field)..]); )+
                out
            }

            /// The value whose C memory image is `bytes`.
            pub fn from_bytes(bytes: &[u8; $size]) -> Self {
                Self { $( $field: Field::get(&bytes[offset_of!($name, $field)..]), )+ }
            }

            /// See [`AbiStruct::from_bytes_prefix`].
            pub fn from_bytes_prefix(bytes: &[u8]) -> Self {
                let mut image = [0u8; $size];
                let n = bytes.len().min($size);
                image[..n].copy_from_slice(&bytes[..n]);
                Self::from_bytes(&image)
            }

            /// See [`AbiStruct::write_prefix`].
            pub fn write_prefix(&self, out: &mut [u8]) -> usize {
                let n = out.len().min($size);
                out[..n].copy_from_slice(&self.to_bytes()[..n]);
                n
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::ZERO
            }
        }

        impl AbiStruct for $name {
            const SIZE: usize = $size;
            fn write_prefix(&self, out: &mut [u8]) -> usize {
                $name::write_prefix(self, out)
            }
            fn from_bytes_prefix(bytes: &[u8]) -> Self {
                $name::from_bytes_prefix(bytes)
            }
        }
    };
}

// ------------------------------------------------------------------------------------------------
// Structures
// ------------------------------------------------------------------------------------------------

abi_struct! {
    /// [`QUIC_SOCKOPT_TRANSPORT_PARAM`]: with `remote == 0` the local parameters advertised to
    /// the peer; with `remote == 1` the peer's (read after a handshake, set before a 0-RTT
    /// resumption). Times are microseconds. See [`defaults`].
    #[derive(Debug)]
    pub struct quic_transport_param {
        /// 1: these are the peer's parameters.
        pub remote: u8,
        /// disable_active_migration.
        pub disable_active_migration: u8,
        /// grease_quic_bit (RFC 9287).
        pub grease_quic_bit: u8,
        /// Send a stateless_reset_token.
        pub stateless_reset: u8,
        /// disable_1rtt_encryption (testing only).
        pub disable_1rtt_encryption: u8,
        /// Do not offer compatible version negotiation (RFC 9368).
        pub disable_compatible_version: u8,
        /// active_connection_id_limit.
        pub active_connection_id_limit: u8,
        /// ack_delay_exponent.
        pub ack_delay_exponent: u8,
        /// max_datagram_frame_size (RFC 9221); 0: datagrams off.
        pub max_datagram_frame_size: u16,
        /// max_udp_payload_size.
        pub max_udp_payload_size: u16,
        /// max_idle_timeout, microseconds.
        pub max_idle_timeout: u32,
        /// max_ack_delay, microseconds.
        pub max_ack_delay: u32,
        /// initial_max_streams_bidi.
        pub max_streams_bidi: u16,
        /// initial_max_streams_uni.
        pub max_streams_uni: u16,
        /// initial_max_data.
        pub max_data: u64,
        /// initial_max_stream_data_bidi_local.
        pub max_stream_data_bidi_local: u64,
        /// initial_max_stream_data_bidi_remote.
        pub max_stream_data_bidi_remote: u64,
        /// initial_max_stream_data_uni.
        pub max_stream_data_uni: u64,
    }
    size = 56, align = 8, padding = 0;
}

abi_struct! {
    /// cmsg [`QUIC_HANDSHAKE_INFO`]: the crypto level of a TLS handshake message.
    #[derive(Debug)]
    pub struct quic_handshake_info {
        /// `QUIC_CRYPTO_*`.
        pub crypto_level: u8,
    }
    size = 1, align = 1, padding = 0;
}

abi_struct! {
    /// cmsg [`QUIC_STREAM_INFO`] and the argument of [`QUIC_SOCKOPT_STREAM_OPEN`].
    #[derive(Debug)]
    pub struct quic_stream_info {
        /// Stream id; -1 asks for the next one.
        pub stream_id: i64,
        /// `MSG_QUIC_STREAM_*`.
        pub stream_flags: u32,
    }
    size = 16, align = 8, padding = 4;
}

abi_struct! {
    /// [`QUIC_SOCKOPT_STREAM_RESET`] and [`QUIC_SOCKOPT_STREAM_STOP_SENDING`].
    #[derive(Debug)]
    pub struct quic_errinfo {
        /// Stream id.
        pub stream_id: i64,
        /// Application error code.
        pub errcode: u32,
    }
    size = 16, align = 8, padding = 4;
}

abi_struct! {
    /// [`QUIC_SOCKOPT_EVENT`]: turns one event type on or off (all start off).
    #[derive(Debug)]
    pub struct quic_event_option {
        /// `QUIC_EVENT_*`.
        pub r#type: u8,
        /// 1: deliver the event.
        pub on: u8,
    }
    size = 2, align = 1, padding = 0;
}

abi_struct! {
    /// [`QUIC_SOCKOPT_CONNECTION_ID`] and the payload of [`QUIC_EVENT_CONNECTION_ID`].
    #[derive(Debug)]
    pub struct quic_connection_id_info {
        /// 1: destination connection ids; 0: source connection ids.
        pub dest: u8,
        /// Zero.
        pub reserved: [u8; 3],
        /// Sequence number of the connection id in use.
        pub active: u32,
        /// Connection ids with a lower sequence number are (to be) retired.
        pub prior_to: u32,
    }
    size = 12, align = 4, padding = 0;
}

abi_struct! {
    /// [`QUIC_SOCKOPT_CONNECTION_CLOSE`] and the payload of [`QUIC_EVENT_CONNECTION_CLOSE`].
    #[derive(Debug)]
    pub struct quic_connection_close {
        /// Error code (application or `QUIC_TRANSPORT_ERROR_*`).
        pub errcode: u32,
        /// Type of the frame that caused the close.
        pub frame: u8,
        /// Zero.
        pub reserved: [u8; 3],
        /// Reason phrase, NUL terminated.
        pub phrase: [u8; 64],
    }
    size = 72, align = 4, padding = 0;
}

impl quic_connection_close {
    /// The reason phrase up to (not including) its first NUL.
    pub fn phrase_bytes(&self) -> &[u8] {
        let end = self
            .phrase
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.phrase.len());
        &self.phrase[..end]
    }

    /// Stores `phrase`, truncated to 63 bytes so that a NUL always follows; returns the length
    /// stored.
    pub fn set_phrase(&mut self, phrase: &[u8]) -> usize {
        let n = phrase.len().min(self.phrase.len() - 1);
        self.phrase = [0; 64];
        self.phrase[..n].copy_from_slice(&phrase[..n]);
        n
    }
}

abi_struct! {
    /// [`QUIC_SOCKOPT_CRYPTO_SECRET`]: a traffic secret exported by the TLS library.
    ///
    /// `Debug` does not print the secret.
    pub struct quic_crypto_secret {
        /// 1: the secret is for sending; 0: for receiving.
        pub send: u8,
        /// `QUIC_CRYPTO_*`.
        pub level: u8,
        /// Zero.
        pub reserved: u16,
        /// `TLS_CIPHER_*`.
        pub r#type: u32,
        /// The secret; its length follows from the cipher's hash (32 or 48 bytes).
        pub secret: [u8; QUIC_CRYPTO_SECRET_BUFFER_SIZE],
    }
    size = 56, align = 4, padding = 0;
}

impl fmt::Debug for quic_crypto_secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("quic_crypto_secret")
            .field("send", &self.send)
            .field("level", &self.level)
            .field("reserved", &self.reserved)
            .field("type", &self.r#type)
            .field("secret", &"<redacted>")
            .finish()
    }
}

abi_struct! {
    /// [`QUIC_SOCKOPT_CONFIG`]: per-socket settings. Times are microseconds.
    #[derive(Debug)]
    pub struct quic_config {
        /// `QUIC_VERSION_*`.
        pub version: u32,
        /// PLPMTUD probe interval; 0: PLPMTUD off.
        pub plpmtud_probe_interval: u32,
        /// Initial smoothed RTT.
        pub initial_smoothed_rtt: u32,
        /// `TLS_CIPHER_*` preferred by a kernel consumer.
        pub payload_cipher_type: u32,
        /// `QUIC_CONG_ALG_*`.
        pub congestion_control_algo: u8,
        /// Server: validate the client address with a Retry.
        pub validate_peer_address: u8,
        /// Send stream data without coalescing delay.
        pub stream_data_nodelay: u8,
        /// Client kernel consumers: ask the handshake to receive a session ticket.
        pub receive_session_ticket: u8,
        /// Server kernel consumers: ask the handshake to request a client certificate.
        pub certificate_request: u8,
        /// Zero.
        pub reserved: [u8; 3],
        /// Keepalive probe interval; 0: keepalive off.
        pub keepalive_probe_interval: u32,
    }
    size = 28, align = 4, padding = 0;
}

abi_struct! {
    /// Payload of [`QUIC_EVENT_STREAM_UPDATE`].
    #[derive(Debug)]
    pub struct quic_stream_update {
        /// Stream id.
        pub id: i64,
        /// `QUIC_STREAM_SEND_STATE_*` or `QUIC_STREAM_RECV_STATE_*`.
        pub state: u8,
        /// Zero.
        pub reserved: [u8; 3],
        /// Application error code, for the reset states.
        pub errcode: u32,
        /// Final size, for SIZE_KNOWN, RECVD and RESET_RECVD on the receiving side.
        pub finalsz: u64,
    }
    size = 24, align = 8, padding = 0;
}

abi_struct! {
    /// Payload of [`QUIC_EVENT_STREAM_MAX_DATA`].
    #[derive(Debug)]
    pub struct quic_stream_max_data {
        /// Stream id.
        pub id: i64,
        /// The peer's new MAX_STREAM_DATA limit.
        pub max_data: u64,
    }
    size = 16, align = 8, padding = 0;
}

/// The payload of an event, after its type byte. Build and parse event payloads through the
/// member structures' byte images; this union fixes the ABI's size (72) and alignment (8).
#[repr(C)]
#[derive(Clone, Copy)]
pub union quic_event {
    /// [`QUIC_EVENT_STREAM_UPDATE`].
    pub update: quic_stream_update,
    /// [`QUIC_EVENT_STREAM_MAX_DATA`].
    pub max_data: quic_stream_max_data,
    /// [`QUIC_EVENT_CONNECTION_CLOSE`].
    pub close: quic_connection_close,
    /// [`QUIC_EVENT_CONNECTION_ID`].
    pub info: quic_connection_id_info,
    /// [`QUIC_EVENT_STREAM_MAX_STREAM`].
    pub max_stream: u64,
    /// [`QUIC_EVENT_CONNECTION_MIGRATION`].
    pub local_migration: u8,
    /// [`QUIC_EVENT_KEY_UPDATE`].
    pub key_update_phase: u8,
}

impl quic_event {
    /// `sizeof(union quic_event)`.
    pub const SIZE: usize = 72;
}

const _: () = {
    assert!(core::mem::size_of::<quic_event>() == quic_event::SIZE);
    assert!(core::mem::align_of::<quic_event>() == 8);
    // `Default` initialises `close`, which must cover every byte of the union.
    assert!(quic_connection_close::SIZE == quic_event::SIZE);
};

impl Default for quic_event {
    fn default() -> Self {
        Self {
            close: quic_connection_close::ZERO,
        }
    }
}

impl fmt::Debug for quic_event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("quic_event").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_param_image_round_trips() {
        let p = quic_transport_param {
            remote: 1,
            active_connection_id_limit: defaults::ACTIVE_CONNECTION_ID_LIMIT,
            ack_delay_exponent: defaults::ACK_DELAY_EXPONENT,
            max_datagram_frame_size: 1200,
            max_udp_payload_size: defaults::MAX_UDP_PAYLOAD_SIZE,
            max_idle_timeout: defaults::MAX_IDLE_TIMEOUT,
            max_ack_delay: defaults::MAX_ACK_DELAY,
            max_streams_bidi: defaults::MAX_STREAMS,
            max_streams_uni: 3,
            max_data: defaults::MAX_DATA,
            max_stream_data_bidi_local: 1,
            max_stream_data_bidi_remote: 2,
            max_stream_data_uni: u64::MAX,
            ..Default::default()
        };
        let b = p.to_bytes();
        assert_eq!(b[0], 1);
        assert_eq!(b[6], 7);
        assert_eq!(&b[10..12], &65527u16.to_ne_bytes());
        assert_eq!(&b[48..56], &[0xff; 8]);
        assert_eq!(quic_transport_param::from_bytes(&b), p);
        assert_eq!(quic_transport_param::from_bytes_prefix(&b), p);
    }

    #[test]
    fn shorter_struct_is_zero_extended() {
        let full = quic_config {
            version: QUIC_VERSION_V2,
            plpmtud_probe_interval: 5,
            initial_smoothed_rtt: 333_000,
            payload_cipher_type: TLS_CIPHER_AES_GCM_256,
            congestion_control_algo: QUIC_CONG_ALG_CUBIC,
            validate_peer_address: 1,
            stream_data_nodelay: 1,
            receive_session_ticket: 1,
            certificate_request: 1,
            reserved: [0; 3],
            keepalive_probe_interval: 77,
        };
        let image = full.to_bytes();
        // An older userspace without keepalive_probe_interval passes 24 bytes.
        let old = quic_config::from_bytes_prefix(&image[..24]);
        assert_eq!(
            old,
            quic_config {
                keepalive_probe_interval: 0,
                ..full
            }
        );
        assert_eq!(quic_config::from_bytes_prefix(&[]), quic_config::default());
        // Longer input: extra bytes are ignored by the prefix copy...
        let mut longer = [0u8; 40];
        longer[..28].copy_from_slice(&image);
        longer[39] = 1;
        assert_eq!(quic_config::from_bytes_prefix(&longer), full);
        // ... and rejected by the checked copy unless they are zero.
        assert_eq!(quic_config::from_bytes_checked(&longer), Err(TooBig));
        longer[39] = 0;
        assert_eq!(quic_config::from_bytes_checked(&longer), Ok(full));
        assert_eq!(
            quic_config::from_bytes_checked(&image[..3])
                .unwrap()
                .version,
            {
                let mut v = [0u8; 4];
                v[..3].copy_from_slice(&image[..3]);
                u32::from_ne_bytes(v)
            }
        );
    }

    #[test]
    fn write_prefix_copies_by_length() {
        let info = quic_stream_info {
            stream_id: -1,
            stream_flags: MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN,
        };
        let mut small = [0xaau8; 8];
        assert_eq!(info.write_prefix(&mut small), 8);
        assert_eq!(small, (-1i64).to_ne_bytes());
        let mut big = [0xaau8; 20];
        assert_eq!(AbiStruct::write_prefix(&info, &mut big), 16);
        assert_eq!(&big[8..12], &0x600u32.to_ne_bytes());
        // Tail padding is written as zero, never left over from memory.
        assert_eq!(&big[12..16], &[0; 4]);
        assert_eq!(&big[16..], &[0xaa; 4]);
    }

    #[test]
    fn every_struct_round_trips_a_pattern() {
        fn check<T: AbiStruct + PartialEq + fmt::Debug>(pattern: &[u8]) {
            let v = T::from_bytes_prefix(pattern);
            let mut out = [0u8; 128];
            let n = v.write_prefix(&mut out);
            assert_eq!(n, T::SIZE);
            assert_eq!(T::from_bytes_prefix(&out[..n]), v);
            assert_eq!(T::from_bytes_checked(&out), Ok(v));
        }
        let pattern: [u8; 128] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) | 1);
        check::<quic_handshake_info>(&pattern);
        check::<quic_stream_info>(&pattern);
        check::<quic_errinfo>(&pattern);
        check::<quic_event_option>(&pattern);
        check::<quic_connection_id_info>(&pattern);
        check::<quic_connection_close>(&pattern);
        check::<quic_crypto_secret>(&pattern);
        check::<quic_stream_update>(&pattern);
        check::<quic_stream_max_data>(&pattern);
        check::<quic_transport_param>(&pattern);
        check::<quic_config>(&pattern);
        // Structures without padding reproduce the pattern exactly.
        let p = quic_transport_param::from_bytes_prefix(&pattern);
        assert_eq!(p.to_bytes()[..], pattern[..56]);
        let s = quic_stream_info::from_bytes_prefix(&pattern);
        assert_eq!(s.to_bytes()[..12], pattern[..12]);
        assert_eq!(s.to_bytes()[12..], [0; 4]);
    }

    #[test]
    fn close_phrase_helpers() {
        let mut c = quic_connection_close::default();
        assert_eq!(c.phrase_bytes(), b"");
        assert_eq!(c.set_phrase(b"bye"), 3);
        assert_eq!(c.phrase_bytes(), b"bye");
        assert_eq!(c.set_phrase(&[b'x'; 100]), 63);
        assert_eq!(c.phrase_bytes().len(), 63);
        assert_eq!(c.phrase[63], 0);
    }

    #[test]
    fn secret_is_not_printed() {
        extern crate std;
        use std::format;
        let s = quic_crypto_secret {
            secret: [0x42; 48],
            ..Default::default()
        };
        let text = format!("{s:?}");
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("66"));
        assert_eq!(format!("{:?}", quic_event::default()), "quic_event { .. }");
    }

    #[test]
    fn flags_are_distinct_bits() {
        let all = [
            MSG_QUIC_STREAM_NEW,
            MSG_QUIC_STREAM_FIN,
            MSG_QUIC_STREAM_UNI,
            MSG_QUIC_STREAM_DONTWAIT,
            MSG_QUIC_STREAM_SNDBLOCK,
            MSG_QUIC_DATAGRAM,
            MSG_QUIC_NOTIFICATION,
        ];
        let mut seen = 0u32;
        for f in all {
            assert_eq!(f.count_ones(), 1);
            assert_eq!(seen & f, 0);
            seen |= f;
        }
    }
}
