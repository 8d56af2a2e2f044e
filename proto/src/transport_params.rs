//! QUIC transport parameters (RFC 9000 §18) with the extensions kquic speaks:
//! max_datagram_frame_size (RFC 9221), grease_quic_bit (RFC 9287), version_information
//! (RFC 9368) and lxin/quic's disable_1rtt_encryption.
//!
//! [`TransportParams::decode`] applies every rule of RFC 9000 §7.4 and §18.2 and reports
//! TRANSPORT_PARAMETER_ERROR on a violation; unknown and reserved parameters are skipped.
//! Everything is stored inline (no allocation). [`uapi`] maps to and from the socket ABI's
//! `struct quic_transport_param`.

pub mod uapi;

use crate::cid::{ConnectionId, ResetToken, MAX_CID_LEN, RESET_TOKEN_LEN};
use crate::codec::{CodecError, Reader, Writer};
use crate::crypto::Side;
use crate::error::Error;
use crate::varint;

/// Transport parameter IDs.
pub mod id {
    /// original_destination_connection_id (server only).
    pub const ORIGINAL_DESTINATION_CONNECTION_ID: u64 = 0x00;
    /// max_idle_timeout, milliseconds.
    pub const MAX_IDLE_TIMEOUT: u64 = 0x01;
    /// stateless_reset_token (server only).
    pub const STATELESS_RESET_TOKEN: u64 = 0x02;
    /// max_udp_payload_size.
    pub const MAX_UDP_PAYLOAD_SIZE: u64 = 0x03;
    /// initial_max_data.
    pub const INITIAL_MAX_DATA: u64 = 0x04;
    /// initial_max_stream_data_bidi_local.
    pub const INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: u64 = 0x05;
    /// initial_max_stream_data_bidi_remote.
    pub const INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: u64 = 0x06;
    /// initial_max_stream_data_uni.
    pub const INITIAL_MAX_STREAM_DATA_UNI: u64 = 0x07;
    /// initial_max_streams_bidi.
    pub const INITIAL_MAX_STREAMS_BIDI: u64 = 0x08;
    /// initial_max_streams_uni.
    pub const INITIAL_MAX_STREAMS_UNI: u64 = 0x09;
    /// ack_delay_exponent.
    pub const ACK_DELAY_EXPONENT: u64 = 0x0a;
    /// max_ack_delay, milliseconds.
    pub const MAX_ACK_DELAY: u64 = 0x0b;
    /// disable_active_migration (empty).
    pub const DISABLE_ACTIVE_MIGRATION: u64 = 0x0c;
    /// preferred_address (server only).
    pub const PREFERRED_ADDRESS: u64 = 0x0d;
    /// active_connection_id_limit.
    pub const ACTIVE_CONNECTION_ID_LIMIT: u64 = 0x0e;
    /// initial_source_connection_id.
    pub const INITIAL_SOURCE_CONNECTION_ID: u64 = 0x0f;
    /// retry_source_connection_id (server only).
    pub const RETRY_SOURCE_CONNECTION_ID: u64 = 0x10;
    /// version_information (RFC 9368).
    pub const VERSION_INFORMATION: u64 = 0x11;
    /// max_datagram_frame_size (RFC 9221).
    pub const MAX_DATAGRAM_FRAME_SIZE: u64 = 0x20;
    /// grease_quic_bit (RFC 9287, empty).
    pub const GREASE_QUIC_BIT: u64 = 0x2ab2;
    /// disable_1rtt_encryption (draft-banks-quic-disable-encryption, as used by lxin/quic;
    /// empty).
    pub const DISABLE_1RTT_ENCRYPTION: u64 = 0xbaad;

    /// True for the reserved IDs `31 * N + 27` that exist to exercise the "ignore unknown
    /// parameters" rule (RFC 9000 §18.1).
    pub const fn is_reserved(id: u64) -> bool {
        id >= 27 && (id - 27) % 31 == 0
    }
}

