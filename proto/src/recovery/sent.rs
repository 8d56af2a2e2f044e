//! Sent packets of one packet number space, kept until acknowledged, lost or discarded
//! (RFC 9002 §A.1).
//!
//! Storage is a `quic_mem::Vec` in packet number order. Removed packets leave a tombstone
//! that remembers whether it was acknowledged; tombstones at the front are dropped in bulk
//! once they make up half the vector, so removal is amortised O(1) and packets are handed back
//! (with ownership of their metadata) in packet number order. Tombstones also let persistent
//! congestion detection see that a packet sent between two lost ones was acknowledged.

use quic_mem::{AllocError, Vec};

use super::ecn::EcnCodepoint;

/// A packet we sent, as loss recovery tracks it.
///
/// `M` is the engine's opaque record of what the packet carried (frames to retransmit or to
/// mark delivered); it is handed back when the packet is acknowledged, lost or discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPacket<M> {
    /// Packet number.
    pub pn: u64,
    /// When it was sent (microseconds).
    pub time_sent: u64,
    /// Bytes counted against the congestion window (the QUIC packet's size on the wire).
    pub size: u16,
    /// Contains at least one ack-eliciting frame.
    pub ack_eliciting: bool,
    /// Counts towards bytes in flight: ack-eliciting or carrying PADDING (RFC 9002 §2).
    pub in_flight: bool,
    /// The ECN codepoint the packet was sent with.
    pub ecn: EcnCodepoint,
    /// The engine's record of the packet's contents.
    pub meta: M,
}

impl<M> SentPacket<M> {
    /// An ack-eliciting, in-flight, not ECN-marked packet.
    pub fn new(pn: u64, time_sent: u64, size: u16, meta: M) -> Self {
        Self {
            pn,
            time_sent,
            size,
            ack_eliciting: true,
            in_flight: true,
            ecn: EcnCodepoint::NotEct,
            meta,
        }
    }

    fn counts_ack_eliciting(&self) -> bool {
        self.ack_eliciting && self.in_flight
    }
}

/// Why a packet could not be recorded as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentError {
    /// Out of memory; nothing was recorded (the engine should not send the packet).
    Alloc,
    /// The packet number is not above every packet number already sent in this space.
    PacketNumberOrder,
}

impl From<AllocError> for SentError {
    fn from(_: AllocError) -> Self {
        Self::Alloc
    }
}

/// Why an ACK frame's ranges were rejected; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// A range has `smallest > largest`, or ranges are not in strictly descending,
    /// non-overlapping order (FRAME_ENCODING_ERROR).
    InvalidRanges,
    /// A packet number we never sent in this space was acknowledged (PROTOCOL_VIOLATION,
    /// RFC 9000 §13.1).
    UnsentPacket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sent, fate unknown.
    Outstanding,
    /// Newly acknowledged by the ACK frame being processed.
    AckPending,
    /// Removed after being acknowledged.
    GoneAcked,
    /// Removed for another reason (lost).
    GoneLost,
}

#[derive(Debug)]
struct Slot<M> {
    pn: u64,
    state: State,
    pkt: Option<SentPacket<M>>,
}

/// What marking an ACK frame's ranges found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AckMarks {
    /// The frame's largest acknowledged packet number.
    pub largest_acked: u64,
    /// Sent time of the largest acknowledged packet, when this frame newly acknowledged it.
    pub largest_newly_acked_time: Option<u64>,
    /// Packets newly acknowledged.
    pub count: u64,
    /// At least one newly acknowledged packet was ack-eliciting.
    pub ack_eliciting: bool,
    /// Newly acknowledged packets sent with ECT(0) / ECT(1).
    pub ect0: u64,
    pub ect1: u64,
    /// Index span of the marked slots.
    lo: usize,
    hi: usize,
}

