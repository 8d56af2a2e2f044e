//! CUBIC congestion control (RFC 9438) in integer arithmetic.
//!
//! Units: windows in bytes, the cubic function's time in milliseconds. With `C = 0.4`
//! segments/s³ and a segment of `mds` bytes,
//!
//! ```text
//! W_cubic(t) = W_max ± 2 * mds * |t - K|³ / (5 * 10⁹)       (t, K in ms; bytes)
//! K          = cbrt((W_max - cwnd_epoch) * 5 * 10⁹ / (2 * mds))   (ms)
//! ```
//!
//! and `β = 7/10`, the Reno-friendly `α = 3(1-β)/(1+β) = 9/17` (1 once `W_est` reached the
//! window before the last reduction), fast convergence `W_max = cwnd * (1+β)/2 = cwnd * 17/20`.
//! Fractions of a byte of growth are carried over between acknowledgments.

use super::window::{Window, WindowAlgorithm};
use super::CcConfig;
use crate::recovery::math::{icbrt, mul_div};
use crate::recovery::rtt::RttEstimator;

/// `β_cubic` as a fraction: 7/10.
const BETA: (u64, u64) = (7, 10);
/// `(1 + β_cubic) / 2` for fast convergence: 17/20.
const FAST_CONVERGENCE: (u64, u64) = (17, 20);
/// `α_cubic = 3 (1 - β) / (1 + β)` = 9/17, over the common denominator 17.
const ALPHA_RENO_FRIENDLY: u64 = 9;
const ALPHA_ONE: u64 = 17;
const ALPHA_DEN: u64 = 17;
/// `C = 0.4 = 2/5`, with the 10⁹ converting ms³ to s³: offset = d³ * 2 * mds / (5 * 10⁹).
const C_NUM: u64 = 2;
const C_DEN_MS3: u64 = 5_000_000_000;
/// `|t - K|` is capped so its cube fits a `u64` (~35 minutes; the window saturates long before).
const MAX_DELTA_MS: u64 = 1 << 21;
/// At most 1.5 * cwnd as the target of one round trip (RFC 9438 §4.2).
const TARGET_CAP: (u64, u64) = (3, 2);

/// The CUBIC controller.
#[derive(Debug, Clone)]
pub struct Cubic {
    w: Window,
    /// `W_max`: the window before the last reduction, lowered by fast convergence.
    w_max: u64,
    /// `cwnd_prior`: the window just before the last reduction.
    cwnd_prior: u64,
    /// The cubic curve's plateau for the current epoch, `max(W_max, cwnd_epoch)`.
    origin: u64,
    /// `K` in milliseconds.
    k_ms: u64,
    /// Start of the current congestion avoidance epoch.
    epoch_start: Option<u64>,
    /// `W_est`, the Reno-friendly estimate, and its fractional numerator.
    w_est: u64,
    est_rem: u64,
    /// Fractional numerator of the cubic increase.
    inc_rem: u64,
    /// When the last acknowledgment was processed (to skip app-limited time).
    last_ack: Option<u64>,
}

impl Cubic {
    /// A controller in slow start with the configured initial window.
    pub fn new(cfg: CcConfig) -> Self {
        Self {
            w: Window::new(cfg),
            w_max: 0,
            cwnd_prior: 0,
            origin: 0,
            k_ms: 0,
            epoch_start: None,
            w_est: 0,
            est_rem: 0,
            inc_rem: 0,
            last_ack: None,
        }
    }

    /// `W_max` in bytes.
    pub fn w_max(&self) -> u64 {
        self.w_max
    }

    /// `K` of the current epoch in milliseconds (0 before congestion avoidance started).
    pub fn k_ms(&self) -> u64 {
        self.k_ms
    }

    /// `W_est` in bytes.
    pub fn w_est(&self) -> u64 {
        self.w_est
    }

    /// When the current congestion avoidance epoch began.
    pub fn epoch_start(&self) -> Option<u64> {
        self.epoch_start
    }

    /// `W_cubic(t)` in bytes, `t` in microseconds since the epoch start.
    pub fn w_cubic(&self, t: u64) -> u64 {
        let t_ms = t / 1000;
        let (d, below) = if t_ms < self.k_ms {
            (self.k_ms - t_ms, true)
        } else {
            (t_ms - self.k_ms, false)
        };
        let d = d.min(MAX_DELTA_MS);
        let offset = mul_div(d * d * d, C_NUM * self.w.mds, C_DEN_MS3);
        if below {
            self.origin.saturating_sub(offset)
        } else {
            self.origin.saturating_add(offset)
        }
    }

