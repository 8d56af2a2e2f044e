//! End-to-end: a bulk sender (loss detection + congestion control + pacer) through a
//! drop-tail bottleneck to a receiver that acknowledges with `ReceivedPackets`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use quic_proto::recovery::cc::{Algorithm, CcConfig, CongestionControl, Controller};
use quic_proto::recovery::ecn::EcnCodepoint;
use quic_proto::recovery::loss::{AckFrame, Fate, LossConfig, LossDetector, PathState, Timeout};
use quic_proto::recovery::pacer::Pacer;
use quic_proto::recovery::received::{AckPolicy, Received, ReceivedPackets};
use quic_proto::recovery::sent::SentPacket;
use quic_proto::recovery::Space;

const MDS: u64 = 1200;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A packet reaches the receiver.
    Arrive { pn: u64 },
    /// An ACK frame reaches the sender.
    Ack { ranges: Vec<(u64, u64)>, delay: u64 },
}

struct Link {
    /// Bytes per millisecond.
    rate: u64,
    buffer: u64,
    one_way: u64,
    free_at: u64,
    /// Random loss probability in 1/1000 (deterministic LCG).
    random_loss: u64,
    seed: u64,
}

impl Link {
    /// When a packet sent at `now` arrives, or `None` if dropped.
    fn send(&mut self, now: u64, size: u64) -> Option<u64> {
        let backlog = self.free_at.saturating_sub(now) * self.rate / 1000;
        if backlog + size > self.buffer {
            return None;
        }
        self.free_at = self.free_at.max(now) + size * 1000 / self.rate;
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if (self.seed >> 33) % 1000 < self.random_loss {
            return None;
        }
        Some(self.free_at + self.one_way)
    }
}

#[derive(Debug, Default)]
struct Report {
    /// Unique bytes delivered per second.
    per_second: Vec<u64>,
    lost: u64,
    drops: u64,
    probes: u64,
    persistent: u64,
    max_rtt: u64,
    min_cwnd_after_start: u64,
}

fn run(alg: Algorithm, link: &mut Link, seconds: u64) -> Report {
    let end = seconds * 1_000_000;
    let path = PathState {
        handshake_confirmed: true,
        has_handshake_keys: true,
        peer_completed_address_validation: true,
        at_amplification_limit: false,
    };
    let mut ld: LossDetector<u64> = LossDetector::new(LossConfig::default(), 0);
    let mut cc = Controller::new(
        alg,
        CcConfig {
            max_datagram_size: MDS,
            ..CcConfig::default()
        },
    );
    let mut pacer = Pacer::new(MDS, 10);
    let mut rx = ReceivedPackets::new(AckPolicy::application());
    let mut heap: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut next_pn = 0u64;
    let mut probes = 0u32;
    let mut now = 0u64;
    let mut rep = Report {
        per_second: vec![0; seconds as usize + 1],
        min_cwnd_after_start: u64::MAX,
        ..Report::default()
    };

    loop {
        let t_ev = heap.peek().map(|Reverse((t, _, _))| *t);
        let t_ack = rx.ack_deadline();
        let t_loss = ld.timer();
        let srtt = ld.rtt().smoothed();
        let t_send = if probes > 0 {
            Some(now)
        } else if cc.available() >= MDS {
            Some(pacer.next_send_time(now, MDS, cc.window(), srtt))
        } else {
            None
        };
        let Some(next) = [t_ev, t_ack, t_loss, t_send].into_iter().flatten().min() else {
            break;
        };
        assert!(next >= now, "time went backwards");
        now = next;
        if now > end {
            break;
        }
        if t_ev == Some(now) {
            let Reverse((_, _, ev)) = heap.pop().unwrap();
            match ev {
                Ev::Arrive { pn } => {
                    if rx
                        .on_packet_received(pn, now, true, EcnCodepoint::NotEct)
                        .unwrap()
                        == Received::New
                    {
                        rep.per_second[(now / 1_000_000) as usize] += MDS;
                    }
                }
                Ev::Ack { ranges, delay } => {
                    let frame = AckFrame {
                        ranges,
                        ack_delay: delay,
                        ecn: None,
                    };
                    let out = ld
                        .on_ack_received(
                            Space::Application,
                            frame,
                            now,
                            &path,
                            &mut cc,
                            |_, fate, _| {
                                if fate == Fate::Lost {
                                    rep.lost += 1;
                                }
                            },
                        )
                        .unwrap();
                    rep.persistent += out.persistent_congestion as u64;
                    if out.rtt_sample {
                        rep.max_rtt = rep.max_rtt.max(ld.rtt().latest());
                    }
                    if now > 3_000_000 {
                        rep.min_cwnd_after_start = rep.min_cwnd_after_start.min(cc.window());
                    }
                }
            }
        } else if t_ack == Some(now) || rx.ack_now() {
            let ranges: Vec<(u64, u64)> = rx.ranges().take(32).collect();
            let delay = rx.ack_delay(now);
            rx.on_ack_sent();
            seq += 1;
            heap.push(Reverse((
                now + link.one_way,
                seq,
                Ev::Ack { ranges, delay },
            )));
        } else if t_loss == Some(now) {
            match ld.on_timeout(now, &path, &mut cc, |_, fate, _| {
                if fate == Fate::Lost {
                    rep.lost += 1;
                }
            }) {
                Timeout::Probe { .. } => {
                    probes = 2;
                    rep.probes += 1;
                }
                Timeout::AntiDeadlock { .. } => panic!("validated path"),
                Timeout::Lost { .. } | Timeout::NotDue => {}
            }
        } else {
            probes = probes.saturating_sub(1);
            let pn = next_pn;
            next_pn += 1;
            ld.on_packet_sent(
                Space::Application,
                SentPacket::new(pn, now, MDS as u16, pn),
                &path,
                &mut cc,
            )
            .unwrap();
            pacer.on_sent(now, MDS, cc.window(), srtt);
            match link.send(now, MDS) {
                Some(at) => {
                    seq += 1;
                    heap.push(Reverse((at, seq, Ev::Arrive { pn })));
                }
                None => rep.drops += 1,
            }
        }
    }
    rep
}

