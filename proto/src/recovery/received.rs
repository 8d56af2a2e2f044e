//! Per-space receive state: which packets to acknowledge, and when (RFC 9000 §13.2).
//!
//! The engine calls [`ReceivedPackets::on_packet_received`] for every packet it successfully
//! decrypted, asks [`ReceivedPackets::ack_now`] / [`ReceivedPackets::ack_deadline`] whether an
//! ACK frame is due, builds it from [`ReceivedPackets::ranges`] and
//! [`ReceivedPackets::ack_delay`], and reports it with [`ReceivedPackets::on_ack_sent`]. When the
//! peer acknowledges a packet that carried one of our ACK frames, the engine calls
//! [`ReceivedPackets::on_ack_acked`] with that frame's largest acknowledged.

use quic_mem::AllocError;

use super::ack_ranges::{AckRanges, Insert, DEFAULT_MAX_RANGES};
use super::ecn::{EcnCodepoint, EcnCounts};

/// Default number of ack-eliciting packets received before an ACK is sent at once.
pub const DEFAULT_ACK_ELICITING_THRESHOLD: u32 = 2;

/// Our own default `max_ack_delay` (microseconds), the delay of a delayed ACK.
pub const DEFAULT_LOCAL_MAX_ACK_DELAY: u64 = 25_000;

/// How a space acknowledges packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckPolicy {
    /// Acknowledge every ack-eliciting packet at once (Initial and Handshake spaces must).
    pub immediate: bool,
    /// Send an ACK once this many ack-eliciting packets are unacknowledged (at least 1).
    pub ack_eliciting_threshold: u32,
    /// Longest an ACK for an ack-eliciting packet may be delayed (our `max_ack_delay`).
    pub max_ack_delay: u64,
    /// Bound on the ranges kept.
    pub max_ranges: usize,
}

impl AckPolicy {
    /// The policy of the Initial and Handshake spaces: acknowledge immediately.
    pub const fn handshake() -> Self {
        Self {
            immediate: true,
            ack_eliciting_threshold: 1,
            max_ack_delay: 0,
            max_ranges: DEFAULT_MAX_RANGES,
        }
    }

    /// The policy of the application data space with the default threshold and delay.
    pub const fn application() -> Self {
        Self {
            immediate: false,
            ack_eliciting_threshold: DEFAULT_ACK_ELICITING_THRESHOLD,
            max_ack_delay: DEFAULT_LOCAL_MAX_ACK_DELAY,
            max_ranges: DEFAULT_MAX_RANGES,
        }
    }
}

/// What happened to a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A new packet: process it.
    New,
    /// Already received (RFC 9000 §12.3): discard it.
    Duplicate,
}

/// Receive-side state of one packet number space.
#[derive(Debug)]
pub struct ReceivedPackets {
    policy: AckPolicy,
    ranges: AckRanges,
    /// Largest packet number received and when.
    largest: Option<(u64, u64)>,
    largest_ack_eliciting: Option<u64>,
    /// Ack-eliciting packets received since the last ACK frame was sent.
    unacked_ack_eliciting: u32,
    /// Any packet (even non-ack-eliciting) received since the last ACK frame.
    pending: bool,
    immediate: bool,
    deadline: Option<u64>,
    ecn: EcnCounts,
}

impl ReceivedPackets {
    /// Empty state with `policy`.
    pub fn new(policy: AckPolicy) -> Self {
        Self {
            policy,
            ranges: AckRanges::new(policy.max_ranges),
            largest: None,
            largest_ack_eliciting: None,
            unacked_ack_eliciting: 0,
            pending: false,
            immediate: false,
            deadline: None,
            ecn: EcnCounts::default(),
        }
    }

    /// Changes the ACK policy (e.g. our `max_ack_delay`); pending deadlines are kept.
    pub fn set_policy(&mut self, policy: AckPolicy) {
        self.policy = policy;
    }

    /// True when `pn` was already received (or is too old to tell): the duplicate check of
    /// RFC 9000 §12.3, to be made after removing packet protection.
    pub fn is_duplicate(&self, pn: u64) -> bool {
        self.ranges.contains(pn)
    }