/// Smallest allowed max_udp_payload_size.
pub const MIN_UDP_PAYLOAD_SIZE: u64 = 1200;
/// Largest allowed ack_delay_exponent.
pub const MAX_ACK_DELAY_EXPONENT: u64 = 20;
/// max_ack_delay must be below this (milliseconds).
pub const MAX_ACK_DELAY_LIMIT: u64 = 1 << 14;
/// Smallest allowed active_connection_id_limit.
pub const MIN_ACTIVE_CONNECTION_ID_LIMIT: u64 = 2;
/// Largest allowed initial_max_streams_bidi / _uni.
pub const MAX_STREAMS_LIMIT: u64 = 1 << 60;
/// Versions kept from a version_information parameter; further ones are dropped.
pub const MAX_VERSIONS: usize = 16;

/// The server's preferred_address (RFC 9000 §18.2). An all-zero address and port means that
/// family is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreferredAddress {
    /// IPv4 address.
    pub ipv4: [u8; 4],
    /// IPv4 port.
    pub ipv4_port: u16,
    /// IPv6 address.
    pub ipv6: [u8; 16],
    /// IPv6 port.
    pub ipv6_port: u16,
    /// Connection ID to use on the new address (1 to 20 bytes).
    pub cid: ConnectionId,
    /// Stateless reset token for `cid`.
    pub reset_token: ResetToken,
}

impl PreferredAddress {
    const FIXED_LEN: usize = 4 + 2 + 16 + 2 + 1 + RESET_TOKEN_LEN;

    fn decode(v: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::transport_parameter("malformed preferred_address");
        let mut r = Reader::new(v);
        let ipv4 = r.array().map_err(bad)?;
        let ipv4_port = r.u16().map_err(bad)?;
        let ipv6 = r.array().map_err(bad)?;
        let ipv6_port = r.u16().map_err(bad)?;
        let cid_len = usize::from(r.u8().map_err(bad)?);
        if cid_len == 0 || cid_len > MAX_CID_LEN {
            return Err(Error::transport_parameter(
                "preferred_address connection ID length not in 1..=20",
            ));
        }
        let cid = r
            .bytes(cid_len)
            .ok()
            .and_then(ConnectionId::new)
            .ok_or(Error::transport_parameter("malformed preferred_address"))?;
        let reset_token = r.array().map_err(bad)?;
        if !r.is_empty() {
            return Err(Error::transport_parameter("preferred_address too long"));
        }
        Ok(Self {
            ipv4,
            ipv4_port,
            ipv6,
            ipv6_port,
            cid,
            reset_token,
        })
    }

    fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.cid.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.bytes(&self.ipv4)?;
        w.u16(self.ipv4_port)?;
        w.bytes(&self.ipv6)?;
        w.u16(self.ipv6_port)?;
        w.u8(self.cid.len() as u8)?;
        w.bytes(&self.cid)?;
        w.bytes(&self.reset_token)
    }
}

/// The version_information parameter (RFC 9368 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionInformation {
    /// The version the sender chose for this connection (never 0).
    pub chosen: u32,
    available: [u32; MAX_VERSIONS],
    count: u8,
}

impl VersionInformation {
    /// A value with `chosen` and up to [`MAX_VERSIONS`] available versions; `None` when a
    /// version is 0 or there are too many.
    pub fn new(chosen: u32, available: &[u32]) -> Option<Self> {
        if chosen == 0 || available.len() > MAX_VERSIONS || available.contains(&0) {
            return None;
        }
        let mut list = [0u32; MAX_VERSIONS];
        list.get_mut(..available.len())?.copy_from_slice(available);
        Some(Self {
            chosen,
            available: list,
            count: available.len() as u8,
        })
    }

    /// The versions the sender supports (possibly with greased ones), in its preference
    /// order.
    pub fn available(&self) -> &[u32] {
        self.available.get(..usize::from(self.count)).unwrap_or(&[])
    }