    /// Starts a congestion avoidance epoch at `now` (RFC 9438 §4.2, §4.3).
    fn start_epoch(&mut self, now: u64) {
        let cwnd = self.w.cwnd;
        self.epoch_start = Some(now);
        if self.w_max > cwnd {
            self.origin = self.w_max;
            let x = mul_div(self.w_max - cwnd, C_DEN_MS3, C_NUM * self.w.mds);
            self.k_ms = icbrt(x);
        } else {
            self.origin = cwnd;
            self.k_ms = 0;
        }
        self.w_est = cwnd;
        self.est_rem = 0;
        self.inc_rem = 0;
    }

    fn congestion_avoidance(&mut self, now: u64, bytes: u64, rtt: &RttEstimator) {
        let start = match self.epoch_start {
            Some(s) => s,
            None => {
                self.start_epoch(now);
                now
            }
        };
        let cwnd = self.w.cwnd.max(1);
        let t = now.saturating_sub(start);

        // Reno-friendly estimate: W_est += α * acked * mds / cwnd.
        let alpha = if self.w_est >= self.cwnd_prior {
            ALPHA_ONE
        } else {
            ALPHA_RENO_FRIENDLY
        };
        let den = ALPHA_DEN.saturating_mul(cwnd);
        let num = self
            .est_rem
            .saturating_add(alpha.saturating_mul(bytes).saturating_mul(self.w.mds));
        self.w_est = self.w_est.saturating_add(num / den);
        self.est_rem = num % den;

        if self.w_cubic(t) < self.w_est {
            // Reno-friendly region.
            self.w.cwnd = self.w.cwnd.max(self.w_est);
            return;
        }
        // Concave or convex region: grow towards W_cubic(t + RTT), capped at 1.5 cwnd.
        let cap = mul_div(cwnd, TARGET_CAP.0, TARGET_CAP.1);
        let target = self
            .w_cubic(t.saturating_add(rtt.smoothed()))
            .clamp(cwnd, cap.max(cwnd));
        let num = self
            .inc_rem
            .saturating_add((target - cwnd).saturating_mul(bytes));
        self.w.cwnd = self.w.cwnd.saturating_add(num / cwnd);
        self.inc_rem = num % cwnd;
    }
}

impl WindowAlgorithm for Cubic {
    fn window_state(&self) -> &Window {
        &self.w
    }

    fn window_state_mut(&mut self) -> &mut Window {
        &mut self.w
    }

    fn grow(&mut self, now: u64, sent_time: u64, bytes: u64, rtt: &RttEstimator) {
        let since_last = self.last_ack.map_or(0, |l| now.saturating_sub(l));
        self.last_ack = Some(now);
        if self.w.app_limited {
            // Time the window was not used does not count towards the cubic curve
            // (RFC 9438 §5.8).
            if let Some(s) = self.epoch_start.as_mut() {
                *s = s.saturating_add(since_last).min(now);
            }
            return;
        }
        if self.w.in_recovery(sent_time) {
            return;
        }
        if self.w.in_slow_start() {
            self.w.slow_start(sent_time, bytes);
            return;
        }
        self.congestion_avoidance(now, bytes, rtt);
    }

    fn reduce(&mut self) {
        let cwnd = self.w.cwnd;
        self.cwnd_prior = cwnd;
        // Fast convergence: release bandwidth when the window did not recover its last peak.
        self.w_max = if cwnd < self.w_max {
            mul_div(cwnd, FAST_CONVERGENCE.0, FAST_CONVERGENCE.1)
        } else {
            cwnd
        };
        self.w.ssthresh = mul_div(cwnd, BETA.0, BETA.1).max(self.w.min_window());
        self.w.cwnd = self.w.ssthresh;
        self.epoch_start = None;
    }