/// What a loss-detection walk meets, in send order.
#[derive(Debug)]
pub(crate) enum Walk<M> {
    /// An acknowledged packet.
    AckedBetween,
    /// A packet now declared lost and removed.
    Lost(SentPacket<M>),
}

/// Result of a loss-detection walk over one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LossScan {
    /// When the earliest packet not yet lost would become lost by the time threshold.
    pub loss_time: Option<u64>,
}

/// The packets sent in one packet number space and not yet acknowledged, lost or discarded.
#[derive(Debug)]
pub struct SentPackets<M> {
    slots: Vec<Slot<M>>,
    /// Slots before `front` are all tombstones.
    front: usize,
    live: usize,
    largest_sent: Option<u64>,
    last_time_sent: u64,
    time_of_last_ack_eliciting: Option<u64>,
    ack_eliciting_in_flight: usize,
    bytes_in_flight: u64,
}

/// Tombstones at the front are only compacted away once there are at least this many.
const COMPACT_MIN: usize = 16;

impl<M> SentPackets<M> {
    /// No packets.
    pub const fn new() -> Self {
        Self {
            slots: Vec::new(),
            front: 0,
            live: 0,
            largest_sent: None,
            last_time_sent: 0,
            time_of_last_ack_eliciting: None,
            ack_eliciting_in_flight: 0,
            bytes_in_flight: 0,
        }
    }

    /// Records a sent packet. Packet numbers must increase; a `time_sent` earlier than a
    /// previous packet's is raised to it (loss detection relies on send order = time order).
    pub fn on_sent(&mut self, mut pkt: SentPacket<M>) -> Result<(), SentError> {
        if self.largest_sent.is_some_and(|l| pkt.pn <= l) {
            return Err(SentError::PacketNumberOrder);
        }
        pkt.time_sent = pkt.time_sent.max(self.last_time_sent);
        let (pn, time, size) = (pkt.pn, pkt.time_sent, pkt.size);
        let (ae, in_flight) = (pkt.counts_ack_eliciting(), pkt.in_flight);
        self.slots.push(Slot {
            pn,
            state: State::Outstanding,
            pkt: Some(pkt),
        })?;
        self.largest_sent = Some(pn);
        self.last_time_sent = time;
        self.live += 1;
        if in_flight {
            self.bytes_in_flight = self.bytes_in_flight.saturating_add(u64::from(size));
        }
        if ae {
            self.ack_eliciting_in_flight += 1;
            self.time_of_last_ack_eliciting = Some(time);
        }
        Ok(())
    }

    /// Packets tracked.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no packet is tracked.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of tracked in-flight packets.
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// Tracked packets that are both ack-eliciting and in flight.
    pub fn ack_eliciting_in_flight(&self) -> usize {
        self.ack_eliciting_in_flight
    }

    /// When the last ack-eliciting packet was sent (kept after it is acknowledged).
    pub fn time_of_last_ack_eliciting(&self) -> Option<u64> {
        self.time_of_last_ack_eliciting
    }

    /// The largest packet number sent.
    pub fn largest_sent(&self) -> Option<u64> {
        self.largest_sent
    }