    fn decode(v: &[u8]) -> Result<Self, Error> {
        if v.len() < 4 || v.len() % 4 != 0 {
            return Err(Error::transport_parameter("malformed version_information"));
        }
        let mut words = v
            .chunks_exact(4)
            .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)));
        let chosen = words.next().unwrap_or(0);
        if chosen == 0 {
            return Err(Error::transport_parameter("version_information chooses 0"));
        }
        let mut available = [0u32; MAX_VERSIONS];
        let mut count = 0usize;
        for version in words {
            if version == 0 {
                return Err(Error::transport_parameter("version_information lists 0"));
            }
            if let Some(slot) = available.get_mut(count) {
                *slot = version;
                count += 1;
            }
        }
        Ok(Self {
            chosen,
            available,
            count: count as u8,
        })
    }

    fn encoded_len(&self) -> usize {
        4 * (1 + self.available().len())
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u32(self.chosen)?;
        for v in self.available() {
            w.u32(*v)?;
        }
        Ok(())
    }
}

/// A set of transport parameters. Times are milliseconds, as on the wire.
///
/// [`Default`] gives the values that absent parameters take (RFC 9000 §18.2);
/// [`TransportParams::kquic_defaults`] gives what kquic advertises unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportParams {
    /// original_destination_connection_id (server only).
    pub original_destination_connection_id: Option<ConnectionId>,
    /// max_idle_timeout in milliseconds; 0: no idle timeout.
    pub max_idle_timeout: u64,
    /// stateless_reset_token (server only).
    pub stateless_reset_token: Option<ResetToken>,
    /// max_udp_payload_size (>= 1200).
    pub max_udp_payload_size: u64,
    /// initial_max_data.
    pub initial_max_data: u64,
    /// initial_max_stream_data_bidi_local.
    pub initial_max_stream_data_bidi_local: u64,
    /// initial_max_stream_data_bidi_remote.
    pub initial_max_stream_data_bidi_remote: u64,
    /// initial_max_stream_data_uni.
    pub initial_max_stream_data_uni: u64,
    /// initial_max_streams_bidi (<= 2^60).
    pub initial_max_streams_bidi: u64,
    /// initial_max_streams_uni (<= 2^60).
    pub initial_max_streams_uni: u64,
    /// ack_delay_exponent (<= 20).
    pub ack_delay_exponent: u64,
    /// max_ack_delay in milliseconds (< 2^14).
    pub max_ack_delay: u64,
    /// disable_active_migration.
    pub disable_active_migration: bool,
    /// preferred_address (server only).
    pub preferred_address: Option<PreferredAddress>,
    /// active_connection_id_limit (>= 2).
    pub active_connection_id_limit: u64,
    /// initial_source_connection_id (required from both endpoints).
    pub initial_source_connection_id: Option<ConnectionId>,
    /// retry_source_connection_id (server only, after a Retry).
    pub retry_source_connection_id: Option<ConnectionId>,
    /// version_information (RFC 9368).
    pub version_information: Option<VersionInformation>,
    /// max_datagram_frame_size (RFC 9221); 0: DATAGRAM frames not supported.
    pub max_datagram_frame_size: u64,
    /// grease_quic_bit (RFC 9287): the sender accepts packets with a zero fixed bit.
    pub grease_quic_bit: bool,
    /// disable_1rtt_encryption (lxin/quic testing extension).
    pub disable_1rtt_encryption: bool,
}

impl Default for TransportParams {
    fn default() -> Self {
        Self {
            original_destination_connection_id: None,
            max_idle_timeout: 0,
            stateless_reset_token: None,
            max_udp_payload_size: 65527,
            initial_max_data: 0,
            initial_max_stream_data_bidi_local: 0,
            initial_max_stream_data_bidi_remote: 0,
            initial_max_stream_data_uni: 0,
            initial_max_streams_bidi: 0,
            initial_max_streams_uni: 0,
            ack_delay_exponent: 3,
            max_ack_delay: 25,
            disable_active_migration: false,
            preferred_address: None,
            active_connection_id_limit: 2,
            initial_source_connection_id: None,
            retry_source_connection_id: None,
            version_information: None,
            max_datagram_frame_size: 0,
            grease_quic_bit: false,
            disable_1rtt_encryption: false,
        }
    }
}

