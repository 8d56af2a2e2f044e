//! NewReno congestion control as specified by RFC 9002 §7 and Appendix B.
//!
//! Slow start doubles the window per round trip, a congestion event halves it (never below
//! the minimum window) and starts a recovery period, congestion avoidance adds one maximum
//! datagram per window of acknowledged bytes.

use super::window::{Window, WindowAlgorithm};
use super::CcConfig;
use crate::recovery::rtt::RttEstimator;

/// `kLossReductionFactor` as a fraction: 1/2.
const LOSS_REDUCTION: (u64, u64) = (1, 2);

/// The NewReno controller.
#[derive(Debug, Clone)]
pub struct Reno {
    w: Window,
    /// Bytes acknowledged in congestion avoidance not yet turned into window growth.
    acked: u64,
}

impl Reno {
    /// A controller in slow start with the configured initial window.
    pub fn new(cfg: CcConfig) -> Self {
        Self {
            w: Window::new(cfg),
            acked: 0,
        }
    }
}

impl WindowAlgorithm for Reno {
    fn window_state(&self) -> &Window {
        &self.w
    }

    fn window_state_mut(&mut self) -> &mut Window {
        &mut self.w
    }

    fn grow(&mut self, _now: u64, sent_time: u64, bytes: u64, _rtt: &RttEstimator) {
        if !self.w.may_grow(sent_time) {
            return;
        }
        if self.w.in_slow_start() {
            self.w.slow_start(sent_time, bytes);
            return;
        }
        // Congestion avoidance: one datagram per window acknowledged, with the remainder
        // carried over so small acknowledgments are not rounded away.
        self.acked = self.acked.saturating_add(bytes);
        let cwnd = self.w.cwnd.max(1);
        if self.acked >= cwnd {
            let windows = self.acked / cwnd;
            self.acked %= cwnd;
            self.w.cwnd = self
                .w
                .cwnd
                .saturating_add(windows.saturating_mul(self.w.mds));
        }
    }

    fn reduce(&mut self) {
        self.w.ssthresh = self.w.cwnd / LOSS_REDUCTION.1 * LOSS_REDUCTION.0;
        self.w.cwnd = self.w.ssthresh.max(self.w.min_window());
        self.acked = 0;
    }