fn link(rate_mbit: u64, rtt_ms: u64, buffer_bdp_pct: u64, random_loss: u64) -> Link {
    let rate = rate_mbit * 1_000_000 / 8 / 1000; // bytes per ms
    let bdp = rate * rtt_ms;
    Link {
        rate,
        buffer: (bdp * buffer_bdp_pct / 100).max(4 * MDS),
        one_way: rtt_ms * 1000 / 2,
        free_at: 0,
        random_loss,
        seed: 42,
    }
}

fn check_bulk(alg: Algorithm) {
    // 10 Mbit/s, 40 ms base RTT, one BDP of buffer.
    let mut l = link(10, 40, 100, 0);
    let capacity_per_s = l.rate * 1000;
    let max_queue_delay = l.buffer * 1000 / l.rate;
    let rep = run(alg, &mut l, 20);
    // Congestion was found and handled.
    assert!(rep.drops > 0 && rep.lost > 0, "{alg:?}: {rep:?}");
    assert_eq!(rep.persistent, 0, "{alg:?}: {rep:?}");
    // No spurious loss declarations (nothing is reordered), and drops are found promptly:
    // at most a window's worth can still be undetected when the run stops.
    assert!(
        rep.lost <= rep.drops && rep.drops - rep.lost <= 100,
        "{alg:?}: {rep:?}"
    );
    // After warm-up the link stays busy: at least 90% of capacity every second.
    for (s, bytes) in rep.per_second.iter().enumerate().skip(3).take(16) {
        assert!(
            *bytes * 10 >= capacity_per_s * 9,
            "{alg:?} second {s}: {bytes} of {capacity_per_s}; {rep:?}"
        );
    }
    // RTT never exceeds base + a full buffer + the delayed-ACK timer + a little slack.
    assert!(
        rep.max_rtt <= 40_000 + max_queue_delay + 25_000 + 2_000,
        "{alg:?}: {rep:?}"
    );
    // The window never collapsed in steady state.
    assert!(rep.min_cwnd_after_start >= 10 * MDS, "{alg:?}: {rep:?}");
}

#[test]
fn reno_fills_the_link() {
    check_bulk(Algorithm::Reno);
}

#[test]
fn cubic_fills_the_link() {
    check_bulk(Algorithm::Cubic);
}

#[test]
fn progress_under_random_loss() {
    for alg in [Algorithm::Reno, Algorithm::Cubic] {
        // 2% random loss on top of congestion: the transfer keeps moving every second.
        let mut l = link(20, 60, 50, 20);
        let rep = run(alg, &mut l, 15);
        assert!(rep.lost > 0 && rep.lost <= rep.drops, "{alg:?}: {rep:?}");
        for (s, bytes) in rep.per_second.iter().enumerate().take(15) {
            assert!(*bytes > 0, "{alg:?} stalled in second {s}: {rep:?}");
        }
    }
}

#[test]
fn blackout_backs_off_probes() {
    for alg in [Algorithm::Reno, Algorithm::Cubic] {
        let mut l = link(10, 40, 100, 1000);
        let rep = run(alg, &mut l, 5);
        // Nothing gets through: only PTOs, exponentially backed off (a handful in 5 s).
        assert!(rep.per_second.iter().all(|b| *b == 0));
        assert!(rep.probes >= 2 && rep.probes <= 5, "{alg:?}: {rep:?}");
    }
}
