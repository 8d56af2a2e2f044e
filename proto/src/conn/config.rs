//! Connection settings: what the socket API configures (`QUIC_SOCKOPT_CONFIG`,
//! `QUIC_SOCKOPT_TRANSPORT_PARAM`) plus the endpoint's keys and local resource bounds.

use crate::crypto::zeroize::zeroize;
use crate::packet::{VERSION_1, VERSION_2};
use crate::recovery::cc::Algorithm;
use crate::recovery::received::DEFAULT_ACK_ELICITING_THRESHOLD;
use crate::stream::StreamsConfig;
use crate::transport_params::TransportParams;

/// Most versions a [`VersionList`] holds.
pub const MAX_VERSIONS: usize = 4;

/// QUIC versions in preference order (most preferred first), stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionList {
    list: [u32; MAX_VERSIONS],
    len: u8,
}

impl VersionList {
    /// A list of up to [`MAX_VERSIONS`] non-zero versions; `None` otherwise.
    pub fn new(versions: &[u32]) -> Option<Self> {
        if versions.is_empty() || versions.len() > MAX_VERSIONS || versions.contains(&0) {
            return None;
        }
        let mut list = [0u32; MAX_VERSIONS];
        list.get_mut(..versions.len())?.copy_from_slice(versions);
        Some(Self {
            list,
            len: versions.len() as u8,
        })
    }

    /// The versions, most preferred first.
    pub fn as_slice(&self) -> &[u32] {
        self.list.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// True when `v` is in the list.
    pub fn contains(&self, v: u32) -> bool {
        self.as_slice().contains(&v)
    }
}

impl Default for VersionList {
    fn default() -> Self {
        Self {
            list: [VERSION_1, VERSION_2, 0, 0],
            len: 2,
        }
    }
}

/// A 32-byte secret key, wiped on drop.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Key32(pub [u8; 32]);

impl Drop for Key32 {
    fn drop(&mut self) {
        zeroize(&mut self.0);
    }
}

impl core::fmt::Debug for Key32 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key32(..)")
    }
}

/// Settings of a connection (and of the endpoint that accepts server connections).
///
/// Times are microseconds, sizes bytes.
#[derive(Debug, Clone)]
pub struct Config {
    /// The version a client starts with (`QUIC_CONFIG.version`).
    pub version: u32,
    /// Versions this endpoint supports, most preferred first. A client lists them in the
    /// version_information transport parameter; a server switches a client to the first
    /// compatible one the client also supports (RFC 9368).
    pub versions: VersionList,
    /// Do not take part in compatible version negotiation (no version_information sent).
    pub disable_compatible_version: bool,
    /// Our transport parameters. The connection IDs, stateless_reset_token and
    /// version_information are filled in by the connection.
    pub transport_params: TransportParams,
    /// Initial RTT estimate (0: RFC 9002's 333 ms).
    pub initial_rtt: u64,
    /// Congestion control algorithm.
    pub congestion: Algorithm,
    /// Use HyStart++ in slow start.
    pub hystart: bool,
    /// Pace packets (RFC 9002 §7.7).
    pub pacing: bool,
    /// Server: answer Initials without a valid token with a Retry.
    pub validate_peer_address: bool,
    /// Send a PING after this long without sending anything ack-eliciting (0: off).
    pub keepalive_interval: u64,
    /// DPLPMTUD (RFC 8899): probe for a larger datagram size every interval (0: off).
    pub plpmtud_probe_interval: u64,
    /// The datagram size to start with (at least 1200).
    pub max_datagram_size: u64,
    /// The largest datagram size DPLPMTUD probes for.
    pub max_probe_size: u64,
    /// Ack-eliciting packets received before an ACK is sent at once (1-RTT).
    pub ack_eliciting_threshold: u32,
    /// `QUIC_CONFIG.stream_data_nodelay`: send stream data as soon as it is written. Off (the
    /// default, as in the socket API) is Nagle's rule: while 1-RTT packets are in flight,
    /// new stream data waits until a full packet's worth is queued, unless a FIN or a
    /// retransmission goes with it.
    pub stream_data_nodelay: bool,
    /// Length of the connection IDs this endpoint issues (0 to 20; 0 only when the endpoint
    /// never needs to route by connection ID).
    pub cid_len: usize,
    /// Key of the stateless reset tokens for the connection IDs we issue (RFC 9000 §10.3.2).
    pub reset_key: Key32,
    /// Key that authenticates Retry and NEW_TOKEN tokens.
    pub token_key: Key32,
    /// Server: send a NEW_TOKEN frame once the handshake is confirmed.
    pub new_token_on_confirm: bool,
    /// How long a Retry token is accepted.
    pub retry_token_lifetime: u64,
    /// How long a NEW_TOKEN token is accepted.
    pub new_token_lifetime: u64,
    /// Bytes of stream data the application may have unacknowledged, over all streams.
    pub send_buffer: u64,
    /// Largest connection receive window auto-tuning may reach.
    pub max_conn_window: u64,
    /// Largest stream receive window auto-tuning may reach.
    pub max_stream_window: u64,
    /// Received DATAGRAM frames kept for the application before the oldest is dropped.
    pub datagram_recv_queue: usize,
    /// DATAGRAM frames queued for sending before `datagram_send` refuses more.
    pub datagram_send_queue: usize,
    /// Largest number of connection IDs we keep issued to the peer.
    pub max_local_cids: u64,
    /// Mark packets ECT(0) (RFC 9000 §13.4); marking stops on a path where validation fails.
    pub ecn: bool,
    /// Most datagrams [`super::Connection::poll_transmit`] may put in one buffer for UDP GSO
    /// (1: no batching).
    pub max_segments: usize,
    /// Server: the address to advertise in the preferred_address transport parameter (the
    /// connection ID and token in it are made by the connection; the `preferred_address` of
    /// `transport_params` is ignored).
    pub preferred_address: Option<super::Addr>,
}