/// Tracks which known parameters were seen, to reject duplicates.
struct Seen(u32);

impl Seen {
    /// A bit for each known parameter ID, `None` for unknown ones.
    fn bit(id: u64) -> Option<u32> {
        Some(match id {
            0x00..=0x11 => id as u32,
            id::MAX_DATAGRAM_FRAME_SIZE => 18,
            id::GREASE_QUIC_BIT => 19,
            id::DISABLE_1RTT_ENCRYPTION => 20,
            _ => return None,
        })
    }

    /// Records `id`; false when it was already seen.
    fn insert(&mut self, bit: u32) -> bool {
        let mask = 1u32 << bit;
        let fresh = self.0 & mask == 0;
        self.0 |= mask;
        fresh
    }
}

fn int_param(v: &[u8]) -> Result<u64, Error> {
    match varint::decode(v) {
        Ok((x, n)) if n == v.len() => Ok(x),
        _ => Err(Error::transport_parameter("malformed integer parameter")),
    }
}

fn cid_param(v: &[u8]) -> Result<ConnectionId, Error> {
    ConnectionId::new(v).ok_or(Error::transport_parameter("connection ID longer than 20"))
}

fn empty_param(v: &[u8]) -> Result<bool, Error> {
    if v.is_empty() {
        Ok(true)
    } else {
        Err(Error::transport_parameter("flag parameter with a value"))
    }
}

impl TransportParams {
    /// The values kquic advertises by default (abi.md): max_idle_timeout 30 s, max_data
    /// 2 MiB, max_stream_data 256 KiB, 100 streams each way, active_connection_id_limit 7,
    /// others at their RFC defaults.
    pub fn kquic_defaults() -> Self {
        use quic_uapi::defaults as d;
        Self {
            max_idle_timeout: u64::from(d::MAX_IDLE_TIMEOUT) / 1000,
            max_udp_payload_size: u64::from(d::MAX_UDP_PAYLOAD_SIZE),
            initial_max_data: d::MAX_DATA,
            initial_max_stream_data_bidi_local: d::MAX_STREAM_DATA,
            initial_max_stream_data_bidi_remote: d::MAX_STREAM_DATA,
            initial_max_stream_data_uni: d::MAX_STREAM_DATA,
            initial_max_streams_bidi: u64::from(d::MAX_STREAMS),
            initial_max_streams_uni: u64::from(d::MAX_STREAMS),
            ack_delay_exponent: u64::from(d::ACK_DELAY_EXPONENT),
            max_ack_delay: u64::from(d::MAX_ACK_DELAY) / 1000,
            active_connection_id_limit: u64::from(d::ACTIVE_CONNECTION_ID_LIMIT),
            ..Self::default()
        }
    }

