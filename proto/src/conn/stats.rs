//! Connection statistics.

use crate::crypto::Crypto;
use crate::recovery::cc::CongestionControl;

use super::Connection;

/// Counters and current path estimates of a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Packets sent.
    pub packets_sent: u64,
    /// Bytes of packets sent (UDP payload).
    pub bytes_sent: u64,
    /// Packets received and processed.
    pub packets_received: u64,
    /// Bytes of datagrams received.
    pub bytes_received: u64,
    /// Packets dropped: undecryptable, duplicate, or not for this connection.
    pub packets_dropped: u64,
    /// Packets declared lost.
    pub packets_lost: u64,
    /// Bytes of packets declared lost.
    pub bytes_lost: u64,
    /// Times persistent congestion was established.
    pub persistent_congestion: u64,
    /// Key updates completed.
    pub key_updates: u64,
    /// ACKs that reported new ECN-CE marks (congestion signals).
    pub ecn_ce: u64,
    /// Smoothed RTT (µs).
    pub rtt: u64,
    /// Minimum RTT (µs).
    pub min_rtt: u64,
    /// RTT variation (µs).
    pub rtt_var: u64,
    /// Latest RTT sample (µs).
    pub latest_rtt: u64,
    /// Congestion window (bytes).
    pub cwnd: u64,
    /// Slow start threshold (bytes; `u64::MAX` before the first congestion event).
    pub ssthresh: u64,
    /// Bytes in flight.
    pub bytes_in_flight: u64,
    /// Consecutive PTO expirations.
    pub pto_count: u32,
    /// Current maximum datagram size of the active path.
    pub max_datagram_size: u64,
}

impl<C: Crypto> Connection<C> {
    pub(crate) fn current_stats(&self) -> Stats {
        let rtt = self.loss.rtt();
        Stats {
            rtt: rtt.smoothed(),
            min_rtt: rtt.min(),
            rtt_var: rtt.var(),
            latest_rtt: rtt.latest(),
            cwnd: self.cc.window(),
            ssthresh: self.cc.ssthresh(),
            bytes_in_flight: self.loss.bytes_in_flight(),
            pto_count: self.loss.pto_count(),
            max_datagram_size: self.paths.active.mtu,
            key_updates: self.keys.app.updates,
            ..self.stats
        }
    }
}