impl Config {
    /// kquic's defaults: QUIC v1 (v2 compatible), the ABI's transport parameter defaults,
    /// CUBIC with pacing, 8-byte connection IDs, DPLPMTUD and keepalive off. The two keys are
    /// zero: set them (randomly) before use.
    pub fn new() -> Self {
        Self {
            version: VERSION_1,
            versions: VersionList::default(),
            disable_compatible_version: false,
            transport_params: TransportParams::kquic_defaults(),
            initial_rtt: 0,
            congestion: Algorithm::Cubic,
            hystart: false,
            pacing: true,
            validate_peer_address: false,
            keepalive_interval: 0,
            plpmtud_probe_interval: 0,
            max_datagram_size: 1200,
            max_probe_size: 1452,
            ack_eliciting_threshold: DEFAULT_ACK_ELICITING_THRESHOLD,
            stream_data_nodelay: false,
            cid_len: 8,
            reset_key: Key32::default(),
            token_key: Key32::default(),
            new_token_on_confirm: true,
            retry_token_lifetime: 10_000_000,
            new_token_lifetime: 24 * 3600 * 1_000_000,
            send_buffer: StreamsConfig::DEFAULT.send_buffer,
            max_conn_window: StreamsConfig::DEFAULT.max_conn_window,
            max_stream_window: StreamsConfig::DEFAULT.max_stream_window,
            datagram_recv_queue: 64,
            datagram_send_queue: 64,
            max_local_cids: 8,
            ecn: true,
            max_segments: 1,
            preferred_address: None,
        }
    }

    /// The stream layer's configuration from our transport parameters and buffers.
    pub(crate) fn streams_config(&self) -> StreamsConfig {
        let tp = &self.transport_params;
        StreamsConfig {
            max_streams_bidi: tp.initial_max_streams_bidi,
            max_streams_uni: tp.initial_max_streams_uni,
            max_data: tp.initial_max_data,
            max_stream_data_bidi_local: tp.initial_max_stream_data_bidi_local,
            max_stream_data_bidi_remote: tp.initial_max_stream_data_bidi_remote,
            max_stream_data_uni: tp.initial_max_stream_data_uni,
            max_conn_window: self.max_conn_window,
            max_stream_window: self.max_stream_window,
            send_buffer: self.send_buffer,
            ..StreamsConfig::DEFAULT
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
