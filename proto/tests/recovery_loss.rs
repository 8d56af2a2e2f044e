//! Loss detection under random operations: every sent packet comes back exactly once, with
//! a fate consistent with the ACK frames, and the controller's bytes in flight always equal
//! the detector's.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use quic_proto::recovery::cc::{Algorithm, CcConfig, CongestionControl, Controller};
use quic_proto::recovery::loss::{AckFrame, Fate, LossConfig, LossDetector, PathState, Timeout};
use quic_proto::recovery::sent::{AckError, SentPacket};
use quic_proto::recovery::Space;

#[derive(Debug, Clone)]
enum Op {
    Send {
        space: usize,
        ae: bool,
        in_flight: bool,
        size: u16,
        dt: u64,
    },
    /// Acknowledge the sent packets of `space` picked by `mask` bits (cycled).
    Ack {
        space: usize,
        mask: u64,
        delay: u64,
        dt: u64,
    },
    /// Ranges straight from the fuzzer.
    Garbage {
        space: usize,
        ranges: Vec<(u64, u64)>,
        delay: u64,
    },
    Timeout {
        dt: u64,
    },
    Discard {
        space: usize,
    },
    Path {
        bits: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, any::<bool>(), any::<bool>(), 1u16..1500, 0u64..30_000)
            .prop_map(|(space, ae, in_flight, size, dt)| Op::Send { space, ae, in_flight, size, dt }),
        3 => (0..3usize, any::<u64>(), prop_oneof![0u64..50_000, any::<u64>()], 0u64..200_000)
            .prop_map(|(space, mask, delay, dt)| Op::Ack { space, mask, delay, dt }),
        1 => (0..3usize, proptest::collection::vec((any::<u64>(), any::<u64>()), 0..4), any::<u64>())
            .prop_map(|(space, ranges, delay)| Op::Garbage { space, ranges, delay }),
        2 => (0u64..3_000_000).prop_map(|dt| Op::Timeout { dt }),
        1 => (0..2usize).prop_map(|space| Op::Discard { space }),
        1 => any::<u8>().prop_map(|bits| Op::Path { bits }),
    ]
}