    fn restart(&mut self) {
        self.acked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::cc::CongestionControl;

    const MDS: u64 = 1200;
    const RTT: u64 = 100_000;

    fn reno() -> Reno {
        Reno::new(CcConfig::default())
    }

    /// One round trip: send a full window at `t` in MDS packets, get it all acknowledged at
    /// `t + RTT`. Returns the new time.
    fn round_trip(cc: &mut impl CongestionControl, t: u64, rtt: &RttEstimator) -> u64 {
        let n = cc.window() / MDS;
        for _ in 0..n {
            cc.on_packet_sent(t, MDS);
        }
        for _ in 0..n {
            cc.on_packet_acked(t + RTT, t, MDS, rtt);
        }
        t + RTT
    }

    #[test]
    fn slow_start_doubles_per_rtt() {
        let mut cc = reno();
        let rtt = RttEstimator::new(RTT);
        let mut t = 0;
        let mut expected = 12_000;
        for _ in 0..6 {
            assert_eq!(cc.window(), expected);
            t = round_trip(&mut cc, t, &rtt);
            expected *= 2;
        }
        assert_eq!(cc.window(), 12_000 << 6);
        assert_eq!(cc.bytes_in_flight(), 0);
    }

    #[test]
    fn loss_halves_once_per_recovery_period() {
        let mut cc = reno();
        let rtt = RttEstimator::new(RTT);
        for _ in 0..4 {
            cc.on_packet_sent(0, MDS);
        }
        cc.on_congestion_event(1000, 0);
        assert_eq!((cc.window(), cc.ssthresh()), (6000, 6000));
        // A second loss of a packet sent before recovery began changes nothing.
        cc.on_congestion_event(2000, 500);
        assert_eq!(cc.window(), 6000);
        // Acks for packets sent before recovery do not grow the window.
        cc.on_packet_acked(3000, 0, MDS, &rtt);
        assert_eq!(cc.window(), 6000);
        assert_eq!(cc.bytes_in_flight(), 3 * MDS);
        // A loss of a packet sent after recovery began is a new event.
        cc.on_congestion_event(4000, 1001);
        assert_eq!(cc.window(), 3000);
        cc.on_congestion_event(5000, 4001);
        // Never below the minimum window of 2 * mds.
        assert_eq!((cc.window(), cc.ssthresh()), (2400, 1500));
    }

    #[test]
    fn congestion_avoidance_adds_one_datagram_per_window() {
        let mut cc = reno();
        let rtt = RttEstimator::new(RTT);
        cc.on_congestion_event(0, 0); // cwnd = ssthresh = 6000
        let mut t = 1;
        for i in 1..=10 {
            t = round_trip(&mut cc, t, &rtt);
            assert_eq!(cc.window(), 6000 + i * MDS, "round {i}");
        }
        // Sub-window acknowledgments accumulate instead of being rounded away.
        let w = cc.window();
        for _ in 0..(w / 100) {
            cc.on_packet_sent(t, 100);
            cc.on_packet_acked(t + 1, t, 100, &rtt);
        }
        assert_eq!(cc.window(), w + MDS);
    }

    #[test]
    fn congestion_avoidance_carries_the_remainder_across_window_changes() {
        let mut cc = reno();
        let rtt = RttEstimator::new(RTT);
        cc.on_congestion_event(0, 0); // cwnd = ssthresh = 6000
        cc.on_packet_sent(1, 9000);
        // 1.5 windows: one datagram of growth, 3000 bytes carried over.
        cc.on_packet_acked(2, 1, 9000, &rtt);
        assert_eq!(cc.window(), 7200);
        cc.on_packet_sent(3, 4199);
        cc.on_packet_acked(4, 3, 4199, &rtt);
        assert_eq!(cc.window(), 7200);
        cc.on_packet_sent(5, 1);
        cc.on_packet_acked(6, 5, 1, &rtt);
        assert_eq!(cc.window(), 8400);
    }

    #[test]
    fn persistent_congestion_collapses() {
        let mut cc = reno();
        let rtt = RttEstimator::new(RTT);
        cc.on_congestion_event(10, 0);
        cc.on_persistent_congestion(20);
        assert_eq!(cc.window(), 2 * MDS);
        // Recovery was reset: packets sent before it may grow the window again, and slow
        // start runs up to ssthresh (6000).
        cc.on_packet_sent(15, MDS);
        cc.on_packet_acked(30, 15, MDS, &rtt);
        assert_eq!(cc.window(), 3 * MDS);
    }

    #[test]
    fn app_limited_does_not_grow() {
        let mut cc = reno();
        let rtt = RttEstimator::new(RTT);
        cc.set_app_limited(true);
        cc.on_packet_sent(0, MDS);
        cc.on_packet_acked(1, 0, MDS, &rtt);
        assert_eq!(cc.window(), 12_000);
        cc.set_app_limited(false);
        cc.on_packet_sent(2, MDS);
        cc.on_packet_acked(3, 2, MDS, &rtt);
        assert_eq!(cc.window(), 12_000 + MDS);
    }

    #[test]
    fn hystart_can_end_slow_start_without_loss() {
        let mut cc = Reno::new(CcConfig {
            hystart: true,
            ..CcConfig::default()
        });
        let mut rtt = RttEstimator::new(RTT);
        let mut t = 0;
        let mut latest = 40_000;
        for _round in 0..30 {
            let n = cc.window() / MDS;
            for _ in 0..n {
                cc.on_packet_sent(t, MDS);
            }
            // The queue builds: each round the RTT grows by 6 ms.
            latest += 6_000;
            for _ in 0..n {
                rtt.update(t + latest, latest, 0, true);
                cc.on_rtt_sample(t + latest, &rtt);
                cc.on_packet_acked(t + latest, t, MDS, &rtt);
            }
            t += latest;
            if !cc.window_state().in_slow_start() {
                break;
            }
        }
        assert!(!cc.window_state().in_slow_start());
        assert_eq!(cc.ssthresh(), cc.window());
        assert!(cc.window_state().recovery_start.is_none());
    }
}
