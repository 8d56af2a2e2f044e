//! The RTT estimator (RFC 9002 §5) and the durations derived from it (§6.1.2, §6.2.1, §7.6.1).

use super::math::{ewma, mul_div};
use super::GRANULARITY;

/// Default initial RTT, `kInitialRtt` of RFC 9002 §6.2.2: 333 ms.
pub const DEFAULT_INITIAL_RTT: u64 = 333_000;

/// Default peer `max_ack_delay` (RFC 9000 §18.2): 25 ms.
pub const DEFAULT_MAX_ACK_DELAY: u64 = 25_000;

/// `kPersistentCongestionThreshold` of RFC 9002 §7.6.1.
pub const PERSISTENT_CONGESTION_THRESHOLD: u64 = 3;

/// Largest PTO backoff exponent applied; beyond it the duration stops doubling (the idle
/// timeout closes such a connection long before).
const MAX_PTO_BACKOFF: u32 = 16;

/// Round-trip time estimates of one path, all in microseconds.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    latest: u64,
    min: u64,
    smoothed: u64,
    var: u64,
    first_sample: Option<u64>,
    max_ack_delay: u64,
    initial: u64,
}

impl RttEstimator {
    /// An estimator before any sample: `smoothed_rtt = initial_rtt`, `rttvar = initial_rtt/2`
    /// (§5.3). `initial_rtt == 0` selects [`DEFAULT_INITIAL_RTT`].
    pub fn new(initial_rtt: u64) -> Self {
        let initial = if initial_rtt == 0 {
            DEFAULT_INITIAL_RTT
        } else {
            initial_rtt
        };
        Self {
            latest: 0,
            min: 0,
            smoothed: initial,
            var: initial / 2,
            first_sample: None,
            max_ack_delay: DEFAULT_MAX_ACK_DELAY,
            initial,
        }
    }

    /// Sets the peer's `max_ack_delay` transport parameter (microseconds).
    pub fn set_max_ack_delay(&mut self, max_ack_delay: u64) {
        self.max_ack_delay = max_ack_delay;
    }

    /// The peer's `max_ack_delay` in use.
    pub fn max_ack_delay(&self) -> u64 {
        self.max_ack_delay
    }

    /// Feeds one RTT sample taken at `now` (§5.3): `latest_rtt` is the time from sending the
    /// largest newly acknowledged packet to receiving its acknowledgment, `ack_delay` the
    /// peer-reported delay (already decoded to microseconds, 0 for Initial packets). The
    /// delay is capped by `max_ack_delay` once the handshake is confirmed and is only
    /// subtracted when that leaves at least `min_rtt`.
    pub fn update(&mut self, now: u64, latest_rtt: u64, ack_delay: u64, handshake_confirmed: bool) {
        self.latest = latest_rtt;
        if self.first_sample.is_none() {
            self.first_sample = Some(now);
            self.min = latest_rtt;
            self.smoothed = latest_rtt;
            self.var = latest_rtt / 2;
            return;
        }
        self.min = self.min.min(latest_rtt);
        let ack_delay = if handshake_confirmed {
            ack_delay.min(self.max_ack_delay)
        } else {
            ack_delay
        };
        let adjusted = match self.min.checked_add(ack_delay) {
            Some(floor) if latest_rtt >= floor => latest_rtt - ack_delay,
            _ => latest_rtt,
        };
        self.var = ewma(self.var, self.smoothed.abs_diff(adjusted), 3, 4);
        self.smoothed = ewma(self.smoothed, adjusted, 7, 8);
    }

    /// The most recent sample, `latest_rtt` (0 before the first one).
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// `min_rtt` (0 before the first sample).
    pub fn min(&self) -> u64 {
        self.min
    }

    /// `smoothed_rtt`.
    pub fn smoothed(&self) -> u64 {
        self.smoothed
    }

    /// `rttvar`.
    pub fn var(&self) -> u64 {
        self.var
    }

    /// The initial RTT this estimator started from.
    pub fn initial(&self) -> u64 {
        self.initial
    }

    /// When the first sample was taken (`first_rtt_sample`), if any.
    pub fn first_sample_time(&self) -> Option<u64> {
        self.first_sample
    }

    /// True once a sample was taken.
    pub fn has_sample(&self) -> bool {
        self.first_sample.is_some()
    }

    /// `smoothed_rtt + max(4*rttvar, kGranularity)`, the PTO period without `max_ack_delay`.
    pub fn pto_base(&self) -> u64 {
        self.smoothed
            .saturating_add(self.var.saturating_mul(4).max(GRANULARITY))
    }

    /// The PTO duration after `pto_count` consecutive expirations (§6.2.1): the base period,
    /// plus `max_ack_delay` for the application data space, doubled per expiration.
    pub fn pto_duration(&self, with_max_ack_delay: bool, pto_count: u32) -> u64 {
        let mut d = self.pto_base();
        if with_max_ack_delay {
            d = d.saturating_add(self.max_ack_delay);
        }
        d.saturating_mul(1u64 << pto_count.min(MAX_PTO_BACKOFF))
    }

    /// The persistent congestion duration (§7.6.1):
    /// `(smoothed_rtt + max(4*rttvar, kGranularity) + max_ack_delay) * 3`.
    pub fn persistent_congestion_duration(&self) -> u64 {
        self.pto_base()
            .saturating_add(self.max_ack_delay)
            .saturating_mul(PERSISTENT_CONGESTION_THRESHOLD)
    }

    /// The time-threshold loss delay (§6.1.2): `num/den * max(smoothed_rtt, latest_rtt)`, at
    /// least `kGranularity` (RFC 9002 uses 9/8).
    pub fn loss_delay(&self, num: u64, den: u64) -> u64 {
        mul_div(self.smoothed.max(self.latest), num, den).max(GRANULARITY)
    }
}