    /// The tracked packets, in packet number order (e.g. to pick data for a PTO probe).
    pub fn iter(&self) -> impl Iterator<Item = &SentPacket<M>> + '_ {
        self.live_slots().iter().filter_map(|s| s.pkt.as_ref())
    }

    /// The tracked packet `pn`.
    pub fn get(&self, pn: u64) -> Option<&SentPacket<M>> {
        let live = self.live_slots();
        let i = live.partition_point(|s| s.pn < pn);
        live.get(i)
            .filter(|s| s.pn == pn)
            .and_then(|s| s.pkt.as_ref())
    }

    fn live_slots(&self) -> &[Slot<M>] {
        self.slots.get(self.front..).unwrap_or(&[])
    }

    /// Marks the packets covered by `ranges` (`(smallest, largest)` pairs, highest first, as
    /// in an ACK frame) as newly acknowledged. On error nothing stays marked.
    pub(crate) fn mark_acked<I>(&mut self, ranges: I) -> Result<AckMarks, AckError>
    where
        I: IntoIterator<Item = (u64, u64)>,
    {
        let mut marks = AckMarks {
            lo: usize::MAX,
            ..AckMarks::default()
        };
        let mut prev_smallest: Option<u64> = None;
        for (smallest, largest) in ranges {
            let bad = smallest > largest || prev_smallest.is_some_and(|p| largest >= p);
            let unsent =
                prev_smallest.is_none() && crate::none_or(self.largest_sent, |l| largest > l);
            if bad || unsent {
                self.undo_marks(&marks);
                return Err(if bad {
                    AckError::InvalidRanges
                } else {
                    AckError::UnsentPacket
                });
            }
            if prev_smallest.is_none() {
                marks.largest_acked = largest;
            }
            prev_smallest = Some(smallest);
            let start = self.front + self.live_slots().partition_point(|s| s.pn < smallest);
            let mut i = start;
            while let Some(slot) = self.slots.get_mut(i) {
                if slot.pn > largest {
                    break;
                }
                if slot.state == State::Outstanding {
                    if let Some(p) = slot.pkt.as_ref() {
                        slot.state = State::AckPending;
                        marks.count += 1;
                        marks.ack_eliciting |= p.ack_eliciting;
                        match p.ecn {
                            EcnCodepoint::Ect0 => marks.ect0 += 1,
                            EcnCodepoint::Ect1 => marks.ect1 += 1,
                            _ => {}
                        }
                        if p.pn == marks.largest_acked {
                            marks.largest_newly_acked_time = Some(p.time_sent);
                        }
                        marks.lo = marks.lo.min(i);
                        marks.hi = marks.hi.max(i);
                    }
                }
                i += 1;
            }
        }
        Ok(marks)
    }

    /// Reverts [`Self::mark_acked`].
    fn undo_marks(&mut self, marks: &AckMarks) {
        if marks.count == 0 {
            return;
        }
        for slot in self.span_mut(marks.lo, marks.hi) {
            if slot.state == State::AckPending {
                slot.state = State::Outstanding;
            }
        }
    }

    fn span_mut(&mut self, lo: usize, hi: usize) -> &mut [Slot<M>] {
        let end = hi.saturating_add(1).min(self.slots.len());
        self.slots.get_mut(lo..end).unwrap_or(&mut [])
    }

    /// Removes a slot's packet, keeping the counters right.
    fn take(&mut self, i: usize, gone: State) -> Option<SentPacket<M>> {
        let slot = self.slots.get_mut(i)?;
        let pkt = slot.pkt.take()?;
        slot.state = gone;
        self.live = self.live.saturating_sub(1);
        if pkt.in_flight {
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(u64::from(pkt.size));
        }
        if pkt.counts_ack_eliciting() {
            self.ack_eliciting_in_flight = self.ack_eliciting_in_flight.saturating_sub(1);
        }
        Some(pkt)
    }

    /// Declares lost, removes and hands to `on_lost` (in packet number order) every
    /// outstanding packet at or below `largest_acked` that was sent at or before
    /// `lost_send_time` or is at least `packet_threshold` below `largest_acked`
    /// (RFC 9002 §6.1). `on_walk` also sees each acknowledged packet met on the way (one
    /// between lost packets breaks a persistent congestion run).
    pub(crate) fn detect_lost(
        &mut self,
        largest_acked: u64,
        lost_send_time: Option<u64>,
        loss_delay: u64,
        packet_threshold: u64,
        mut on_walk: impl FnMut(Walk<M>),
    ) -> LossScan {
        let mut scan = LossScan::default();
        let mut i = self.front;
        while let Some(slot) = self.slots.get(i) {
            if slot.pn > largest_acked {
                break;
            }
            match slot.state {
                State::AckPending | State::GoneAcked => on_walk(Walk::AckedBetween),
                State::GoneLost => {}
                State::Outstanding => {
                    let Some(p) = slot.pkt.as_ref() else { break };
                    let by_time = lost_send_time.is_some_and(|t| p.time_sent <= t);
                    let by_count = largest_acked - slot.pn >= packet_threshold;
                    if !(by_time || by_count) {
                        // Send order is time order, so every later packet is younger and has
                        // a larger number: none of them is lost, and this one goes first.
                        scan.loss_time = Some(p.time_sent.saturating_add(loss_delay));
                        break;
                    }
                    if let Some(pkt) = self.take(i, State::GoneLost) {
                        on_walk(Walk::Lost(pkt));
                    }
                }
            }
            i += 1;
        }
        scan
    }

    /// Removes the packets marked by [`Self::mark_acked`] and hands them to `on_acked` in
    /// packet number order.
    pub(crate) fn take_acked(&mut self, marks: &AckMarks, mut on_acked: impl FnMut(SentPacket<M>)) {
        if marks.count == 0 {
            return;
        }
        let end = marks.hi.saturating_add(1).min(self.slots.len());
        for i in marks.lo..end {
            if self
                .slots
                .get(i)
                .is_some_and(|s| s.state == State::AckPending)
            {
                if let Some(pkt) = self.take(i, State::GoneAcked) {
                    on_acked(pkt);
                }
            }
        }
    }

    /// Removes every packet, handing each to `f` in packet number order (RFC 9002 §6.4).
    /// Packet number order and timing state are kept; the counters return to zero.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(SentPacket<M>)) {
        for i in self.front..self.slots.len() {
            if let Some(pkt) = self.take(i, State::GoneLost) {
                f(pkt);
            }
        }
        self.slots.clear();
        self.front = 0;
        self.time_of_last_ack_eliciting = None;
    }

    /// Drops tombstones from the front; amortised O(1) per removed packet.
    pub(crate) fn compact(&mut self) {
        while self.slots.get(self.front).is_some_and(|s| s.pkt.is_none()) {
            self.front += 1;
        }
        if self.front == self.slots.len() {
            self.slots.clear();
            self.front = 0;
        } else if self.front >= COMPACT_MIN && self.front.saturating_mul(2) >= self.slots.len() {
            self.slots.drain_front(self.front);
            self.front = 0;
        }
    }
}

