//! Loss detection across the three packet number spaces (RFC 9002 §6, Appendix A).
//!
//! [`LossDetector`] owns the sent packets of each space and the connection's RTT estimator.
//! The engine reports every sent packet ([`LossDetector::on_packet_sent`]), every ACK frame
//! ([`LossDetector::on_ack_received`]), expiry of the single loss-detection timer
//! ([`LossDetector::on_timeout`]) and key discard ([`LossDetector::discard_space`]); packets
//! come back through a callback as acknowledged, lost or discarded, and the congestion
//! controller is driven in RFC 9002's order. Conditions owned by the engine (handshake state,
//! address validation, the anti-amplification limit) are passed in as a [`PathState`]; when
//! one of them changes, the engine calls [`LossDetector::arm_timer`].

use super::ecn::{self, EcnCheck, EcnCounts};
use super::persistent::PersistentCongestion;
use super::rtt::RttEstimator;
use super::sent::{AckError, SentError, SentPacket, SentPackets, Walk};
use super::{cc::CongestionControl, Space};

/// `kPacketThreshold` of RFC 9002 §6.1.1.
pub const PACKET_THRESHOLD: u64 = 3;
/// `kTimeThreshold` of RFC 9002 §6.1.2 as a fraction: 9/8.
pub const TIME_THRESHOLD: (u64, u64) = (9, 8);

/// Loss detection thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossConfig {
    /// Packets acknowledged above an unacknowledged one before it is lost (at least 1).
    pub packet_threshold: u64,
    /// Numerator of the time threshold, a multiple of the RTT.
    pub time_threshold_num: u64,
    /// Denominator of the time threshold (at least 1).
    pub time_threshold_den: u64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            packet_threshold: PACKET_THRESHOLD,
            time_threshold_num: TIME_THRESHOLD.0,
            time_threshold_den: TIME_THRESHOLD.1,
        }
    }
}

/// Connection conditions that loss detection depends on but does not own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathState {
    /// The handshake is confirmed (RFC 9001 §4.1.2): application data PTOs may be armed and
    /// `ack_delay` is capped by `max_ack_delay`.
    pub handshake_confirmed: bool,
    /// Handshake keys are available (client anti-deadlock probes use the Handshake space).
    pub has_handshake_keys: bool,
    /// The peer has validated our address: always true for a server; for a client, once it
    /// has received a Handshake ACK or the handshake is confirmed (RFC 9002 §6.2.2.1).
    pub peer_completed_address_validation: bool,
    /// A server blocked by the anti-amplification limit (RFC 9000 §8.1): no PTO is armed.
    pub at_amplification_limit: bool,
}

/// What became of a packet handed back by [`LossDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Acknowledged by the peer.
    Acked,
    /// Declared lost: retransmit what needs retransmitting.
    Lost,
    /// Its packet number space was discarded.
    Discarded,
}

/// An ACK frame, decoded.
#[derive(Debug, Clone)]
pub struct AckFrame<I> {
    /// `(smallest, largest)` ranges, highest first, disjoint, as in the frame.
    pub ranges: I,
    /// The ACK Delay field, already scaled by the peer's `ack_delay_exponent` to microseconds
    /// (saturating).
    pub ack_delay: u64,
    /// The ECN counts of an ACK_ECN frame.
    pub ecn: Option<EcnCounts>,
}

/// What processing an ACK frame found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckOutcome {
    /// Packets newly acknowledged.
    pub newly_acked: u64,
    /// Packets declared lost.
    pub lost: u64,
    /// An RTT sample was taken.
    pub rtt_sample: bool,
    /// The ECN validation check of the frame's counts.
    pub ecn: EcnCheck,
    /// The CE count increased: a congestion event was signalled.
    pub ecn_ce: bool,
    /// Persistent congestion was established.
    pub persistent_congestion: bool,
}

impl Default for AckOutcome {
    fn default() -> Self {
        Self {
            newly_acked: 0,
            lost: 0,
            rtt_sample: false,
            ecn: EcnCheck::NotChecked,
            ecn_ce: false,
            persistent_congestion: false,
        }
    }
}

/// What the engine must do after [`LossDetector::on_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The timer was not due (or not armed): nothing happened.
    NotDue,
    /// Packets of `space` were declared lost by the time threshold (already handed back).
    Lost {
        /// The space the losses were in.
        space: Space,
    },
    /// The PTO expired: send one or two ack-eliciting packets in `space` (RFC 9002 §6.2.4).
    Probe {
        /// The space to probe.
        space: Space,
    },
    /// Client anti-deadlock PTO (RFC 9002 §6.2.2.1): send an ack-eliciting Handshake packet,
    /// or a padded Initial packet when `space` is Initial.
    AntiDeadlock {
        /// Handshake when handshake keys exist, else Initial.
        space: Space,
    },
}

/// The state of `space` (constant indices: no bounds check can fail).
fn state_mut<M>(spaces: &mut [SpaceState<M>; 3], space: Space) -> &mut SpaceState<M> {
    let [i, h, a] = spaces;
    match space {
        Space::Initial => i,
        Space::Handshake => h,
        Space::Application => a,
    }
}

