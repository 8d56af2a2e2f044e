//! HyStart++ (RFC 9406): leave slow start when the RTT starts to grow, before losses.
//!
//! Rounds are delimited by send times instead of packet numbers: a round ends when a packet
//! sent after the round began is acknowledged. The per-ACK increase limit `L` is infinite,
//! as RFC 9406 recommends for paced senders.

use crate::recovery::GRANULARITY;

/// `MIN_RTT_THRESH`: 4 ms.
pub const MIN_RTT_THRESH: u64 = 4 * GRANULARITY;
/// `MAX_RTT_THRESH`: 16 ms.
pub const MAX_RTT_THRESH: u64 = 16 * GRANULARITY;
/// `MIN_RTT_DIVISOR`.
pub const MIN_RTT_DIVISOR: u64 = 8;
/// `N_RTT_SAMPLE`: RTT samples needed in a round before deciding.
pub const N_RTT_SAMPLE: u32 = 8;
/// `CSS_GROWTH_DIVISOR`: slow start growth is divided by this in CSS.
pub const CSS_GROWTH_DIVISOR: u64 = 4;
/// `CSS_ROUNDS`: rounds spent in CSS before congestion avoidance.
pub const CSS_ROUNDS: u32 = 5;

/// HyStart++ state while slow start runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyStart {
    /// The current round ends once a packet sent after this time is acknowledged.
    window_end: Option<u64>,
    last_round_min_rtt: Option<u64>,
    current_round_min_rtt: Option<u64>,
    samples: u32,
    /// In Conservative Slow Start: baseline min RTT and rounds completed.
    css: Option<(u64, u32)>,
}

/// What an acknowledgment means for slow start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep growing by this many bytes.
    Grow(u64),
    /// CSS is over: set `ssthresh = cwnd` and move to congestion avoidance.
    Exit,
}

impl HyStart {
    /// State at the start of slow start.
    pub const fn new() -> Self {
        Self {
            window_end: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            samples: 0,
            css: None,
        }
    }

    /// True while in Conservative Slow Start.
    pub fn in_css(&self) -> bool {
        self.css.is_some()
    }

    /// Feeds an RTT sample taken in slow start.
    pub fn on_rtt_sample(&mut self, latest_rtt: u64) {
        self.current_round_min_rtt = Some(
            self.current_round_min_rtt
                .map_or(latest_rtt, |m| m.min(latest_rtt)),
        );
        self.samples = self.samples.saturating_add(1);
        let Some(cur) = self.current_round_min_rtt else {
            return;
        };
        if self.samples < N_RTT_SAMPLE {
            return;
        }
        match self.css {
            None => {
                let Some(last) = self.last_round_min_rtt else {
                    return;
                };
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if cur >= last.saturating_add(thresh) {
                    self.css = Some((cur, 0));
                }
            }
            Some((baseline, _)) => {
                if cur < baseline {
                    // The RTT increase was spurious: back to standard slow start.
                    self.css = None;
                }
            }
        }
    }

    /// An in-flight packet sent at `sent_time`, `bytes` long, was acknowledged while in slow
    /// start; `last_sent` is when the most recent packet was sent.
    pub fn on_ack(&mut self, sent_time: u64, bytes: u64, last_sent: u64) -> Verdict {
        if crate::none_or(self.window_end, |end| sent_time > end) {
            // A new round.
            self.window_end = Some(last_sent);
            self.last_round_min_rtt = self.current_round_min_rtt.or(self.last_round_min_rtt);
            self.current_round_min_rtt = None;
            self.samples = 0;
            if let Some((baseline, rounds)) = self.css {
                let rounds = rounds.saturating_add(1);
                if rounds >= CSS_ROUNDS {
                    return Verdict::Exit;
                }
                self.css = Some((baseline, rounds));
            }
        }
        if self.css.is_some() {
            Verdict::Grow(bytes / CSS_GROWTH_DIVISOR)
        } else {
            Verdict::Grow(bytes)
        }
    }
}

impl Default for HyStart {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one round: a packet sent after the previous round is acked, then `n` samples.
    fn round(h: &mut HyStart, t: &mut u64, rtt: u64, n: u32) -> Verdict {
        *t += 1000;
        let v = h.on_ack(*t, 1200, *t + 10);
        for _ in 0..n {
            h.on_rtt_sample(rtt);
        }
        v
    }

    #[test]
    fn stays_in_slow_start_while_rtt_is_flat() {
        let mut h = HyStart::new();
        let mut t = 0;
        for _ in 0..20 {
            assert_eq!(round(&mut h, &mut t, 50_000, 10), Verdict::Grow(1200));
        }
        assert!(!h.in_css());
    }

    #[test]
    fn rtt_increase_enters_css_then_exits() {
        let mut h = HyStart::new();
        let mut t = 0;
        round(&mut h, &mut t, 40_000, 10);
        // Threshold: clamp(40/8 = 5 ms, 4, 16) = 5 ms. 44.9 ms is not enough.
        round(&mut h, &mut t, 44_900, 10);
        assert!(!h.in_css());
        // Fewer than N_RTT_SAMPLE samples decide nothing.
        round(&mut h, &mut t, 60_000, N_RTT_SAMPLE - 1);
        assert!(!h.in_css());
        // The short round still set lastRoundMinRTT = 60 ms; a flat round brings it back.
        round(&mut h, &mut t, 44_900, 10);
        assert!(!h.in_css());
        // Threshold now 44.9/8 = 5.6125 ms: 50.5 ms is not enough, 50.6 ms is.
        let mut probe = h.clone();
        round(&mut probe, &mut t.clone(), 50_500, 10);
        assert!(!probe.in_css());
        round(&mut h, &mut t, 50_600, 10);
        assert!(h.in_css());
        // Growth is quartered in CSS; after CSS_ROUNDS rounds slow start ends.
        for _ in 1..CSS_ROUNDS {
            assert_eq!(round(&mut h, &mut t, 50_600, 10), Verdict::Grow(300));
            assert!(h.in_css());
        }
        assert_eq!(round(&mut h, &mut t, 50_600, 10), Verdict::Exit);
    }

    #[test]
    fn spurious_css_returns_to_slow_start() {
        let mut h = HyStart::new();
        let mut t = 0;
        round(&mut h, &mut t, 40_000, 10);
        round(&mut h, &mut t, 60_000, 10);
        assert!(h.in_css());
        round(&mut h, &mut t, 41_000, 10);
        assert!(!h.in_css());
        assert_eq!(round(&mut h, &mut t, 41_000, 10), Verdict::Grow(1200));
    }

    #[test]
    fn acks_within_a_round_do_not_start_a_new_one() {
        let mut h = HyStart::new();
        h.on_ack(0, 1200, 100);
        for _ in 0..10 {
            h.on_rtt_sample(40_000);
        }
        // Packets sent before t=100 belong to this round: samples accumulate.
        h.on_ack(50, 1200, 200);
        assert_eq!(h.samples, 10);
        h.on_ack(150, 1200, 300);
        assert_eq!(h.samples, 0);
        assert_eq!(h.last_round_min_rtt, Some(40_000));
    }
}