    /// Records a packet received at `now` that was successfully decrypted. Duplicates change
    /// nothing. On allocation failure nothing changes; the caller drops the packet.
    pub fn on_packet_received(
        &mut self,
        pn: u64,
        now: u64,
        ack_eliciting: bool,
        ecn: EcnCodepoint,
    ) -> Result<Received, AllocError> {
        if self.ranges.insert(pn)? == Insert::Duplicate {
            return Ok(Received::Duplicate);
        }
        self.ecn.record(ecn);
        if crate::none_or(self.largest, |(l, _)| pn > l) {
            self.largest = Some((pn, now));
        }
        self.pending = true;
        if !ack_eliciting {
            return Ok(Received::New);
        }
        let mut now_please = self.policy.immediate || ecn == EcnCodepoint::Ce;
        if let Some(l) = self.largest_ack_eliciting {
            // Out of order: below an ack-eliciting packet already seen, or above it with a gap.
            let ranges = self.ranges.as_slice();
            let gap_below = ranges
                .get(ranges.partition_point(|r| r.end < pn))
                .is_some_and(|r| r.start <= pn && r.start > l.saturating_add(1));
            if pn < l || gap_below {
                now_please = true;
            }
        }
        self.largest_ack_eliciting = Some(self.largest_ack_eliciting.map_or(pn, |l| l.max(pn)));
        self.unacked_ack_eliciting = self.unacked_ack_eliciting.saturating_add(1);
        if self.unacked_ack_eliciting >= self.policy.ack_eliciting_threshold.max(1) {
            now_please = true;
        }
        let due = if now_please {
            self.immediate = true;
            now
        } else {
            now.saturating_add(self.policy.max_ack_delay)
        };
        self.deadline = Some(self.deadline.map_or(due, |d| d.min(due)));
        Ok(Received::New)
    }

    /// True when an ACK frame should be sent without delay.
    pub fn ack_now(&self) -> bool {
        self.immediate
    }

    /// When an ACK frame is due (the delayed-ACK timer); `None` when nothing ack-eliciting
    /// is waiting.
    pub fn ack_deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// True when some packet has not been acknowledged yet: an ACK frame may be
    /// piggybacked. (An ACK-only packet should only be sent when [`Self::ack_deadline`] is due.)
    pub fn has_pending(&self) -> bool {
        self.pending && !self.ranges.is_empty()
    }