impl Default for RttEstimator {
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL_RTT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn initial_state() {
        let r = RttEstimator::default();
        assert_eq!(r.smoothed(), 333_000);
        assert_eq!(r.var(), 166_500);
        assert!(!r.has_sample());
        // PTO before any sample: 333 + 4*166.5 = 999 ms.
        assert_eq!(r.pto_base(), 999_000);
        assert_eq!(r.pto_duration(false, 0), 999_000);
        assert_eq!(r.pto_duration(false, 2), 3_996_000);
        assert_eq!(RttEstimator::new(0).smoothed(), 333_000);
        assert_eq!(RttEstimator::new(100_000).var(), 50_000);
    }

    #[test]
    fn first_sample_resets_estimates() {
        let mut r = RttEstimator::new(100_000);
        r.update(5, 40_000, 30_000, true);
        assert_eq!(r.first_sample_time(), Some(5));
        assert_eq!(
            (r.latest(), r.min(), r.smoothed(), r.var()),
            (40_000, 40_000, 40_000, 20_000)
        );
    }

    #[test]
    fn hand_computed_sequence() {
        let mut r = RttEstimator::default();
        r.set_max_ack_delay(25_000);
        r.update(0, 100_000, 0, true);
        // second sample 120 ms, ack_delay 10 ms: adjusted = 110 ms (>= min 100 + 10).
        r.update(1, 120_000, 10_000, true);
        // rttvar = 3/4*50 + 1/4*|100-110| = 37.5 + 2.5 = 40 ms; srtt = 7/8*100 + 1/8*110.
        assert_eq!(r.var(), 40_000);
        assert_eq!(r.smoothed(), 101_250);
        assert_eq!(r.min(), 100_000);
        // third sample 80 ms: new min, no adjustment possible (80 < 80 + 5).
        r.update(2, 80_000, 5_000, true);
        assert_eq!(r.min(), 80_000);
        // rttvar = 3/4*40 + 1/4*21.25 = 30 + 5.3125 = 35.3125 ms.
        assert_eq!(r.var(), 35_312);
        // srtt = 7/8*101.25 + 1/8*80 = 88.59375 + 10 = 98.59375 ms.
        assert_eq!(r.smoothed(), 98_593);
        // PTO base = 98.593 + 4*35.312 = 239.841 ms (integer: 98_593 + 141_248).
        assert_eq!(r.pto_base(), 239_841);
        assert_eq!(r.pto_duration(true, 1), (239_841 + 25_000) * 2);
        assert_eq!(r.persistent_congestion_duration(), (239_841 + 25_000) * 3);
    }

    #[test]
    fn ack_delay_capped_only_after_confirmation() {
        let mut a = RttEstimator::default();
        a.set_max_ack_delay(10_000);
        a.update(0, 50_000, 0, true);
        let mut b = a.clone();
        // 200 ms sample with a 100 ms claimed delay.
        a.update(1, 200_000, 100_000, true); // capped: adjusted 190 ms
        b.update(1, 200_000, 100_000, false); // uncapped: adjusted 100 ms
        assert_eq!(a.smoothed(), (7 * 50_000 + 190_000) / 8);
        assert_eq!(b.smoothed(), (7 * 50_000 + 100_000) / 8);
    }

    #[test]
    fn absurd_ack_delay_never_below_min_rtt() {
        let mut r = RttEstimator::default();
        r.update(0, 30_000, 0, false);
        r.update(1, 40_000, u64::MAX, false);
        // Not subtracted (would go below min_rtt): the sample counts fully.
        assert_eq!(r.smoothed(), (7 * 30_000 + 40_000) / 8);
    }

    #[test]
    fn loss_delay_and_granularity() {
        let mut r = RttEstimator::default();
        r.update(0, 800, 0, true);
        // 9/8 * 800 us = 900 us < 1 ms granularity.
        assert_eq!(r.loss_delay(9, 8), GRANULARITY);
        r.update(1, 80_000, 0, true);
        // max(srtt = 10.7 ms, latest = 80 ms) * 9/8 = 90 ms.
        assert_eq!(r.loss_delay(9, 8), 90_000);
    }

    #[test]
    fn pto_backoff_saturates() {
        let r = RttEstimator::default();
        assert_eq!(
            r.pto_duration(true, 200),
            r.pto_duration(true, MAX_PTO_BACKOFF)
        );
        let mut big = RttEstimator::new(u64::MAX / 2);
        big.set_max_ack_delay(u64::MAX);
        assert_eq!(big.pto_duration(true, 5), u64::MAX);
        assert_eq!(big.persistent_congestion_duration(), u64::MAX);
    }

    proptest! {
        #[test]
        fn estimates_stay_within_sample_bounds(samples in proptest::collection::vec((1u64..10_000_000, any::<u64>(), any::<bool>()), 1..64)) {
            let mut r = RttEstimator::default();
            let lo = samples.iter().map(|s| s.0).min().unwrap_or(0);
            let hi = samples.iter().map(|s| s.0).max().unwrap_or(0);
            for (i, (rtt, delay, confirmed)) in samples.iter().enumerate() {
                r.update(i as u64, *rtt, *delay, *confirmed);
            }
            prop_assert_eq!(r.min(), lo);
            // Adjusted samples lie in [min_rtt, latest], so the average stays in [lo, hi].
            prop_assert!(r.smoothed() >= lo.saturating_sub(8) && r.smoothed() <= hi);
            prop_assert!(r.var() <= hi);
        }
    }
}