    fn restart(&mut self) {
        self.epoch_start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::cc::CongestionControl;

    const MDS: u64 = 1200;

    fn cubic() -> Cubic {
        Cubic::new(CcConfig::default())
    }

    #[test]
    fn reduction_is_beta_and_fast_convergence() {
        let mut c = cubic();
        c.w.cwnd = 100 * MDS;
        c.on_congestion_event(10, 5);
        assert_eq!(c.window(), 70 * MDS);
        assert_eq!(c.ssthresh(), 70 * MDS);
        assert_eq!(c.w_max(), 100 * MDS);
        // Another loss before the window got back to W_max: W_max = cwnd * 0.85.
        c.on_congestion_event(30, 20);
        assert_eq!(c.w_max(), 70 * MDS * 17 / 20);
        assert_eq!(c.window(), 70 * MDS * 7 / 10);
        // Duplicate signal within the recovery period.
        c.on_congestion_event(40, 25);
        assert_eq!(c.window(), 70 * MDS * 7 / 10);
        // Floor at the minimum window.
        c.w.cwnd = 2 * MDS;
        c.on_congestion_event(50, 45);
        assert_eq!(c.window(), 2 * MDS);
    }

    #[test]
    fn k_from_hand_computation() {
        let mut c = cubic();
        c.w.cwnd = 1000 * MDS;
        c.on_congestion_event(0, 0);
        c.start_epoch(1);
        // K = cbrt(1000 * 0.3 / 0.4) s = cbrt(750) s = 9.0856 s.
        assert!((9080..=9090).contains(&c.k_ms()), "{}", c.k_ms());
        // The curve starts at cwnd_epoch (within K's 1 ms truncation) and plateaus at W_max
        // at t = K.
        assert!(
            c.w_cubic(0).abs_diff(700 * MDS) < MDS / 10,
            "{}",
            c.w_cubic(0)
        );
        assert_eq!(c.w_cubic(c.k_ms() * 1000), 1000 * MDS);
        // Symmetric around K.
        let d = 3_000_000;
        let below = 1000 * MDS - c.w_cubic(c.k_ms() * 1000 - d);
        let above = c.w_cubic(c.k_ms() * 1000 + d) - 1000 * MDS;
        assert_eq!(below, above);
        // 0.4 * 3^3 = 10.8 segments.
        assert_eq!(above, 108 * MDS / 10);
    }

    #[test]
    fn no_growth_in_recovery_or_when_app_limited() {
        let mut c = cubic();
        let rtt = RttEstimator::new(100_000);
        c.w.cwnd = 100 * MDS;
        c.on_congestion_event(1_000, 500);
        let w = c.window();
        c.on_packet_acked(2_000, 900, MDS, &rtt);
        assert_eq!(c.window(), w);
        c.set_app_limited(true);
        c.on_packet_acked(3_000, 1_500, MDS, &rtt);
        assert_eq!(c.window(), w);
        assert_eq!(c.epoch_start(), None);
        c.set_app_limited(false);
        c.on_packet_acked(4_000, 3_500, MDS, &rtt);
        assert_eq!(c.epoch_start(), Some(4_000));
        // App-limited time shifts the epoch so the curve does not jump ahead.
        c.set_app_limited(true);
        c.on_packet_acked(1_004_000, 3_600, MDS, &rtt);
        assert_eq!(c.epoch_start(), Some(1_004_000));
    }

    #[test]
    fn persistent_congestion_restarts_slow_start() {
        let mut c = cubic();
        let rtt = RttEstimator::new(100_000);
        c.w.cwnd = 100 * MDS;
        c.on_congestion_event(1_000, 500);
        c.on_persistent_congestion(2_000);
        assert_eq!(c.window(), 2 * MDS);
        assert!(c.window_state().in_slow_start());
        c.on_packet_acked(3_000, 2_500, MDS, &rtt);
        assert_eq!(c.window(), 3 * MDS);
    }

    #[test]
    fn growth_target_capped_at_one_and_a_half() {
        let mut c = cubic();
        let rtt = RttEstimator::new(100_000);
        c.w.cwnd = 10 * MDS;
        c.on_congestion_event(0, 0); // cwnd 7, W_max 10 segments
                                     // Far in the convex region the target is capped at 1.5 cwnd: acking one window in
                                     // one go can at most add half a window.
        c.on_packet_acked(1, 1, MDS, &rtt); // starts the epoch at t=1
        let w = c.window();
        c.on_packet_acked(3_600_000_000, 2, w, &rtt);
        assert!(c.window() <= w + w / 2, "{} {}", c.window(), w);
        assert!(c.window() >= w + w / 2 - MDS);
    }
}