impl<M> Default for SentPackets<M> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(pns: impl IntoIterator<Item = u64>) -> SentPackets<u64> {
        let mut s = SentPackets::new();
        for pn in pns {
            s.on_sent(SentPacket::new(pn, pn * 10, 1000, pn)).unwrap();
        }
        s
    }

    #[test]
    fn counters_follow_sends() {
        let mut s = space(0..3);
        let mut ack_only = SentPacket::new(3, 30, 50, 3);
        ack_only.ack_eliciting = false;
        ack_only.in_flight = false;
        s.on_sent(ack_only).unwrap();
        assert_eq!(
            (s.len(), s.bytes_in_flight(), s.ack_eliciting_in_flight()),
            (4, 3000, 3)
        );
        assert_eq!(s.time_of_last_ack_eliciting(), Some(20));
        assert_eq!(
            s.on_sent(SentPacket::new(3, 40, 1, 9)),
            Err(SentError::PacketNumberOrder)
        );
        // Time never goes backwards within a space.
        s.on_sent(SentPacket::new(10, 5, 1, 10)).unwrap();
        assert_eq!(s.get(10).map(|p| p.time_sent), Some(30));
    }

    #[test]
    fn ack_marks_and_hands_back_in_order() {
        let mut s = space([0, 1, 2, 4, 5, 6, 8]);
        let m = s.mark_acked([(5, 8), (0, 1)]).unwrap();
        assert_eq!(m.largest_acked, 8);
        assert_eq!(m.count, 5);
        assert_eq!(m.largest_newly_acked_time, Some(80));
        let mut got = std::vec::Vec::new();
        s.take_acked(&m, |p| got.push(p.meta));
        assert_eq!(got, [0, 1, 5, 6, 8]);
        assert_eq!(s.iter().map(|p| p.pn).collect::<std::vec::Vec<_>>(), [2, 4]);
        assert_eq!(s.bytes_in_flight(), 2000);
        // Acking the same again marks nothing; the largest is not newly acknowledged.
        let m = s.mark_acked([(5, 8)]).unwrap();
        assert_eq!((m.count, m.largest_newly_acked_time), (0, None));
    }

    #[test]
    fn bad_ranges_change_nothing() {
        let mut s = space(0..10);
        // Not descending.
        assert_eq!(s.mark_acked([(0, 1), (3, 4)]), Err(AckError::InvalidRanges));
        // Overlapping.
        assert_eq!(s.mark_acked([(3, 6), (0, 3)]), Err(AckError::InvalidRanges));
        // smallest > largest.
        assert_eq!(s.mark_acked([(5, 4)]), Err(AckError::InvalidRanges));
        // Beyond what was sent.
        assert_eq!(s.mark_acked([(5, 10)]), Err(AckError::UnsentPacket));
        assert_eq!(
            SentPackets::<u64>::new().mark_acked([(0, 0)]),
            Err(AckError::UnsentPacket)
        );
        let m = s.mark_acked([(0, 9)]).unwrap();
        assert_eq!(m.count, 10);
    }

    #[test]
    fn loss_walk_by_threshold_and_time() {
        let mut s = space(0..10);
        let m = s.mark_acked([(5, 5)]).unwrap();
        let mut lost = std::vec::Vec::new();
        let mut breaks = 0;
        // Packet threshold 3: 0, 1, 2 are lost; 3 is not and arms the loss time.
        let scan = s.detect_lost(5, None, 7, 3, |w| match w {
            Walk::AckedBetween => breaks += 1,
            Walk::Lost(p) => lost.push(p.pn),
        });
        assert_eq!(lost, [0, 1, 2]);
        assert_eq!(scan.loss_time, Some(30 + 7));
        assert_eq!(breaks, 0);
        s.take_acked(&m, |_| {});
        s.compact();
        // Time threshold: everything sent at or before t=60 is lost.
        lost.clear();
        let m = s.mark_acked([(9, 9)]).unwrap();
        let scan = s.detect_lost(9, Some(60), 7, 100, |w| match w {
            Walk::AckedBetween => breaks += 1,
            Walk::Lost(p) => lost.push(p.pn),
        });
        assert_eq!(lost, [3, 4, 6]);
        // 5 (acked earlier) sat between lost packets.
        assert_eq!(breaks, 1);
        assert_eq!(scan.loss_time, Some(70 + 7));
        s.take_acked(&m, |_| {});
        assert_eq!(s.iter().map(|p| p.pn).collect::<std::vec::Vec<_>>(), [7, 8]);
    }

    #[test]
    fn compaction_bounds_storage() {
        let mut s = SentPackets::new();
        for pn in 0..10_000u64 {
            s.on_sent(SentPacket::new(pn, pn, 1200, ())).unwrap();
            if pn >= 3 {
                let m = s.mark_acked([(pn - 3, pn - 3)]).unwrap();
                s.take_acked(&m, |_| {});
                s.compact();
            }
            assert!(s.slots.len() <= 2 * COMPACT_MIN + 8, "{}", s.slots.len());
        }
        assert_eq!(s.len(), 3);
        let mut n = 0;
        s.drain(|_| n += 1);
        assert_eq!(
            (n, s.len(), s.bytes_in_flight(), s.ack_eliciting_in_flight()),
            (3, 0, 0, 0)
        );
    }
}