    /// Checks the value ranges of RFC 9000 §18.2 (and the extensions'), independent of who
    /// sends the parameters. Used by [`TransportParams::decode`] and [`TransportParams::encode`],
    /// and useful to vet parameters configured through the socket API.
    pub fn validate(&self) -> Result<(), Error> {
        let e = Error::transport_parameter;
        let ints = [
            self.max_idle_timeout,
            self.max_udp_payload_size,
            self.initial_max_data,
            self.initial_max_stream_data_bidi_local,
            self.initial_max_stream_data_bidi_remote,
            self.initial_max_stream_data_uni,
            self.max_datagram_frame_size,
            self.active_connection_id_limit,
        ];
        if ints.iter().any(|v| *v > varint::MAX) {
            return Err(e("integer parameter above 2^62-1"));
        }
        if self.max_udp_payload_size < MIN_UDP_PAYLOAD_SIZE {
            return Err(e("max_udp_payload_size below 1200"));
        }
        if self.ack_delay_exponent > MAX_ACK_DELAY_EXPONENT {
            return Err(e("ack_delay_exponent above 20"));
        }
        if self.max_ack_delay >= MAX_ACK_DELAY_LIMIT {
            return Err(e("max_ack_delay of 2^14 or more"));
        }
        if self.active_connection_id_limit < MIN_ACTIVE_CONNECTION_ID_LIMIT {
            return Err(e("active_connection_id_limit below 2"));
        }
        if self.initial_max_streams_bidi > MAX_STREAMS_LIMIT
            || self.initial_max_streams_uni > MAX_STREAMS_LIMIT
        {
            return Err(e("initial_max_streams above 2^60"));
        }
        if self.preferred_address.is_some_and(|p| p.cid.is_empty()) {
            return Err(e("preferred_address without a connection ID"));
        }
        if let Some(vi) = &self.version_information {
            if vi.chosen == 0 || vi.available().contains(&0) {
                return Err(e("version_information with version 0"));
            }
        }
        Ok(())
    }

    /// Checks which parameters `sender` may send: a client must not send the server-only
    /// ones, and both must send initial_source_connection_id, the server also
    /// original_destination_connection_id (RFC 9000 §7.3, §18.2).
    pub fn validate_for(&self, sender: Side) -> Result<(), Error> {
        let e = Error::transport_parameter;
        if sender == Side::Client
            && (self.original_destination_connection_id.is_some()
                || self.stateless_reset_token.is_some()
                || self.preferred_address.is_some()
                || self.retry_source_connection_id.is_some())
        {
            return Err(e("server-only transport parameter from a client"));
        }
        if self.initial_source_connection_id.is_none() {
            return Err(e("missing initial_source_connection_id"));
        }
        if sender == Side::Server && self.original_destination_connection_id.is_none() {
            return Err(e("missing original_destination_connection_id"));
        }
        Ok(())
    }

    /// Decodes the body of the quic_transport_parameters TLS extension sent by `sender`.
    /// Any violation is a TRANSPORT_PARAMETER_ERROR.
    pub fn decode(buf: &[u8], sender: Side) -> Result<Self, Error> {
        let trunc = |_| Error::transport_parameter("truncated transport parameters");
        let mut tp = Self::default();
        let mut seen = Seen(0);
        let mut r = Reader::new(buf);
        while !r.is_empty() {
            let pid = r.varint().map_err(trunc)?;
            let len = r.varint().map_err(trunc)?;
            let v = r.bytes_u64(len).map_err(trunc)?;
            let Some(bit) = Seen::bit(pid) else {
                continue; // Unknown or reserved: ignored (RFC 9000 §7.4.2).
            };
            if !seen.insert(bit) {
                return Err(Error::transport_parameter("duplicate transport parameter"));
            }
            tp.set(pid, v)?;
        }
        tp.validate()?;
        tp.validate_for(sender)?;
        Ok(tp)
    }

