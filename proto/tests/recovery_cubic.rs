//! CUBIC against floating-point reference values (the crate itself has no floats).

use quic_proto::recovery::cc::{CcConfig, CongestionControl, Cubic};
use quic_proto::recovery::rtt::RttEstimator;

const C: f64 = 0.4;
const BETA: f64 = 0.7;

/// A CUBIC controller grown by slow start to exactly `w` segments.
fn cubic_at(w: u64, mds: u64) -> Cubic {
    let mut c = Cubic::new(CcConfig {
        max_datagram_size: mds,
        ..CcConfig::default()
    });
    let rtt = RttEstimator::new(100_000);
    let grow = w * mds - c.window();
    c.on_packet_sent(0, grow);
    c.on_packet_acked(1, 0, grow, &rtt);
    assert_eq!(c.window(), w * mds);
    c
}

/// `K` in seconds for a window reduced from `w_max` to `cwnd` (both in segments).
fn k_ref(w_max: f64, cwnd: f64) -> f64 {
    ((w_max - cwnd) / C).cbrt()
}

/// Loss at `w` segments at t = 10 us, then one acknowledgment at `t0` starting the epoch.
fn after_loss(w: u64, mds: u64, t0: u64, rtt: &RttEstimator) -> Cubic {
    let mut c = cubic_at(w, mds);
    c.on_congestion_event(10, 5);
    c.on_packet_sent(t0 - 1, mds);
    c.on_packet_acked(t0, t0 - 1, mds, rtt);
    assert_eq!(c.epoch_start(), Some(t0));
    c
}

#[test]
fn k_within_one_percent() {
    let rtt = RttEstimator::new(100_000);
    for mds in [1200u64, 1452, 1500, 9000] {
        for w in [10u64, 16, 37, 100, 1000, 12_345, 100_000] {
            let c = after_loss(w, mds, 1000, &rtt);
            let w_max = c.w_max() as f64 / mds as f64;
            let cwnd_epoch = (w * mds * 7 / 10) as f64 / mds as f64;
            let want = k_ref(w_max, cwnd_epoch) * 1000.0;
            let got = c.k_ms() as f64;
            assert!(
                (got - want).abs() <= want * 0.01 + 1.0,
                "mds {mds} w {w}: K {got} ms, expected {want:.1} ms"
            );
        }
    }
}

#[test]
fn w_cubic_matches_reference_curve() {
    let rtt = RttEstimator::new(100_000);
    let mds = 1200u64;
    let c = after_loss(1000, mds, 1000, &rtt);
    let k = c.k_ms() as f64 / 1000.0;
    let w_max = c.w_max() as f64;
    for t_ms in (0..30_000u64).step_by(250) {
        let t = t_ms as f64 / 1000.0;
        let want = w_max + C * (t - k).powi(3) * mds as f64;
        let got = c.w_cubic(t_ms * 1000) as f64;
        // Integer K and ms time steps: within 0.1% of W_max.
        assert!(
            (got - want).abs() <= w_max * 0.001,
            "t {t}: {got} vs {want:.0}"
        );
    }
}

/// Runs `rounds` round trips of an ACK clock: each RTT the whole window is sent at the start
/// and acknowledged in MDS-sized packets spread evenly over the next RTT. Returns
/// (time since the epoch start, cwnd) after each round.
fn ack_clock(c: &mut Cubic, start: u64, rtt_us: u64, mds: u64, rounds: usize) -> Vec<(u64, u64)> {
    let rtt = RttEstimator::new(rtt_us);
    let mut t = start;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let n = (c.window() / mds).max(1);
        for _ in 0..n {
            c.on_packet_sent(t, mds);
        }
        for i in 0..n {
            c.on_packet_acked(t + rtt_us * (i + 1) / n, t, mds, &rtt);
        }
        t += rtt_us;
        out.push((t - c.epoch_start().unwrap_or(t), c.window()));
    }
    out
}