#[derive(Debug)]
struct SpaceState<M> {
    sent: SentPackets<M>,
    largest_acked: Option<u64>,
    loss_time: Option<u64>,
    peer_ecn: EcnCounts,
}

impl<M> SpaceState<M> {
    const fn new() -> Self {
        Self {
            sent: SentPackets::new(),
            largest_acked: None,
            loss_time: None,
            peer_ecn: EcnCounts {
                ect0: 0,
                ect1: 0,
                ce: 0,
            },
        }
    }
}

/// Loss detection state of one connection; `M` is the engine's per-packet record.
#[derive(Debug)]
pub struct LossDetector<M> {
    spaces: [SpaceState<M>; 3],
    rtt: RttEstimator,
    pto_count: u32,
    timer: Option<u64>,
    cfg: LossConfig,
}

impl<M> LossDetector<M> {
    /// A detector with nothing sent, starting from `initial_rtt` microseconds (0: 333 ms).
    pub fn new(cfg: LossConfig, initial_rtt: u64) -> Self {
        Self {
            spaces: [SpaceState::new(), SpaceState::new(), SpaceState::new()],
            rtt: RttEstimator::new(initial_rtt),
            pto_count: 0,
            timer: None,
            cfg: LossConfig {
                packet_threshold: cfg.packet_threshold.max(1),
                time_threshold_num: cfg.time_threshold_num,
                time_threshold_den: cfg.time_threshold_den.max(1),
            },
        }
    }

    /// The RTT estimator.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The RTT estimator, e.g. to set the peer's `max_ack_delay`.
    pub fn rtt_mut(&mut self) -> &mut RttEstimator {
        &mut self.rtt
    }

    /// The sent packets of `space`.
    pub fn sent(&self, space: Space) -> &SentPackets<M> {
        &self.state(space).sent
    }

    /// The largest packet number the peer acknowledged in `space`.
    pub fn largest_acked(&self, space: Space) -> Option<u64> {
        self.state(space).largest_acked
    }

    /// Consecutive PTO expirations without an acknowledgment.
    pub fn pto_count(&self) -> u32 {
        self.pto_count
    }

    /// When the loss detection timer fires, if armed.
    pub fn timer(&self) -> Option<u64> {
        self.timer
    }

    /// Bytes in flight over all spaces.
    pub fn bytes_in_flight(&self) -> u64 {
        self.spaces
            .iter()
            .fold(0u64, |a, s| a.saturating_add(s.sent.bytes_in_flight()))
    }

    /// True when some ack-eliciting packet is in flight in any space.
    pub fn has_ack_eliciting_in_flight(&self) -> bool {
        self.spaces
            .iter()
            .any(|s| s.sent.ack_eliciting_in_flight() > 0)
    }

    fn state(&self, space: Space) -> &SpaceState<M> {
        let [i, h, a] = &self.spaces;
        match space {
            Space::Initial => i,
            Space::Handshake => h,
            Space::Application => a,
        }
    }

    /// Records a packet sent in `space` at `pkt.time_sent` (RFC 9002 §A.5) and re-arms the
    /// timer. On error nothing is recorded.
    pub fn on_packet_sent<C: CongestionControl>(
        &mut self,
        space: Space,
        pkt: SentPacket<M>,
        path: &PathState,
        cc: &mut C,
    ) -> Result<(), SentError> {
        let (now, size, in_flight) = (pkt.time_sent, pkt.size, pkt.in_flight);
        state_mut(&mut self.spaces, space).sent.on_sent(pkt)?;
        if in_flight {
            cc.on_packet_sent(now, u64::from(size));
            self.arm_timer(now, path);
        }
        Ok(())
    }

    /// Processes an ACK frame received in `space` at `now` (RFC 9002 §A.7): newly acknowledged
    /// packets, the RTT sample, ECN counts, loss detection, then congestion control. Packets are
    /// handed to `on_packet` — lost ones first, then acknowledged ones, each in packet number
    /// order. An invalid frame changes nothing and returns the error to close the connection
    /// with.
    pub fn on_ack_received<I, C, F>(
        &mut self,
        space: Space,
        ack: AckFrame<I>,
        now: u64,
        path: &PathState,
        cc: &mut C,
        mut on_packet: F,
    ) -> Result<AckOutcome, AckError>
    where
        I: IntoIterator<Item = (u64, u64)>,
        C: CongestionControl,
        F: FnMut(Space, Fate, SentPacket<M>),
    {
        let sp = state_mut(&mut self.spaces, space);
        let marks = sp.sent.mark_acked(ack.ranges)?;
        sp.largest_acked = Some(
            sp.largest_acked
                .map_or(marks.largest_acked, |l| l.max(marks.largest_acked)),
        );
        let mut out = AckOutcome::default();
        if marks.count == 0 {
            return Ok(out);
        }
        out.newly_acked = marks.count;

        if let Some(t) = marks.largest_newly_acked_time {
            if marks.ack_eliciting {
                // The Initial space's ACKs are not delayed by the peer (RFC 9002 §5.3).
                let delay = if space == Space::Initial {
                    0
                } else {
                    ack.ack_delay
                };
                self.rtt
                    .update(now, now.saturating_sub(t), delay, path.handshake_confirmed);
                cc.on_rtt_sample(now, &self.rtt);
                out.rtt_sample = true;
            }
            // ECN counts are only looked at when the largest acknowledged is new, as older
            // frames may carry older counts (RFC 9000 §13.4.2.1).
            let sp = state_mut(&mut self.spaces, space);
            out.ecn = ecn::validate(&sp.peer_ecn, ack.ecn.as_ref(), marks.ect0, marks.ect1);
            if let Some(counts) = ack.ecn {
                if counts.is_monotonic_from(&sp.peer_ecn) {
                    if counts.ce > sp.peer_ecn.ce {
                        cc.on_congestion_event(now, t);
                        out.ecn_ce = true;
                    }
                    sp.peer_ecn = counts;
                }
            }
        }

        let (lost, persistent) = self.detect_lost(space, now, cc, &mut on_packet);
        out.lost = lost;
        out.persistent_congestion = persistent;

        let rtt = &self.rtt;
        let sp = state_mut(&mut self.spaces, space);
        sp.sent.take_acked(&marks, |p| {
            if p.in_flight {
                cc.on_packet_acked(now, p.time_sent, u64::from(p.size), rtt);
            }
            on_packet(space, Fate::Acked, p);
        });
        sp.sent.compact();

        // A client unsure whether the server validated its address keeps backing off.
        if path.peer_completed_address_validation {
            self.pto_count = 0;
        }
        self.arm_timer(now, path);
        Ok(out)
    }