    /// Stores parameter `pid` with value bytes `v`.
    fn set(&mut self, pid: u64, v: &[u8]) -> Result<(), Error> {
        match pid {
            id::ORIGINAL_DESTINATION_CONNECTION_ID => {
                self.original_destination_connection_id = Some(cid_param(v)?)
            }
            id::MAX_IDLE_TIMEOUT => self.max_idle_timeout = int_param(v)?,
            id::STATELESS_RESET_TOKEN => {
                let token = ResetToken::try_from(v).map_err(|_| {
                    Error::transport_parameter("stateless_reset_token not 16 bytes")
                })?;
                self.stateless_reset_token = Some(token);
            }
            id::MAX_UDP_PAYLOAD_SIZE => self.max_udp_payload_size = int_param(v)?,
            id::INITIAL_MAX_DATA => self.initial_max_data = int_param(v)?,
            id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL => {
                self.initial_max_stream_data_bidi_local = int_param(v)?
            }
            id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE => {
                self.initial_max_stream_data_bidi_remote = int_param(v)?
            }
            id::INITIAL_MAX_STREAM_DATA_UNI => self.initial_max_stream_data_uni = int_param(v)?,
            id::INITIAL_MAX_STREAMS_BIDI => self.initial_max_streams_bidi = int_param(v)?,
            id::INITIAL_MAX_STREAMS_UNI => self.initial_max_streams_uni = int_param(v)?,
            id::ACK_DELAY_EXPONENT => self.ack_delay_exponent = int_param(v)?,
            id::MAX_ACK_DELAY => self.max_ack_delay = int_param(v)?,
            id::DISABLE_ACTIVE_MIGRATION => self.disable_active_migration = empty_param(v)?,
            id::PREFERRED_ADDRESS => self.preferred_address = Some(PreferredAddress::decode(v)?),
            id::ACTIVE_CONNECTION_ID_LIMIT => self.active_connection_id_limit = int_param(v)?,
            id::INITIAL_SOURCE_CONNECTION_ID => {
                self.initial_source_connection_id = Some(cid_param(v)?)
            }
            id::RETRY_SOURCE_CONNECTION_ID => self.retry_source_connection_id = Some(cid_param(v)?),
            id::VERSION_INFORMATION => {
                self.version_information = Some(VersionInformation::decode(v)?)
            }
            id::MAX_DATAGRAM_FRAME_SIZE => self.max_datagram_frame_size = int_param(v)?,
            id::GREASE_QUIC_BIT => self.grease_quic_bit = empty_param(v)?,
            id::DISABLE_1RTT_ENCRYPTION => self.disable_1rtt_encryption = empty_param(v)?,
            _ => {}
        }
        Ok(())
    }

    /// Encodes the parameters that `sender` sends: every parameter that is set and differs
    /// from its default, in ID order. Parameters that would fail [`TransportParams::validate`]
    /// or [`TransportParams::validate_for`] are refused with [`CodecError::InvalidValue`].
    /// On error nothing is written.
    pub fn encode(&self, w: &mut Writer<'_>, sender: Side) -> Result<(), CodecError> {
        if self.validate().is_err() || self.validate_for(sender).is_err() {
            return Err(CodecError::InvalidValue);
        }
        let start = w.position();
        let res = self.encode_unchecked(w);
        if res.is_err() {
            w.rewind(start);
        }
        res
    }

