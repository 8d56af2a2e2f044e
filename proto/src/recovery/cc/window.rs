//! Window bookkeeping shared by the controllers: bytes in flight, the recovery period
//! (RFC 9002 §7.3.2), slow start with optional HyStart++, and the app-limited hint.

use super::hystart::{HyStart, Verdict};
use super::{clamp_mds, initial_window, minimum_window, CcConfig, CongestionControl};
use crate::recovery::rtt::RttEstimator;

/// What a window-based algorithm adds to [`Window`]: how the window grows on acknowledgments
/// and how it shrinks on a congestion event. Every such algorithm gets the whole
/// [`CongestionControl`] interface from this (the bookkeeping of the flight, the recovery
/// period, persistent congestion, HyStart++ samples and the maximum datagram size live in
/// [`Window`] and are the same for all).
pub trait WindowAlgorithm {
    /// The shared window state.
    fn window_state(&self) -> &Window;
    /// The shared window state, mutably.
    fn window_state_mut(&mut self) -> &mut Window;
    /// `bytes` of a packet sent at `sent_time` were acknowledged at `now` and already left
    /// the flight: grow the window as the algorithm does.
    fn grow(&mut self, now: u64, sent_time: u64, bytes: u64, rtt: &RttEstimator);
    /// A congestion event started a recovery period: reduce the window.
    fn reduce(&mut self);
    /// The window collapsed after persistent congestion: reset the algorithm's own state.
    fn restart(&mut self);
}

impl<A: WindowAlgorithm> CongestionControl for A {
    fn on_packet_sent(&mut self, now: u64, bytes: u64) {
        self.window_state_mut().on_sent(now, bytes);
    }

    fn on_packet_acked(&mut self, now: u64, sent_time: u64, bytes: u64, rtt: &RttEstimator) {
        self.window_state_mut().on_removed(bytes);
        self.grow(now, sent_time, bytes, rtt);
    }

    fn on_packet_lost(&mut self, bytes: u64) {
        self.window_state_mut().on_removed(bytes);
    }

    fn on_packet_discarded(&mut self, bytes: u64) {
        self.window_state_mut().on_removed(bytes);
    }

    fn on_congestion_event(&mut self, now: u64, sent_time: u64) {
        let w = self.window_state_mut();
        if w.in_recovery(sent_time) {
            return;
        }
        w.enter_recovery(now);
        self.reduce();
    }

    fn on_persistent_congestion(&mut self, _now: u64) {
        self.window_state_mut().collapse();
        self.restart();
    }

    fn on_rtt_sample(&mut self, _now: u64, rtt: &RttEstimator) {
        self.window_state_mut().on_rtt_sample(rtt.latest());
    }

    fn set_app_limited(&mut self, app_limited: bool) {
        self.window_state_mut().app_limited = app_limited;
    }

    fn set_max_datagram_size(&mut self, max_datagram_size: u64) {
        self.window_state_mut().set_mds(max_datagram_size);
    }

    fn window(&self) -> u64 {
        self.window_state().cwnd
    }

    fn bytes_in_flight(&self) -> u64 {
        self.window_state().in_flight
    }

    fn ssthresh(&self) -> u64 {
        self.window_state().ssthresh
    }
}

/// State common to every controller.
#[derive(Debug, Clone)]
pub struct Window {
    /// Maximum datagram size.
    pub mds: u64,
    /// Congestion window.
    pub cwnd: u64,
    /// Slow start threshold.
    pub ssthresh: u64,
    /// Bytes in flight.
    pub in_flight: u64,
    /// When the current recovery period began.
    pub recovery_start: Option<u64>,
    /// The engine reported it has nothing more to send.
    pub app_limited: bool,
    /// When the last in-flight packet was sent.
    pub last_sent: u64,
    hystart: Option<HyStart>,
    use_hystart: bool,
}

impl Window {
    /// A window in slow start.
    pub fn new(cfg: CcConfig) -> Self {
        let mds = clamp_mds(cfg.max_datagram_size);
        let cwnd = cfg
            .initial_window
            .unwrap_or_else(|| initial_window(mds))
            .max(minimum_window(mds));
        Self {
            mds,
            cwnd,
            ssthresh: u64::MAX,
            in_flight: 0,
            recovery_start: None,
            app_limited: false,
            last_sent: 0,
            hystart: cfg.hystart.then(HyStart::new),
            use_hystart: cfg.hystart,
        }
    }