    /// Declares lost what `space`'s largest acknowledged now implies (RFC 9002 §A.10,
    /// §A.9 OnPacketsLost). Returns the number lost and whether persistent congestion was
    /// established.
    fn detect_lost<C, F>(
        &mut self,
        space: Space,
        now: u64,
        cc: &mut C,
        on_packet: &mut F,
    ) -> (u64, bool)
    where
        C: CongestionControl,
        F: FnMut(Space, Fate, SentPacket<M>),
    {
        let loss_delay = self
            .rtt
            .loss_delay(self.cfg.time_threshold_num, self.cfg.time_threshold_den);
        let mut pc = PersistentCongestion::new(
            self.rtt.persistent_congestion_duration(),
            self.rtt.first_sample_time(),
        );
        let threshold = self.cfg.packet_threshold;
        let sp = state_mut(&mut self.spaces, space);
        sp.loss_time = None;
        let Some(largest) = sp.largest_acked else {
            return (0, false);
        };
        let mut lost = 0u64;
        let mut last_lost_sent: Option<u64> = None;
        let scan = sp.sent.detect_lost(
            largest,
            now.checked_sub(loss_delay),
            loss_delay,
            threshold,
            |w| match w {
                Walk::AckedBetween => pc.on_acked_between(),
                Walk::Lost(p) => {
                    lost += 1;
                    pc.on_lost(p.time_sent, p.ack_eliciting);
                    if p.in_flight {
                        cc.on_packet_lost(u64::from(p.size));
                        last_lost_sent = Some(p.time_sent);
                    }
                    on_packet(space, Fate::Lost, p);
                }
            },
        );
        sp.loss_time = scan.loss_time;
        if let Some(t) = last_lost_sent {
            cc.on_congestion_event(now, t);
        }
        let persistent = pc.established();
        if persistent {
            cc.on_persistent_congestion(now);
        }
        (lost, persistent)
    }

    /// Handles the loss detection timer at `now` (RFC 9002 §A.9). Calls before the deadline
    /// do nothing.
    pub fn on_timeout<C, F>(
        &mut self,
        now: u64,
        path: &PathState,
        cc: &mut C,
        mut on_packet: F,
    ) -> Timeout
    where
        C: CongestionControl,
        F: FnMut(Space, Fate, SentPacket<M>),
    {
        if crate::none_or(self.timer, |t| now < t) {
            return Timeout::NotDue;
        }
        if let Some((_, space)) = self.earliest_loss_time() {
            self.detect_lost(space, now, cc, &mut on_packet);
            state_mut(&mut self.spaces, space).sent.compact();
            self.arm_timer(now, path);
            return Timeout::Lost { space };
        }
        let action = if !self.has_ack_eliciting_in_flight() {
            if path.peer_completed_address_validation {
                self.arm_timer(now, path);
                return Timeout::NotDue;
            }
            let space = if path.has_handshake_keys {
                Space::Handshake
            } else {
                Space::Initial
            };
            Timeout::AntiDeadlock { space }
        } else {
            match self.pto_time_and_space(now, path) {
                Some((_, space)) => Timeout::Probe { space },
                None => {
                    self.arm_timer(now, path);
                    return Timeout::NotDue;
                }
            }
        };
        self.pto_count = self.pto_count.saturating_add(1);
        self.arm_timer(now, path);
        action
    }

    /// Discards `space` once its keys are dropped (RFC 9002 §6.4, §A.11): its packets leave
    /// the flight without a congestion reaction and are handed back as discarded.
    pub fn discard_space<C, F>(
        &mut self,
        space: Space,
        now: u64,
        path: &PathState,
        cc: &mut C,
        mut on_packet: F,
    ) where
        C: CongestionControl,
        F: FnMut(Space, Fate, SentPacket<M>),
    {
        let sp = state_mut(&mut self.spaces, space);
        sp.sent.drain(|p| {
            if p.in_flight {
                cc.on_packet_discarded(u64::from(p.size));
            }
            on_packet(space, Fate::Discarded, p);
        });
        sp.loss_time = None;
        self.pto_count = 0;
        self.arm_timer(now, path);
    }

