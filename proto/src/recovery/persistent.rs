//! Persistent congestion detection (RFC 9002 §7.6).
//!
//! Persistent congestion is established when two ack-eliciting packets are declared lost,
//! no packet sent between them was acknowledged, they were both sent after the first RTT
//! sample, and the time between their sends exceeds the persistent congestion duration.
//! Losses are fed in send order as one loss-detection pass finds them; an acknowledged packet
//! met between two lost ones ends the current run.
//!
//! This looks at one packet number space at a time, which RFC 9002 §7.6.2 allows.

/// Tracks the current run of lost packets during one loss-detection pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistentCongestion {
    duration: u64,
    first_rtt_sample: Option<u64>,
    /// Send time of the first qualifying ack-eliciting lost packet of the current run.
    run_start: Option<u64>,
    established: bool,
}

impl PersistentCongestion {
    /// A detector for one pass: `duration` from
    /// [`RttEstimator::persistent_congestion_duration`](super::rtt::RttEstimator::persistent_congestion_duration),
    /// `first_rtt_sample` the time of the first RTT sample (none: nothing can be established).
    pub const fn new(duration: u64, first_rtt_sample: Option<u64>) -> Self {
        Self {
            duration,
            first_rtt_sample,
            run_start: None,
            established: false,
        }
    }

    /// A packet sent at `time_sent` was declared lost (calls come in send order).
    pub fn on_lost(&mut self, time_sent: u64, ack_eliciting: bool) {
        if !ack_eliciting || crate::none_or(self.first_rtt_sample, |f| time_sent <= f) {
            return;
        }
        match self.run_start {
            None => self.run_start = Some(time_sent),
            Some(start) => {
                if time_sent.saturating_sub(start) > self.duration {
                    self.established = true;
                }
            }
        }
    }

    /// A packet sent after the previous lost one was acknowledged: the run ends.
    pub fn on_acked_between(&mut self) {
        self.run_start = None;
    }

    /// True once persistent congestion was established.
    pub fn established(&self) -> bool {
        self.established
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_span_longer_than_duration() {
        let mut pc = PersistentCongestion::new(100, Some(0));
        pc.on_lost(10, true);
        pc.on_lost(110, true); // exactly the duration: not more
        assert!(!pc.established());
        pc.on_lost(111, true);
        assert!(pc.established());
    }

    #[test]
    fn ack_in_between_resets_the_run() {
        let mut pc = PersistentCongestion::new(100, Some(0));
        pc.on_lost(10, true);
        pc.on_acked_between();
        pc.on_lost(60, true);
        pc.on_lost(150, true);
        assert!(!pc.established());
        pc.on_lost(161, true);
        assert!(pc.established());
    }

    #[test]
    fn endpoints_must_be_ack_eliciting_and_after_first_sample() {
        let mut pc = PersistentCongestion::new(100, Some(50));
        pc.on_lost(40, true); // before the first RTT sample
        pc.on_lost(60, false); // not ack-eliciting
        pc.on_lost(70, true);
        pc.on_lost(500, false);
        assert!(!pc.established());
        pc.on_lost(171, true);
        assert!(pc.established());
        let mut none = PersistentCongestion::new(0, None);
        none.on_lost(1, true);
        none.on_lost(1_000_000, true);
        assert!(!none.established());
    }
}