    /// `kMinimumWindow`.
    pub fn min_window(&self) -> u64 {
        2 * self.mds
    }

    /// True while the window is below the slow start threshold.
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// True when a packet sent at `sent_time` was sent before the current recovery began.
    pub fn in_recovery(&self, sent_time: u64) -> bool {
        self.recovery_start.is_some_and(|start| sent_time <= start)
    }

    /// Records an in-flight packet sent.
    pub fn on_sent(&mut self, now: u64, bytes: u64) {
        self.in_flight = self.in_flight.saturating_add(bytes);
        self.last_sent = self.last_sent.max(now);
    }

    /// Removes bytes from flight (acked, lost or discarded).
    pub fn on_removed(&mut self, bytes: u64) {
        self.in_flight = self.in_flight.saturating_sub(bytes);
    }

    /// True when an acknowledgment of a packet sent at `sent_time` may grow the window.
    pub fn may_grow(&self, sent_time: u64) -> bool {
        !self.app_limited && !self.in_recovery(sent_time)
    }

    /// Slow start growth for `bytes` acknowledged of a packet sent at `sent_time`
    /// (RFC 9002 §7.3.1, RFC 9406); never beyond `ssthresh`'s crossing by more than the
    /// acknowledged bytes. Returns true when HyStart++ ended slow start.
    pub fn slow_start(&mut self, sent_time: u64, bytes: u64) -> bool {
        let grow = match self.hystart.as_mut() {
            None => bytes,
            Some(h) => match h.on_ack(sent_time, bytes, self.last_sent) {
                Verdict::Grow(b) => b,
                Verdict::Exit => {
                    self.ssthresh = self.cwnd;
                    self.hystart = None;
                    return true;
                }
            },
        };
        self.cwnd = self.cwnd.saturating_add(grow);
        false
    }

    /// Feeds HyStart++ an RTT sample while in slow start.
    pub fn on_rtt_sample(&mut self, latest_rtt: u64) {
        if self.in_slow_start() {
            if let Some(h) = self.hystart.as_mut() {
                h.on_rtt_sample(latest_rtt);
            }
        }
    }

    /// Starts a recovery period at `now` (HyStart++ is done once a loss was seen).
    pub fn enter_recovery(&mut self, now: u64) {
        self.recovery_start = Some(now);
        self.hystart = None;
    }

    /// Persistent congestion: minimum window, no recovery period, slow start again
    /// (with a fresh HyStart++ if enabled).
    pub fn collapse(&mut self) {
        self.cwnd = self.min_window();
        self.recovery_start = None;
        if self.use_hystart {
            self.hystart = Some(HyStart::new());
        }
    }

    /// A new maximum datagram size; the window never drops below the new minimum.
    pub fn set_mds(&mut self, mds: u64) {
        self.mds = clamp_mds(mds);
        self.cwnd = self.cwnd.max(self.min_window());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_period_covers_earlier_sends() {
        let mut w = Window::new(CcConfig::default());
        assert!(!w.in_recovery(0));
        w.enter_recovery(100);
        assert!(w.in_recovery(100) && w.in_recovery(5) && !w.in_recovery(101));
        assert!(!w.may_grow(50) && w.may_grow(150));
        w.app_limited = true;
        assert!(!w.may_grow(150));
    }

    #[test]
    fn flight_accounting_saturates() {
        let mut w = Window::new(CcConfig::default());
        w.on_sent(1, 1000);
        w.on_removed(400);
        assert_eq!(w.in_flight, 600);
        w.on_removed(10_000);
        assert_eq!(w.in_flight, 0);
    }

    #[test]
    fn configured_initial_window_floor_and_mds_change() {
        let cfg = CcConfig {
            max_datagram_size: 1500,
            initial_window: Some(100),
            hystart: false,
        };
        let mut w = Window::new(cfg);
        assert_eq!(w.cwnd, 3000);
        w.set_mds(9000);
        assert_eq!(w.cwnd, 18_000);
    }
}
