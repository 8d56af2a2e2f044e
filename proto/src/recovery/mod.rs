//! Loss recovery and congestion control (RFC 9002, RFC 9438).
//!
//! Standalone building blocks that the connection engine drives; none of them reads a clock.
//! Every time is a `u64` count of microseconds chosen by the caller (only differences matter),
//! every size is in bytes.
//!
//! - [`rtt`]: the RTT estimator and the PTO / loss-delay durations derived from it;
//! - [`ack_ranges`] and [`received`]: what we received, per packet number space, and when to
//!   send an ACK frame for it;
//! - [`sent`] and [`loss`]: what we sent, ACK processing, loss detection, the loss/PTO timer and
//!   persistent congestion ([`persistent`]);
//! - [`ecn`]: ECN codepoints, counts and the ACK-frame validation check;
//! - [`cc`]: the congestion controllers (NewReno and CUBIC) behind one trait;
//! - [`pacer`]: a token-bucket pacer.

pub mod ack_ranges;
pub mod cc;
pub mod ecn;
pub mod loss;
mod math;
pub mod pacer;
pub mod persistent;
pub mod received;
pub mod rtt;
pub mod sent;

/// Timer granularity, `kGranularity` of RFC 9002 §6.1.2: 1 ms.
pub const GRANULARITY: u64 = 1_000;

/// A packet number space (RFC 9000 §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// Initial packets.
    Initial = 0,
    /// Handshake packets.
    Handshake = 1,
    /// 0-RTT and 1-RTT packets.
    Application = 2,
}

impl Space {
    /// The three spaces in the order RFC 9002 examines them.
    pub const ALL: [Space; 3] = [Space::Initial, Space::Handshake, Space::Application];

    /// The space's index, `0..3`.
    pub const fn index(self) -> usize {
        self as usize
    }
}