/// Turns a set of packet numbers into ACK ranges, highest first.
fn ranges_of(pns: &BTreeSet<u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &pn in pns.iter().rev() {
        match out.last_mut() {
            Some(r) if r.0 == pn + 1 => r.0 = pn,
            _ => out.push((pn, pn)),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn conservation_under_random_operations(
        ops in proptest::collection::vec(op(), 1..200),
        alg in 0u32..2,
    ) {
        let mut ld: LossDetector<(usize, u64)> = LossDetector::new(LossConfig::default(), 0);
        let mut cc = Controller::new(Algorithm::from_raw(alg).unwrap(), CcConfig::default());
        let mut path = PathState {
            handshake_confirmed: false,
            has_handshake_keys: false,
            peer_completed_address_validation: false,
            at_amplification_limit: false,
        };
        let mut now = 0u64;
        let mut next_pn = [0u64; 3];
        // (space, pn) -> (size, in_flight) of packets not yet handed back.
        let mut outstanding: BTreeMap<(usize, u64), (u16, bool)> = BTreeMap::new();
        let mut handed_back: BTreeSet<(usize, u64)> = BTreeSet::new();
        let mut largest_acked = [None::<u64>; 3];
        let mut discarded = [false; 3];

        for op in ops {
            let mut back: Vec<(Space, Fate, (usize, u64))> = Vec::new();
            let mut acked_now: BTreeSet<u64> = BTreeSet::new();
            let mut ack_space = None;
            match op {
                Op::Send { space, ae, in_flight, size, dt } => {
                    if discarded[space] {
                        continue;
                    }
                    now += dt;
                    let pn = next_pn[space];
                    next_pn[space] += 1 + (pn % 5 == 4) as u64; // skip a number now and then
                    let mut p = SentPacket::new(pn, now, size, (space, pn));
                    p.ack_eliciting = ae;
                    p.in_flight = in_flight || ae;
                    outstanding.insert((space, pn), (size, p.in_flight));
                    ld.on_packet_sent(Space::ALL[space], p, &path, &mut cc).unwrap();
                }
                Op::Ack { space, mask, delay, dt } => {
                    now += dt;
                    let pns: Vec<u64> = outstanding.keys().filter(|k| k.0 == space).map(|k| k.1).collect();
                    let picked: BTreeSet<u64> = pns
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
                        .map(|(_, pn)| *pn)
                        .collect();
                    if picked.is_empty() {
                        continue;
                    }
                    let frame = AckFrame { ranges: ranges_of(&picked), ack_delay: delay, ecn: None };
                    let out = ld
                        .on_ack_received(Space::ALL[space], frame, now, &path, &mut cc, |s, f, p| back.push((s, f, p.meta)))
                        .unwrap();
                    prop_assert_eq!(out.newly_acked as usize, picked.len());
                    let l = *picked.iter().next_back().unwrap();
                    largest_acked[space] = Some(largest_acked[space].map_or(l, |x| x.max(l)));
                    acked_now = picked;
                    ack_space = Some(space);
                }
                Op::Garbage { space, ranges, delay } => {
                    let frame = AckFrame { ranges: ranges.clone(), ack_delay: delay, ecn: None };
                    let before = ld.sent(Space::ALL[space]).len();
                    match ld.on_ack_received(Space::ALL[space], frame, now, &path, &mut cc, |s, f, p| back.push((s, f, p.meta))) {
                        Err(AckError::InvalidRanges) | Err(AckError::UnsentPacket) => {
                            prop_assert!(back.is_empty());
                            prop_assert_eq!(ld.sent(Space::ALL[space]).len(), before);
                        }
                        Ok(_) => {
                            // Accepted only if well formed; account for what it acknowledged.
                            let mut set = BTreeSet::new();
                            for (lo, hi) in &ranges {
                                for k in outstanding.keys().filter(|k| k.0 == space && *lo <= k.1 && k.1 <= *hi) {
                                    set.insert(k.1);
                                }
                            }
                            if let Some(&(_, hi)) = ranges.first() {
                                largest_acked[space] = Some(largest_acked[space].map_or(hi, |x| x.max(hi)));
                            }
                            acked_now = set;
                            ack_space = Some(space);
                        }
                    }
                }
                Op::Timeout { dt } => {
                    now += dt;
                    let due = ld.timer().is_some_and(|t| t <= now);
                    let r = ld.on_timeout(now, &path, &mut cc, |s, f, p| back.push((s, f, p.meta)));
                    if !due {
                        prop_assert_eq!(r, Timeout::NotDue);
                    }
                    if let Timeout::Probe { space } = r {
                        // A space with something to probe for, or the Handshake space standing
                        // in for 1-RTT packets in flight before confirmation.
                        let for_app = space == Space::Handshake
                            && !path.handshake_confirmed
                            && path.has_handshake_keys
                            && ld.sent(Space::Application).ack_eliciting_in_flight() > 0;
                        prop_assert!(ld.sent(space).ack_eliciting_in_flight() > 0 || for_app);
                        prop_assert!(space != Space::Application || path.handshake_confirmed);
                    }
                    if let Timeout::AntiDeadlock { .. } = r {
                        prop_assert!(!path.peer_completed_address_validation);
                    }
                }
                Op::Discard { space } => {
                    discarded[space] = true;
                    ld.discard_space(Space::ALL[space], now, &path, &mut cc, |s, f, p| back.push((s, f, p.meta)));
                    prop_assert!(ld.sent(Space::ALL[space]).is_empty());
                }
                Op::Path { bits } => {
                    path.handshake_confirmed = bits & 1 != 0;
                    path.has_handshake_keys = bits & 2 != 0;
                    path.peer_completed_address_validation = bits & 4 != 0;
                    path.at_amplification_limit = bits & 8 != 0;
                    ld.arm_timer(now, &path);
                }
            }
            // Every handed-back packet was outstanding, is handed back once, and its fate fits.
            for (space, fate, key) in back {
                prop_assert_eq!(Space::ALL[key.0], space);
                prop_assert!(outstanding.remove(&key).is_some(), "{:?} handed back twice", key);
                prop_assert!(handed_back.insert(key));
                match fate {
                    Fate::Acked => prop_assert!(ack_space == Some(key.0) && acked_now.contains(&key.1)),
                    Fate::Lost => prop_assert!(largest_acked[key.0].is_some_and(|l| key.1 < l)),
                    Fate::Discarded => prop_assert!(discarded[key.0]),
                }
            }
            // Everything acknowledged by this frame came back as acknowledged.
            if let Some(space) = ack_space {
                for pn in &acked_now {
                    prop_assert!(!outstanding.contains_key(&(space, *pn)));
                }
            }
            // Bytes in flight agree everywhere.
            let model: u64 = outstanding.values().filter(|v| v.1).map(|v| u64::from(v.0)).sum();
            prop_assert_eq!(ld.bytes_in_flight(), model);
            prop_assert_eq!(cc.bytes_in_flight(), model);
            let tracked: usize = Space::ALL.iter().map(|s| ld.sent(*s).len()).sum();
            prop_assert_eq!(tracked, outstanding.len());
            prop_assert!(cc.window() >= 2 * 1200);
            // A timer exists whenever ack-eliciting packets are in flight and nothing blocks it.
            if ld.has_ack_eliciting_in_flight() && !path.at_amplification_limit {
                let app_only = Space::ALL[..2].iter().all(|s| ld.sent(*s).ack_eliciting_in_flight() == 0);
                if path.handshake_confirmed || !app_only {
                    prop_assert!(ld.timer().is_some());
                }
            }
        }
    }
}