    /// The ranges to acknowledge, highest first.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter_desc()
    }

    /// The range set itself.
    pub fn range_set(&self) -> &AckRanges {
        &self.ranges
    }

    /// The largest packet number received, if any.
    pub fn largest(&self) -> Option<u64> {
        self.largest.map(|(pn, _)| pn)
    }

    /// The ACK Delay to report at `now`: time since the largest packet number was received.
    pub fn ack_delay(&self, now: u64) -> u64 {
        self.largest.map_or(0, |(_, t)| now.saturating_sub(t))
    }

    /// ECN counts of every packet received in this space.
    pub fn ecn_counts(&self) -> EcnCounts {
        self.ecn
    }

    /// An ACK frame covering everything received so far was sent: reset the ACK triggers.
    pub fn on_ack_sent(&mut self) {
        self.unacked_ack_eliciting = 0;
        self.pending = false;
        self.immediate = false;
        self.deadline = None;
    }

    /// The peer acknowledged a packet carrying our ACK frame whose largest acknowledged was
    /// `largest`: stop acknowledging packets up to it (RFC 9000 §13.2.4).
    pub fn on_ack_acked(&mut self, largest: u64) {
        self.ranges.remove_below(largest.saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EcnCodepoint::NotEct;

    fn app() -> ReceivedPackets {
        ReceivedPackets::new(AckPolicy::application())
    }

    #[test]
    fn every_second_packet_acked_at_once() {
        let mut r = app();
        assert_eq!(
            r.on_packet_received(0, 1000, true, NotEct).unwrap(),
            Received::New
        );
        assert!(!r.ack_now());
        assert_eq!(r.ack_deadline(), Some(1000 + DEFAULT_LOCAL_MAX_ACK_DELAY));
        r.on_packet_received(1, 2000, true, NotEct).unwrap();
        assert!(r.ack_now());
        assert_eq!(r.ack_deadline(), Some(2000));
        assert_eq!(r.ack_delay(2500), 500);
        r.on_ack_sent();
        assert!(!r.ack_now() && r.ack_deadline().is_none() && !r.has_pending());
    }

    #[test]
    fn configurable_threshold() {
        let mut p = AckPolicy::application();
        p.ack_eliciting_threshold = 4;
        let mut r = ReceivedPackets::new(p);
        for pn in 0..3 {
            r.on_packet_received(pn, pn, true, NotEct).unwrap();
            assert!(!r.ack_now());
        }
        r.on_packet_received(3, 3, true, NotEct).unwrap();
        assert!(r.ack_now());
    }

    #[test]
    fn delayed_ack_timer_is_from_first_unacked() {
        let mut r = app();
        r.on_packet_received(0, 100, false, NotEct).unwrap();
        // Non-ack-eliciting packets alone arm nothing.
        assert_eq!(r.ack_deadline(), None);
        assert!(r.has_pending());
        r.on_packet_received(1, 200, true, NotEct).unwrap();
        assert_eq!(r.ack_deadline(), Some(200 + DEFAULT_LOCAL_MAX_ACK_DELAY));
        assert!(!r.ack_now());
    }

    #[test]
    fn out_of_order_and_gaps_ack_immediately() {
        let mut r = app();
        r.on_packet_received(0, 0, true, NotEct).unwrap();
        r.on_ack_sent();
        // A gap (1 missing) before the new ack-eliciting packet.
        r.on_packet_received(2, 1, true, NotEct).unwrap();
        assert!(r.ack_now());
        r.on_ack_sent();
        // The missing one arrives late: below the largest ack-eliciting.
        r.on_packet_received(1, 2, true, NotEct).unwrap();
        assert!(r.ack_now());
        r.on_ack_sent();
        // In order again: delayed.
        r.on_packet_received(3, 3, true, NotEct).unwrap();
        assert!(!r.ack_now());
        // A gap filled by a non-ack-eliciting packet is not a gap.
        r.on_ack_sent();
        r.on_packet_received(4, 4, false, NotEct).unwrap();
        r.on_packet_received(5, 5, true, NotEct).unwrap();
        assert!(!r.ack_now());
    }

    #[test]
    fn handshake_spaces_and_ce_ack_immediately() {
        let mut r = ReceivedPackets::new(AckPolicy::handshake());
        r.on_packet_received(0, 7, true, NotEct).unwrap();
        assert!(r.ack_now());
        assert_eq!(r.ack_deadline(), Some(7));
        let mut r = app();
        r.on_packet_received(0, 7, true, EcnCodepoint::Ce).unwrap();
        assert!(r.ack_now());
        assert_eq!(r.ecn_counts().ce, 1);
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut r = app();
        r.on_packet_received(5, 10, true, EcnCodepoint::Ect0)
            .unwrap();
        r.on_ack_sent();
        assert!(r.is_duplicate(5));
        assert_eq!(
            r.on_packet_received(5, 20, true, EcnCodepoint::Ect0)
                .unwrap(),
            Received::Duplicate
        );
        assert!(!r.has_pending() && r.ack_deadline().is_none());
        assert_eq!(r.ecn_counts().ect0, 1);
        assert_eq!(r.ack_delay(30), 20);
    }

    #[test]
    fn ack_of_ack_trims_ranges() {
        let mut r = app();
        for pn in [0, 1, 3, 4, 6] {
            r.on_packet_received(pn, pn, true, NotEct).unwrap();
        }
        assert_eq!(
            r.ranges().collect::<std::vec::Vec<_>>(),
            [(6, 6), (3, 4), (0, 1)]
        );
        r.on_ack_sent();
        r.on_ack_acked(4);
        assert_eq!(r.ranges().collect::<std::vec::Vec<_>>(), [(6, 6)]);
        assert!(r.is_duplicate(2));
        assert_eq!(r.largest(), Some(6));
    }
}
