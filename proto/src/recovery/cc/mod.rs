//! Congestion control (RFC 9002 §7, RFC 9438, RFC 9406).
//!
//! [`CongestionControl`] is what loss detection and the engine call; [`Controller`] is the
//! per-connection choice between [`Reno`] and [`Cubic`] (static dispatch). Both share the
//! window bookkeeping of [`window::Window`]: bytes in flight, the recovery period, slow start
//! (optionally with HyStart++) and the application-limited hint.

pub mod cubic;
pub mod hystart;
pub mod reno;
pub mod window;

pub use cubic::Cubic;
pub use reno::Reno;

use super::rtt::RttEstimator;

/// Smallest maximum datagram size QUIC allows (RFC 9000 §14).
pub const MIN_MAX_DATAGRAM_SIZE: u64 = 1200;
/// Largest UDP payload (RFC 9000 §18.2).
pub const MAX_MAX_DATAGRAM_SIZE: u64 = 65_527;

/// The initial window of RFC 9002 §7.2: `min(10 * mds, max(14720, 2 * mds))`.
pub fn initial_window(max_datagram_size: u64) -> u64 {
    let mds = clamp_mds(max_datagram_size);
    (10 * mds).min((2 * mds).max(14_720))
}

/// The minimum window of RFC 9002 §7.2: `2 * mds`.
pub fn minimum_window(max_datagram_size: u64) -> u64 {
    2 * clamp_mds(max_datagram_size)
}

pub(crate) fn clamp_mds(mds: u64) -> u64 {
    mds.clamp(MIN_MAX_DATAGRAM_SIZE, MAX_MAX_DATAGRAM_SIZE)
}

/// The congestion control algorithm, numbered as in the socket ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// NewReno, `QUIC_CONG_ALG_RENO` (0).
    Reno = 0,
    /// CUBIC, `QUIC_CONG_ALG_CUBIC` (1).
    #[default]
    Cubic = 1,
}

impl Algorithm {
    /// The algorithm with ABI number `v`.
    pub const fn from_raw(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Reno),
            1 => Some(Self::Cubic),
            _ => None,
        }
    }
}

/// Settings shared by the controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcConfig {
    /// Maximum datagram size in bytes (clamped to `1200..=65527`).
    pub max_datagram_size: u64,
    /// Initial window in bytes; `None` for RFC 9002's default.
    pub initial_window: Option<u64>,
    /// Use HyStart++ (RFC 9406) to leave slow start before losses.
    pub hystart: bool,
}

impl Default for CcConfig {
    fn default() -> Self {
        Self {
            max_datagram_size: MIN_MAX_DATAGRAM_SIZE,
            initial_window: None,
            hystart: false,
        }
    }
}

/// A congestion controller, driven by loss detection and the engine. All byte counts refer
/// to in-flight packets only (RFC 9002 §2); times are microseconds.
pub trait CongestionControl {
    /// An in-flight packet of `bytes` was sent at `now`.
    fn on_packet_sent(&mut self, now: u64, bytes: u64);
    /// An in-flight packet sent at `sent_time` was acknowledged at `now`: it leaves the
    /// flight and may grow the window.
    fn on_packet_acked(&mut self, now: u64, sent_time: u64, bytes: u64, rtt: &RttEstimator);
    /// An in-flight packet was declared lost; it leaves the flight. The window reaction is
    /// [`Self::on_congestion_event`], called once per loss-detection pass.
    fn on_packet_lost(&mut self, bytes: u64);
    /// An in-flight packet was forgotten without being lost (its space was discarded).
    fn on_packet_discarded(&mut self, bytes: u64);
    /// A loss or ECN-CE signal about a packet sent at `sent_time` (RFC 9002 §7.3.2); ignored
    /// while a recovery period that began after that packet was sent is running.
    fn on_congestion_event(&mut self, now: u64, sent_time: u64);
    /// Persistent congestion was established (RFC 9002 §7.6): collapse to the minimum window.
    fn on_persistent_congestion(&mut self, now: u64);
    /// A new RTT sample was taken (used by HyStart++).
    fn on_rtt_sample(&mut self, now: u64, rtt: &RttEstimator);
    /// The engine ran out of data to send (true) or is filling the window again (false);
    /// the window does not grow while it is not used (RFC 9002 §7.8).
    fn set_app_limited(&mut self, app_limited: bool);
    /// The path's maximum datagram size changed (PMTU discovery).
    fn set_max_datagram_size(&mut self, max_datagram_size: u64);
    /// The congestion window in bytes.
    fn window(&self) -> u64;
    /// Bytes in flight.
    fn bytes_in_flight(&self) -> u64;
    /// The slow start threshold (`u64::MAX` before the first congestion event).
    fn ssthresh(&self) -> u64;
    /// Bytes that may be sent now: the window minus bytes in flight.
    fn available(&self) -> u64 {
        self.window().saturating_sub(self.bytes_in_flight())
    }
}