#[test]
fn concave_then_convex_around_w_max() {
    let mds = 1200u64;
    let rtt_us = 100_000u64;
    let rtt = RttEstimator::new(rtt_us);
    let w = 1000u64;
    let mut c = after_loss(w, mds, 1000, &rtt);
    let k_us = c.k_ms() * 1000;
    let w_max = c.w_max();
    let traj = ack_clock(&mut c, 1000, rtt_us, mds, 200);

    // The window follows the reference curve within 1% of W_max (one RTT of lag allowed:
    // compare against the curve between t and t - RTT).
    let k = k_us as f64 / 1e6;
    let reference = |t_us: u64| w_max as f64 + C * (t_us as f64 / 1e6 - k).powi(3) * mds as f64;
    for &(t, cwnd) in &traj {
        let hi = reference(t + rtt_us).max(reference(t));
        let lo = reference(t.saturating_sub(rtt_us));
        let cwnd = cwnd as f64;
        assert!(
            cwnd >= lo - 0.01 * w_max as f64 && cwnd <= hi + 0.01 * w_max as f64,
            "t {t}: cwnd {cwnd}, reference {lo:.0}..{hi:.0}"
        );
    }

    // Concave below W_max: growth per RTT shrinks; convex above: it increases.
    let growth: Vec<(u64, i64)> = traj
        .windows(2)
        .map(|p| (p[1].0, p[1].1 as i64 - p[0].1 as i64))
        .collect();
    let before: Vec<i64> = growth
        .iter()
        .filter(|(t, _)| *t + 3 * rtt_us < k_us)
        .map(|g| g.1)
        .collect();
    let after: Vec<i64> = growth
        .iter()
        .filter(|(t, _)| *t > k_us + 3 * rtt_us)
        .map(|g| g.1)
        .collect();
    assert!(before.len() > 50 && after.len() > 50);
    // Allow one datagram of jitter from integer steps between neighbours, but require the
    // trend over ten rounds.
    for p in before.windows(10) {
        assert!(
            p[9] <= p[0] + mds as i64,
            "concave region grows faster: {p:?}"
        );
    }
    for p in after.windows(10) {
        assert!(
            p[9] + mds as i64 >= p[0],
            "convex region grows slower: {p:?}"
        );
    }
    assert!(before.first() > before.last());
    assert!(after.last() > after.first());

    // W_max itself is reached within a few RTTs of K (the target runs one RTT ahead).
    let reach = traj
        .iter()
        .find(|(_, cwnd)| *cwnd >= w_max)
        .map(|p| p.0)
        .unwrap();
    assert!(
        reach.abs_diff(k_us) <= 3 * rtt_us,
        "reached W_max at {reach} us, K = {k_us} us"
    );
}

#[test]
fn reno_friendly_region_follows_w_est() {
    // Small window, short RTT: Reno's additive increase beats the flat start of the curve.
    let mds = 1200u64;
    let rtt_us = 10_000u64;
    let rtt = RttEstimator::new(rtt_us);
    let w = 20u64;
    let mut c = after_loss(w, mds, 1000, &rtt);
    let traj = ack_clock(&mut c, 1000, rtt_us, mds, 40);
    let alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
    // Reference: RFC 9438 §4.3 per acknowledgment, W_est += alpha * segments_acked / cwnd
    // (alpha until W_est reaches the window before the loss, then 1), with cwnd = W_est in
    // this region. The ACK clock acknowledges floor(cwnd) segments one by one per RTT; the
    // first acknowledgment came from `after_loss`.
    let step = |est: f64| {
        let a = if est >= w as f64 { 1.0 } else { alpha };
        est + a / est
    };
    let mut est = step(0.7 * w as f64);
    for (round, &(_, cwnd)) in traj.iter().enumerate() {
        for _ in 0..est.floor() as u64 {
            est = step(est);
        }
        let got = cwnd as f64 / mds as f64;
        assert!(
            (got - est).abs() <= 0.05,
            "round {round}: cwnd {got:.3} segments, W_est reference {est:.3}"
        );
        // And clearly above the cubic curve there.
        let t = (round as f64 + 1.0) * rtt_us as f64 / 1e6;
        let cubic = w as f64 + C * (t - k_ref(w as f64, 0.7 * w as f64)).powi(3);
        if round >= 4 {
            assert!(got > cubic + 1.0, "round {round}: {got} vs cubic {cubic}");
        }
    }
}

#[test]
fn fast_convergence_and_reduction() {
    let mds = 1500u64;
    let mut c = cubic_at(100, mds);
    c.on_congestion_event(10, 5);
    assert_eq!(c.window(), 70 * mds);
    assert_eq!(c.w_max(), 100 * mds);
    // A second loss below the previous peak releases bandwidth: W_max = 0.85 * cwnd.
    c.on_congestion_event(20, 15);
    let expected = 70.0 * mds as f64 * (1.0 + BETA) / 2.0;
    assert!((c.w_max() as f64 - expected).abs() < 1.0);
    assert!((c.window() as f64 - 70.0 * BETA * mds as f64).abs() < 1.0);
}

#[test]
fn slow_start_doubles_per_rtt() {
    let mds = 1200u64;
    let mut c = Cubic::new(CcConfig::default());
    let rtt = RttEstimator::new(50_000);
    let mut t = 0;
    for round in 0..8u32 {
        assert_eq!(c.window(), 12_000u64 << round);
        let n = c.window() / mds;
        for _ in 0..n {
            c.on_packet_sent(t, mds);
        }
        for _ in 0..n {
            c.on_packet_acked(t + 50_000, t, mds, &rtt);
        }
        t += 50_000;
    }
    assert_eq!(c.bytes_in_flight(), 0);
}