    /// Size of [`TransportParams::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let mut n = 0usize;
        self.for_each_param(|pid, value| {
            let len = value.len();
            n = n
                .saturating_add(varint::size(pid))
                .saturating_add(varint::size(len as u64))
                .saturating_add(len);
        });
        n
    }

    fn encode_unchecked(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let mut res = Ok(());
        self.for_each_param(|pid, value| {
            if res.is_ok() {
                res = write_param(w, pid, value);
            }
        });
        res
    }

    /// Calls `f` with each parameter to send, in ID order.
    fn for_each_param(&self, mut f: impl FnMut(u64, ParamValue<'_>)) {
        let d = Self::default();
        let int = |f: &mut dyn FnMut(u64, ParamValue<'_>), pid, v: u64, default: u64| {
            if v != default {
                f(pid, ParamValue::Int(v));
            }
        };
        if let Some(c) = &self.original_destination_connection_id {
            f(id::ORIGINAL_DESTINATION_CONNECTION_ID, ParamValue::Bytes(c));
        }
        int(
            &mut f,
            id::MAX_IDLE_TIMEOUT,
            self.max_idle_timeout,
            d.max_idle_timeout,
        );
        if let Some(t) = &self.stateless_reset_token {
            f(id::STATELESS_RESET_TOKEN, ParamValue::Bytes(t));
        }
        int(
            &mut f,
            id::MAX_UDP_PAYLOAD_SIZE,
            self.max_udp_payload_size,
            d.max_udp_payload_size,
        );
        int(&mut f, id::INITIAL_MAX_DATA, self.initial_max_data, 0);
        int(
            &mut f,
            id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
            self.initial_max_stream_data_bidi_local,
            0,
        );
        int(
            &mut f,
            id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
            self.initial_max_stream_data_bidi_remote,
            0,
        );
        int(
            &mut f,
            id::INITIAL_MAX_STREAM_DATA_UNI,
            self.initial_max_stream_data_uni,
            0,
        );
        int(
            &mut f,
            id::INITIAL_MAX_STREAMS_BIDI,
            self.initial_max_streams_bidi,
            0,
        );
        int(
            &mut f,
            id::INITIAL_MAX_STREAMS_UNI,
            self.initial_max_streams_uni,
            0,
        );
        int(
            &mut f,
            id::ACK_DELAY_EXPONENT,
            self.ack_delay_exponent,
            d.ack_delay_exponent,
        );
        int(
            &mut f,
            id::MAX_ACK_DELAY,
            self.max_ack_delay,
            d.max_ack_delay,
        );
        if self.disable_active_migration {
            f(id::DISABLE_ACTIVE_MIGRATION, ParamValue::Bytes(&[]));
        }
        if let Some(p) = &self.preferred_address {
            f(id::PREFERRED_ADDRESS, ParamValue::PreferredAddress(p));
        }
        int(
            &mut f,
            id::ACTIVE_CONNECTION_ID_LIMIT,
            self.active_connection_id_limit,
            d.active_connection_id_limit,
        );
        if let Some(c) = &self.initial_source_connection_id {
            f(id::INITIAL_SOURCE_CONNECTION_ID, ParamValue::Bytes(c));
        }
        if let Some(c) = &self.retry_source_connection_id {
            f(id::RETRY_SOURCE_CONNECTION_ID, ParamValue::Bytes(c));
        }
        if let Some(vi) = &self.version_information {
            f(id::VERSION_INFORMATION, ParamValue::Versions(vi));
        }
        int(
            &mut f,
            id::MAX_DATAGRAM_FRAME_SIZE,
            self.max_datagram_frame_size,
            0,
        );
        if self.grease_quic_bit {
            f(id::GREASE_QUIC_BIT, ParamValue::Bytes(&[]));
        }
        if self.disable_1rtt_encryption {
            f(id::DISABLE_1RTT_ENCRYPTION, ParamValue::Bytes(&[]));
        }
    }
}

/// The value of one parameter to encode.
#[derive(Clone, Copy)]
enum ParamValue<'a> {
    Int(u64),
    Bytes(&'a [u8]),
    PreferredAddress(&'a PreferredAddress),
    Versions(&'a VersionInformation),
}

impl ParamValue<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Int(v) => varint::size(*v),
            Self::Bytes(b) => b.len(),
            Self::PreferredAddress(p) => p.encoded_len(),
            Self::Versions(v) => v.encoded_len(),
        }
    }
}

fn write_param(w: &mut Writer<'_>, pid: u64, value: ParamValue<'_>) -> Result<(), CodecError> {
    w.varint(pid)?;
    w.varint(value.len() as u64)?;
    match value {
        ParamValue::Int(v) => w.varint(v),
        ParamValue::Bytes(b) => w.bytes(b),
        ParamValue::PreferredAddress(p) => p.encode(w),
        ParamValue::Versions(v) => v.encode(w),
    }
}

/// Writes a reserved parameter `31 * n + 27` with `value`, to grease the peer's handling of
/// unknown parameters (RFC 9000 §18.1). On error nothing is written.
pub fn write_reserved_param(w: &mut Writer<'_>, n: u64, value: &[u8]) -> Result<(), CodecError> {
    let pid = n
        .checked_mul(31)
        .and_then(|v| v.checked_add(27))
        .ok_or(CodecError::ValueTooLarge)?;
    let start = w.position();
    let res = w
        .varint(pid)
        .and_then(|()| w.varint(value.len() as u64))
        .and_then(|()| w.bytes(value));
    if res.is_err() {
        w.rewind(start);
    }
    res
}

#[cfg(test)]
mod tests;