    /// Recomputes the loss detection timer (RFC 9002 §A.8 SetLossDetectionTimer) and returns
    /// it. Called internally after every event; the engine calls it when [`PathState`] changes.
    pub fn arm_timer(&mut self, now: u64, path: &PathState) -> Option<u64> {
        self.timer = self.compute_timer(now, path);
        self.timer
    }

    fn compute_timer(&self, now: u64, path: &PathState) -> Option<u64> {
        if let Some((t, _)) = self.earliest_loss_time() {
            return Some(t);
        }
        if path.at_amplification_limit {
            return None;
        }
        if !self.has_ack_eliciting_in_flight() && path.peer_completed_address_validation {
            return None;
        }
        self.pto_time_and_space(now, path).map(|(t, _)| t)
    }

    fn earliest_loss_time(&self) -> Option<(u64, Space)> {
        let mut best: Option<(u64, Space)> = None;
        for space in Space::ALL {
            if let Some(t) = self.state(space).loss_time {
                if crate::none_or(best, |(b, _)| t < b) {
                    best = Some((t, space));
                }
            }
        }
        best
    }

    /// When the PTO fires and for which space (RFC 9002 §A.8 GetPtoTimeAndSpace).
    fn pto_time_and_space(&self, now: u64, path: &PathState) -> Option<(u64, Space)> {
        if !self.has_ack_eliciting_in_flight() {
            // Anti-deadlock: counted from now.
            let space = if path.has_handshake_keys {
                Space::Handshake
            } else {
                Space::Initial
            };
            let d = self.rtt.pto_duration(false, self.pto_count);
            return Some((now.saturating_add(d), space));
        }
        let mut best: Option<(u64, Space)> = None;
        for space in Space::ALL {
            let sp = self.state(space);
            if sp.sent.ack_eliciting_in_flight() == 0 {
                continue;
            }
            let app = space == Space::Application;
            if app && !path.handshake_confirmed {
                // No application data PTO before the handshake is confirmed (RFC 9002 §6.2.1).
                // When 1-RTT packets are the only ones in flight the peer may still be missing
                // our last handshake flight (say, a lost Finished whose retransmission waits
                // for congestion window behind those 1-RTT packets): without a timer nothing
                // would ever be sent again, so probe the Handshake space instead.
                if best.is_none() && path.has_handshake_keys {
                    if let Some(last) = sp.sent.time_of_last_ack_eliciting() {
                        let t = last.saturating_add(self.rtt.pto_duration(false, self.pto_count));
                        best = Some((t, Space::Handshake));
                    }
                }
                break;
            }
            let Some(last) = sp.sent.time_of_last_ack_eliciting() else {
                continue;
            };
            let t = last.saturating_add(self.rtt.pto_duration(app, self.pto_count));
            if crate::none_or(best, |(b, _)| t < b) {
                best = Some((t, space));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::ecn::EcnCodepoint;
    use crate::recovery::rtt::RttEstimator;
    use std::vec::Vec;

    const MS: u64 = 1000;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Acked { sent: u64, bytes: u64 },
        Lost(u64),
        Discarded(u64),
        Congestion { now: u64, sent: u64 },
        Persistent,
        Rtt,
    }

    /// A controller that records what it is told.
    #[derive(Default)]
    struct Mock {
        in_flight: u64,
        events: Vec<Ev>,
    }

    impl Mock {
        fn take(&mut self) -> Vec<Ev> {
            core::mem::take(&mut self.events)
        }
        fn count(&self, f: impl Fn(&Ev) -> bool) -> usize {
            self.events.iter().filter(|e| f(e)).count()
        }
    }

    impl CongestionControl for Mock {
        fn on_packet_sent(&mut self, _now: u64, bytes: u64) {
            self.in_flight += bytes;
        }
        fn on_packet_acked(&mut self, _now: u64, sent: u64, bytes: u64, _rtt: &RttEstimator) {
            self.in_flight -= bytes;
            self.events.push(Ev::Acked { sent, bytes });
        }
        fn on_packet_lost(&mut self, bytes: u64) {
            self.in_flight -= bytes;
            self.events.push(Ev::Lost(bytes));
        }
        fn on_packet_discarded(&mut self, bytes: u64) {
            self.in_flight -= bytes;
            self.events.push(Ev::Discarded(bytes));
        }
        fn on_congestion_event(&mut self, now: u64, sent: u64) {
            self.events.push(Ev::Congestion { now, sent });
        }
        fn on_persistent_congestion(&mut self, _now: u64) {
            self.events.push(Ev::Persistent);
        }
        fn on_rtt_sample(&mut self, _now: u64, _rtt: &RttEstimator) {
            self.events.push(Ev::Rtt);
        }
        fn set_app_limited(&mut self, _: bool) {}
        fn set_max_datagram_size(&mut self, _: u64) {}
        fn window(&self) -> u64 {
            u64::MAX
        }
        fn bytes_in_flight(&self) -> u64 {
            self.in_flight
        }
        fn ssthresh(&self) -> u64 {
            u64::MAX
        }
    }

    const SERVER: PathState = PathState {
        handshake_confirmed: true,
        has_handshake_keys: true,
        peer_completed_address_validation: true,
        at_amplification_limit: false,
    };

    struct Harness {
        ld: LossDetector<u64>,
        cc: Mock,
        path: PathState,
        /// (space, fate, pn) handed back.
        back: Vec<(Space, Fate, u64)>,
    }

    impl Harness {
        fn new() -> Self {
            Self {
                ld: LossDetector::new(LossConfig::default(), 0),
                cc: Mock::default(),
                path: SERVER,
                back: Vec::new(),
            }
        }
        fn send(&mut self, space: Space, pn: u64, t: u64) {
            self.send_pkt(space, SentPacket::new(pn, t, 1000, pn));
        }
        fn send_kind(&mut self, space: Space, pn: u64, t: u64, ae: bool, in_flight: bool) {
            let mut p = SentPacket::new(pn, t, 1000, pn);
            p.ack_eliciting = ae;
            p.in_flight = in_flight;
            self.send_pkt(space, p);
        }
        fn send_pkt(&mut self, space: Space, p: SentPacket<u64>) {
            let path = self.path;
            self.ld
                .on_packet_sent(space, p, &path, &mut self.cc)
                .unwrap();
        }
        fn ack_ecn(
            &mut self,
            space: Space,
            ranges: &[(u64, u64)],
            delay: u64,
            ecn: Option<EcnCounts>,
            now: u64,
        ) -> Result<AckOutcome, AckError> {
            let frame = AckFrame {
                ranges: ranges.iter().copied(),
                ack_delay: delay,
                ecn,
            };
            let path = self.path;
            let back = &mut self.back;
            self.ld
                .on_ack_received(space, frame, now, &path, &mut self.cc, |s, f, p| {
                    back.push((s, f, p.meta))
                })
        }
        fn ack(&mut self, space: Space, ranges: &[(u64, u64)], now: u64) -> AckOutcome {
            self.ack_ecn(space, ranges, 0, None, now).unwrap()
        }
        fn timeout(&mut self, now: u64) -> Timeout {
            let path = self.path;
            let back = &mut self.back;
            self.ld.on_timeout(now, &path, &mut self.cc, |s, f, p| {
                back.push((s, f, p.meta))
            })
        }
        fn fates(&mut self, fate: Fate) -> Vec<u64> {
            let v = self
                .back
                .iter()
                .filter(|b| b.1 == fate)
                .map(|b| b.2)
                .collect();
            self.back.retain(|b| b.1 != fate);
            v
        }
    }

    #[test]
    fn packet_threshold_and_order_of_callbacks() {
        let mut h = Harness::new();
        for pn in 0..6 {
            h.send(Space::Application, pn, pn * MS);
        }
        let out = h.ack(Space::Application, &[(4, 5)], 100 * MS);
        // 0, 1 and 2 are 3 or more below the largest acknowledged (5); 3 is not.
        assert_eq!(out.newly_acked, 2);
        assert_eq!(out.lost, 3);
        assert_eq!(
            h.back.iter().map(|b| (b.1, b.2)).collect::<Vec<_>>(),
            [
                (Fate::Lost, 0),
                (Fate::Lost, 1),
                (Fate::Lost, 2),
                (Fate::Acked, 4),
                (Fate::Acked, 5)
            ]
        );
        // CC order: RTT sample, losses, one congestion event (newest lost), then acks.
        assert_eq!(
            h.cc.take(),
            [
                Ev::Rtt,
                Ev::Lost(1000),
                Ev::Lost(1000),
                Ev::Lost(1000),
                Ev::Congestion {
                    now: 100 * MS,
                    sent: 2 * MS
                },
                Ev::Acked {
                    sent: 4 * MS,
                    bytes: 1000
                },
                Ev::Acked {
                    sent: 5 * MS,
                    bytes: 1000
                },
            ]
        );
        assert_eq!(h.cc.in_flight, 1000);
        assert_eq!(h.ld.bytes_in_flight(), 1000);
        // 3 waits for the time threshold: sent at 3 ms, + 9/8 * 95 ms (the RTT sample).
        assert_eq!(h.ld.timer(), Some(3 * MS + 95 * MS * 9 / 8));
    }

    #[test]
    fn time_threshold_with_simulated_clock() {
        let mut h = Harness::new();
        h.send(Space::Application, 0, 0);
        h.send(Space::Application, 1, 10 * MS);
        h.send(Space::Application, 2, 20 * MS);
        h.ack(Space::Application, &[(2, 2)], 120 * MS);
        // RTT 100 ms: loss delay 112.5 ms; 0 was sent before 120 - 112.5 = 7.5 ms.
        assert_eq!(h.fates(Fate::Lost), [0]);
        let deadline = 10 * MS + 112_500;
        assert_eq!(h.ld.timer(), Some(deadline));
        assert_eq!(h.timeout(deadline - 1), Timeout::NotDue);
        assert!(h.fates(Fate::Lost).is_empty());
        h.cc.take();
        assert_eq!(
            h.timeout(deadline),
            Timeout::Lost {
                space: Space::Application
            }
        );
        assert_eq!(h.fates(Fate::Lost), [1]);
        // 1 was sent after the recovery period of the first loss began? No: the recovery
        // began at 120 ms and 1 was sent at 10 ms; the controller decides, we just report.
        assert_eq!(
            h.cc.take(),
            [
                Ev::Lost(1000),
                Ev::Congestion {
                    now: deadline,
                    sent: 10 * MS
                }
            ]
        );
        assert_eq!(h.ld.timer(), None);
        assert_eq!(h.ld.pto_count(), 0);
    }

    #[test]
    fn pto_fires_and_backs_off() {
        let mut h = Harness::new();
        h.send(Space::Initial, 0, 0);
        // No sample: 333 ms + 4 * 166.5 ms.
        let pto = 999 * MS;
        assert_eq!(h.ld.timer(), Some(pto));
        assert_eq!(h.timeout(pto - 1), Timeout::NotDue);
        assert_eq!(
            h.timeout(pto),
            Timeout::Probe {
                space: Space::Initial
            }
        );
        assert_eq!(h.ld.pto_count(), 1);
        // Backed off from the last ack-eliciting send.
        assert_eq!(h.ld.timer(), Some(2 * pto));
        h.send(Space::Initial, 1, pto);
        assert_eq!(h.ld.timer(), Some(pto + 2 * pto));
        assert_eq!(
            h.timeout(3 * pto),
            Timeout::Probe {
                space: Space::Initial
            }
        );
        assert_eq!(h.ld.pto_count(), 2);
        h.send(Space::Initial, 2, 3 * pto);
        assert_eq!(h.ld.timer(), Some(3 * pto + 4 * pto));
        // An acknowledgment resets the backoff; PTOs never declared anything lost.
        assert!(h.fates(Fate::Lost).is_empty());
        h.ack(Space::Initial, &[(2, 2)], 3 * pto + 50 * MS);
        assert_eq!(h.ld.pto_count(), 0);
    }

    #[test]
    fn client_keeps_backoff_until_address_validated() {
        let mut h = Harness::new();
        h.path = PathState {
            handshake_confirmed: false,
            has_handshake_keys: false,
            peer_completed_address_validation: false,
            at_amplification_limit: false,
        };
        h.send(Space::Initial, 0, 0);
        h.send(Space::Initial, 1, 0);
        assert_eq!(
            h.timeout(999 * MS),
            Timeout::Probe {
                space: Space::Initial
            }
        );
        h.ack(Space::Initial, &[(0, 0)], 1000 * MS);
        assert_eq!(h.ld.pto_count(), 1);
    }

    #[test]
    fn pto_space_selection_and_app_data_rules() {
        let mut h = Harness::new();
        h.path.handshake_confirmed = false;
        h.send(Space::Initial, 0, 0);
        h.send(Space::Handshake, 0, 50 * MS);
        h.send(Space::Application, 0, 10 * MS);
        // Earliest of Initial and Handshake; application data is skipped before confirmation.
        assert_eq!(h.ld.timer(), Some(999 * MS));
        let path = h.path;
        h.ld.discard_space(Space::Initial, 60 * MS, &path, &mut h.cc, |_, _, _| {});
        assert_eq!(h.ld.timer(), Some(50 * MS + 999 * MS));
        h.ld.discard_space(Space::Handshake, 60 * MS, &path, &mut h.cc, |_, _, _| {});
        h.path.handshake_confirmed = true;
        let path = h.path;
        // Confirmed: the PTO includes max_ack_delay.
        assert_eq!(
            h.ld.arm_timer(70 * MS, &path),
            Some(10 * MS + 999 * MS + 25 * MS)
        );
        h.ld.rtt_mut().set_max_ack_delay(0);
        assert_eq!(h.ld.arm_timer(70 * MS, &path), Some(10 * MS + 999 * MS));
        // Only application data in flight, handshake not confirmed, Handshake keys still
        // there: the peer may lack our last handshake flight, so a Handshake probe is armed
        // from the last 1-RTT send (without max_ack_delay).
        h.path.handshake_confirmed = false;
        let path = h.path;
        assert_eq!(h.ld.arm_timer(70 * MS, &path), Some(10 * MS + 999 * MS));
        assert_eq!(
            h.timeout(10 * MS + 999 * MS),
            Timeout::Probe {
                space: Space::Handshake
            }
        );
        // Without Handshake keys there is nothing to probe with: no PTO at all.
        h.path.has_handshake_keys = false;
        let path = h.path;
        assert_eq!(h.ld.arm_timer(1100 * MS, &path), None);
    }

    #[test]
    fn anti_deadlock_and_amplification_limit() {
        let mut h = Harness::new();
        h.path = PathState {
            handshake_confirmed: false,
            has_handshake_keys: false,
            peer_completed_address_validation: false,
            at_amplification_limit: false,
        };
        h.send(Space::Initial, 0, 0);
        h.ack(Space::Initial, &[(0, 0)], 100 * MS);
        // Nothing in flight, but the client is not validated: the PTO runs from now.
        let pto = h.ld.rtt().pto_duration(false, 0);
        assert_eq!(h.ld.timer(), Some(100 * MS + pto));
        assert_eq!(
            h.timeout(100 * MS + pto),
            Timeout::AntiDeadlock {
                space: Space::Initial
            }
        );
        assert_eq!(h.ld.timer(), Some(100 * MS + pto + 2 * pto));
        h.path.has_handshake_keys = true;
        assert_eq!(
            h.timeout(100 * MS + 3 * pto),
            Timeout::AntiDeadlock {
                space: Space::Handshake
            }
        );
        // Validated with nothing in flight: no timer.
        h.path.peer_completed_address_validation = true;
        let path = h.path;
        assert_eq!(h.ld.arm_timer(0, &path), None);
        // A server at the amplification limit arms no PTO...
        h.send(Space::Handshake, 0, 200 * MS);
        h.path.at_amplification_limit = true;
        let path = h.path;
        assert_eq!(h.ld.arm_timer(200 * MS, &path), None);
        assert_eq!(h.timeout(u64::MAX), Timeout::NotDue);
        // ...but the loss timer still runs.
        h.send(Space::Handshake, 1, 210 * MS);
        h.send(Space::Handshake, 2, 220 * MS);
        h.ack(Space::Handshake, &[(2, 2)], 300 * MS);
        assert!(h.ld.timer().is_some());
    }

    #[test]
    fn rtt_sample_rules() {
        let mut h = Harness::new();
        h.send(Space::Handshake, 0, 0);
        h.send(Space::Handshake, 1, 10 * MS);
        // Largest acknowledged (1) not newly acknowledged by this frame? It is: sample.
        let out = h.ack(Space::Handshake, &[(1, 1)], 110 * MS);
        assert!(out.rtt_sample);
        assert_eq!(h.ld.rtt().latest(), 100 * MS);
        // Acking 0 later: the frame's largest (1) is not new: no sample.
        let out = h.ack(Space::Handshake, &[(0, 1)], 500 * MS);
        assert_eq!((out.newly_acked, out.rtt_sample), (1, false));
        assert_eq!(h.ld.rtt().latest(), 100 * MS);
        // Only non-ack-eliciting packets newly acknowledged: no sample.
        h.send_kind(Space::Handshake, 2, 600 * MS, false, false);
        let out = h.ack(Space::Handshake, &[(2, 2)], 900 * MS);
        assert_eq!((out.newly_acked, out.rtt_sample), (1, false));
        // Initial ACKs ignore the ack delay; others use it.
        let mut a = Harness::new();
        a.send(Space::Initial, 0, 0);
        a.send(Space::Initial, 1, 0);
        a.ack(Space::Initial, &[(0, 0)], 50 * MS);
        a.ack_ecn(Space::Initial, &[(1, 1)], 20 * MS, None, 100 * MS)
            .unwrap();
        assert_eq!(a.ld.rtt().smoothed(), (7 * 50 * MS + 100 * MS) / 8);
        let mut b = Harness::new();
        b.send(Space::Handshake, 0, 0);
        b.send(Space::Handshake, 1, 0);
        b.ack(Space::Handshake, &[(0, 0)], 50 * MS);
        b.ack_ecn(Space::Handshake, &[(1, 1)], 20 * MS, None, 100 * MS)
            .unwrap();
        assert_eq!(b.ld.rtt().smoothed(), (7 * 50 * MS + 80 * MS) / 8);
    }

    #[test]
    fn invalid_acks_change_nothing() {
        let mut h = Harness::new();
        for pn in 0..5 {
            h.send(Space::Application, pn, pn);
        }
        assert_eq!(
            h.ack_ecn(Space::Application, &[(0, 1), (3, 4)], 0, None, 10),
            Err(AckError::InvalidRanges)
        );
        assert_eq!(
            h.ack_ecn(Space::Application, &[(3, 7)], 0, None, 10),
            Err(AckError::UnsentPacket)
        );
        assert_eq!(
            h.ack_ecn(Space::Handshake, &[(0, 0)], 0, None, 10),
            Err(AckError::UnsentPacket)
        );
        assert!(h.back.is_empty() && h.cc.events.is_empty());
        assert_eq!(h.ld.largest_acked(Space::Application), None);
        assert_eq!(h.ld.sent(Space::Application).len(), 5);
        // An absurd ack delay is harmless.
        let out = h
            .ack_ecn(Space::Application, &[(0, 4)], u64::MAX, None, 10)
            .unwrap();
        assert_eq!(out.newly_acked, 5);
    }

    #[test]
    fn ecn_counts_validate_and_signal_ce() {
        let mut h = Harness::new();
        for pn in 0..4 {
            let mut p = SentPacket::new(pn, pn * MS, 1000, pn);
            p.ecn = EcnCodepoint::Ect0;
            h.send_pkt(Space::Application, p);
        }
        let c = |ect0, ce| Some(EcnCounts { ect0, ect1: 0, ce });
        let out = h
            .ack_ecn(Space::Application, &[(0, 1)], 0, c(2, 0), 50 * MS)
            .unwrap();
        assert_eq!((out.ecn, out.ecn_ce), (EcnCheck::Valid, false));
        h.cc.take();
        let out = h
            .ack_ecn(Space::Application, &[(0, 2)], 0, c(2, 1), 60 * MS)
            .unwrap();
        assert_eq!((out.ecn, out.ecn_ce), (EcnCheck::Valid, true));
        // The congestion event carries the send time of the largest acknowledged.
        assert_eq!(
            h.cc.count(|e| *e
                == Ev::Congestion {
                    now: 60 * MS,
                    sent: 2 * MS
                }),
            1
        );
        // A bleaching path: counts stop moving.
        let out = h
            .ack_ecn(Space::Application, &[(0, 3)], 0, c(2, 1), 70 * MS)
            .unwrap();
        assert_eq!(out.ecn, EcnCheck::Failed);
    }

    #[test]
    fn discard_returns_flight_without_congestion() {
        let mut h = Harness::new();
        h.send(Space::Initial, 0, 0);
        h.send(Space::Initial, 1, 1);
        h.send_kind(Space::Initial, 2, 2, false, false);
        h.send(Space::Handshake, 0, 3);
        let path = h.path;
        let back = &mut h.back;
        h.ld.discard_space(Space::Initial, 10, &path, &mut h.cc, |s, f, p| {
            back.push((s, f, p.meta))
        });
        assert_eq!(h.fates(Fate::Discarded), [0, 1, 2]);
        assert_eq!(h.cc.take(), [Ev::Discarded(1000), Ev::Discarded(1000)]);
        assert_eq!((h.cc.in_flight, h.ld.bytes_in_flight()), (1000, 1000));
        assert!(h.ld.sent(Space::Initial).is_empty());
        assert_eq!(h.ld.timer(), Some(3 + 999 * MS));
    }

    /// Sets up a path with one RTT sample of 100 ms taken at t = 100 ms: the persistent
    /// congestion duration is then (100 + 4 * 50 + 25) * 3 = 975 ms.
    fn with_sample() -> (Harness, u64) {
        let mut h = Harness::new();
        h.send(Space::Application, 0, 0);
        h.ack(Space::Application, &[(0, 0)], 100 * MS);
        let d = h.ld.rtt().persistent_congestion_duration();
        assert_eq!(d, 975 * MS);
        h.cc.take();
        (h, d)
    }

    /// Two ack-eliciting packets `span` apart, then three ACK-only packets; the last is acked
    /// (no RTT sample), which declares the first two lost.
    fn two_losses(span: u64, ack_between: bool) -> Vec<Ev> {
        let (mut h, _) = with_sample();
        let t1 = 200 * MS;
        h.send(Space::Application, 1, t1);
        h.send_kind(Space::Application, 2, t1 + 1, false, true); // PADDING-only, in flight
        h.send(Space::Application, 3, t1 + span);
        for pn in 4..=6 {
            h.send_kind(Space::Application, pn, t1 + span + pn, false, false);
        }
        let ranges: &[(u64, u64)] = if ack_between {
            &[(6, 6), (2, 2)]
        } else {
            &[(6, 6)]
        };
        let out = h.ack(Space::Application, ranges, t1 + span + 10 * MS);
        assert!(!out.rtt_sample);
        assert_eq!(h.ld.rtt().persistent_congestion_duration(), 975 * MS);
        let mut lost = h.fates(Fate::Lost);
        lost.retain(|pn| *pn == 1 || *pn == 3);
        assert_eq!(lost, [1, 3]);
        assert_eq!(
            out.persistent_congestion,
            h.cc.count(|e| *e == Ev::Persistent) == 1
        );
        h.cc.take()
    }

    #[test]
    fn persistent_congestion_exactly_when_due() {
        let d = 975 * MS;
        assert!(!two_losses(d, false).contains(&Ev::Persistent));
        assert!(two_losses(d + 1, false).contains(&Ev::Persistent));
        // An acknowledgment of a packet sent in between prevents it.
        assert!(!two_losses(d + 1, true).contains(&Ev::Persistent));
        assert!(!two_losses(10 * d, true).contains(&Ev::Persistent));
        // The congestion event comes first.
        let evs = two_losses(d + 1, false);
        let ce = evs.iter().position(|e| matches!(e, Ev::Congestion { .. }));
        let pc = evs.iter().position(|e| *e == Ev::Persistent);
        assert!(ce < pc);
    }

    #[test]
    fn no_persistent_congestion_without_prior_rtt_sample() {
        let mut h = Harness::new();
        h.send(Space::Application, 0, 0);
        h.send(Space::Application, 1, 10_000 * MS);
        for pn in 2..=4 {
            h.send_kind(Space::Application, pn, 10_000 * MS + pn, false, false);
        }
        let out = h.ack(Space::Application, &[(4, 4)], 10_100 * MS);
        assert_eq!(out.lost, 2);
        assert!(!out.persistent_congestion);
        // Packets sent before the first sample do not count either.
        let (mut h, d) = with_sample();
        // Sent at 50 ms, before the sample was taken at 100 ms.
        h.send(Space::Application, 1, 50 * MS);
        h.send(Space::Application, 2, 50 * MS + d + 1);
        for pn in 3..=5 {
            h.send_kind(Space::Application, pn, 50 * MS + d + 1 + pn, false, false);
        }
        let out = h.ack(Space::Application, &[(5, 5)], 50 * MS + d + 20 * MS);
        assert_eq!(out.lost, 2);
        assert!(!out.persistent_congestion);
    }
}
