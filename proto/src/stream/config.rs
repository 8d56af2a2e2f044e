//! Stream and flow-control limits: ours (what we advertise in our transport parameters, plus
//! local resource bounds) and the peer's.

use super::recv::DEFAULT_MAX_RANGES;

/// Our side of the stream and flow-control limits (our transport parameters, RFC 9000 §18.2),
/// plus local resource bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    /// initial_max_streams_bidi: concurrent bidirectional streams the peer may open.
    pub max_streams_bidi: u64,
    /// initial_max_streams_uni: concurrent unidirectional streams the peer may open.
    pub max_streams_uni: u64,
    /// initial_max_data: the initial connection receive window.
    pub max_data: u64,
    /// initial_max_stream_data_bidi_local: receive window of bidirectional streams we open.
    pub max_stream_data_bidi_local: u64,
    /// initial_max_stream_data_bidi_remote: receive window of bidirectional streams the peer
    /// opens.
    pub max_stream_data_bidi_remote: u64,
    /// initial_max_stream_data_uni: receive window of unidirectional streams the peer opens.
    pub max_stream_data_uni: u64,
    /// The largest connection receive window auto-tuning may reach.
    pub max_conn_window: u64,
    /// The largest stream receive window auto-tuning may reach.
    pub max_stream_window: u64,
    /// Bytes the application may have written and not yet had acknowledged, over all streams.
    pub send_buffer: u64,
    /// Cap on the separate ranges one stream's reassembly keeps.
    pub max_ranges: usize,
    /// Cap on the ranges all streams' reassembly keeps together (16 bytes each).
    pub max_total_ranges: usize,
}

impl StreamsConfig {
    /// The ABI defaults: 100 streams of each type, a 2 MiB connection window and 256 KiB stream
    /// windows, which auto-tuning may grow to 16 MiB and 6 MiB; a 4 MiB send buffer; at most
    /// 1024 reassembly ranges per stream and 16384 per connection.
    pub const DEFAULT: Self = Self {
        max_streams_bidi: 100,
        max_streams_uni: 100,
        max_data: 65536 * 32,
        max_stream_data_bidi_local: 65536 * 4,
        max_stream_data_bidi_remote: 65536 * 4,
        max_stream_data_uni: 65536 * 4,
        max_conn_window: 16 << 20,
        max_stream_window: 6 << 20,
        send_buffer: 4 << 20,
        max_ranges: DEFAULT_MAX_RANGES,
        max_total_ranges: 16 * DEFAULT_MAX_RANGES,
    };
}

impl Default for StreamsConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The peer's limits on what we send: its transport parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerLimits {
    /// initial_max_streams_bidi: bidirectional streams we may open.
    pub max_streams_bidi: u64,
    /// initial_max_streams_uni: unidirectional streams we may open.
    pub max_streams_uni: u64,
    /// initial_max_data: connection credit.
    pub max_data: u64,
    /// initial_max_stream_data_bidi_local: our credit on bidirectional streams the peer opens.
    pub max_stream_data_bidi_local: u64,
    /// initial_max_stream_data_bidi_remote: our credit on bidirectional streams we open.
    pub max_stream_data_bidi_remote: u64,
    /// initial_max_stream_data_uni: our credit on unidirectional streams we open.
    pub max_stream_data_uni: u64,
}