/// The controller of one connection.
#[derive(Debug, Clone)]
pub enum Controller {
    /// NewReno.
    Reno(Reno),
    /// CUBIC.
    Cubic(Cubic),
}

impl Controller {
    /// A controller running `alg`.
    pub fn new(alg: Algorithm, cfg: CcConfig) -> Self {
        match alg {
            Algorithm::Reno => Self::Reno(Reno::new(cfg)),
            Algorithm::Cubic => Self::Cubic(Cubic::new(cfg)),
        }
    }

    /// Which algorithm runs.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Reno(_) => Algorithm::Reno,
            Self::Cubic(_) => Algorithm::Cubic,
        }
    }
}

/// Calls the same method on whichever controller runs (static dispatch).
macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Controller::Reno($c) => $e,
            Controller::Cubic($c) => $e,
        }
    };
}

impl CongestionControl for Controller {
    fn on_packet_sent(&mut self, now: u64, bytes: u64) {
        each!(self, c => c.on_packet_sent(now, bytes))
    }
    fn on_packet_acked(&mut self, now: u64, sent_time: u64, bytes: u64, rtt: &RttEstimator) {
        each!(self, c => c.on_packet_acked(now, sent_time, bytes, rtt))
    }
    fn on_packet_lost(&mut self, bytes: u64) {
        each!(self, c => c.on_packet_lost(bytes))
    }
    fn on_packet_discarded(&mut self, bytes: u64) {
        each!(self, c => c.on_packet_discarded(bytes))
    }
    fn on_congestion_event(&mut self, now: u64, sent_time: u64) {
        each!(self, c => c.on_congestion_event(now, sent_time))
    }
    fn on_persistent_congestion(&mut self, now: u64) {
        each!(self, c => c.on_persistent_congestion(now))
    }
    fn on_rtt_sample(&mut self, now: u64, rtt: &RttEstimator) {
        each!(self, c => c.on_rtt_sample(now, rtt))
    }
    fn set_app_limited(&mut self, app_limited: bool) {
        each!(self, c => c.set_app_limited(app_limited))
    }
    fn set_max_datagram_size(&mut self, max_datagram_size: u64) {
        each!(self, c => c.set_max_datagram_size(max_datagram_size))
    }
    fn window(&self) -> u64 {
        each!(self, c => c.window())
    }
    fn bytes_in_flight(&self) -> u64 {
        each!(self, c => c.bytes_in_flight())
    }
    fn ssthresh(&self) -> u64 {
        each!(self, c => c.ssthresh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_per_rfc() {
        assert_eq!(initial_window(1200), 12_000);
        assert_eq!(initial_window(1472), 14_720);
        assert_eq!(initial_window(1500), 14_720);
        assert_eq!(initial_window(9000), 18_000);
        assert_eq!(initial_window(0), 12_000);
        assert_eq!(minimum_window(1500), 3000);
    }

    #[test]
    fn abi_numbers() {
        assert_eq!(Algorithm::from_raw(0), Some(Algorithm::Reno));
        assert_eq!(Algorithm::from_raw(1), Some(Algorithm::Cubic));
        assert_eq!(Algorithm::from_raw(2), None);
        assert_eq!(Algorithm::Cubic as u32, 1);
        let c = Controller::new(Algorithm::Reno, CcConfig::default());
        assert_eq!(c.algorithm(), Algorithm::Reno);
        assert_eq!(c.window(), 12_000);
    }
}
