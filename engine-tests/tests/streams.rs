//! Stream data over the simulated link: bulk transfer, many streams, a hostile network, flow
//! control, reset and STOP_SENDING.

use quic_proto::conn::Event;
use quic_proto::stream::{ApiError, Dir, RecvState, SendState, StreamEvent, StreamId, StreamState};
use quic_sim::{LinkParams, Setup, Sim};

const S: u64 = 1_000_000;

/// Deterministic content: byte `i` of stream `id`.
fn pattern(id: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(i as u64 / 251)
                .wrapping_add(id * 7) as u8
        })
        .collect()
}

/// FNV-1a, to compare large buffers in messages.
fn hash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn small_exchange_both_ways() {
    let mut sim = Sim::new(Setup::new(2));
    assert!(sim.handshake(5 * S));
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(id, b"hello server", true);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    assert_eq!(sim.server.received[&id.raw()], b"hello server");
    sim.server.send(id, b"hello client", true);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.fins.contains(&id.raw())));
    assert_eq!(sim.client.received[&id.raw()], b"hello client");
}

fn bulk(mut sim: Sim, len: usize, limit: u64) -> Sim {
    let until = sim.now + 30 * S;
    assert!(sim.handshake(until));
    let c = sim.client.conn_mut().stream_open(Dir::Uni).unwrap();
    let s = sim.server.conn_mut().stream_open(Dir::Uni).unwrap();
    let a = pattern(c.raw(), len);
    let b = pattern(s.raw(), len);
    sim.client.send(c, &a, true);
    sim.server.send(s, &b, true);
    let until = sim.now + limit;
    let ok = sim.run_until(until, |x| {
        x.server.fins.contains(&c.raw()) && x.client.fins.contains(&s.raw())
    });
    let got_a = sim
        .server
        .received
        .get(&c.raw())
        .cloned()
        .unwrap_or_default();
    let got_b = sim
        .client
        .received
        .get(&s.raw())
        .cloned()
        .unwrap_or_default();
    assert!(
        ok,
        "transfer stalled at {}: {} / {} bytes; client {:?} server {:?}",
        sim.now,
        got_a.len(),
        got_b.len(),
        sim.client.conn().stats(),
        sim.server.conn().stats()
    );
    assert_eq!(hash(&got_a), hash(&a));
    assert_eq!(hash(&got_b), hash(&b));
    assert!(got_a == a && got_b == b);
    sim
}

#[test]
fn ten_megabytes_each_way() {
    let mut setup = Setup::new(3);
    setup.c2s.rate = 12_500_000; // 100 Mbit/s
    setup.s2c.rate = 12_500_000;
    let sim = bulk(Sim::new(setup), 10 << 20, 60 * S);
    let st = sim.client.conn().stats();
    println!("10 MB each way in {} ms: {st:?}", sim.now / 1000);
}

#[test]
fn many_concurrent_streams() {
    let mut sim = Sim::new(Setup::new(4));
    assert!(sim.handshake(5 * S));
    let mut ids = Vec::new();
    for _ in 0..100 {
        let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
        sim.client.send(id, &pattern(id.raw(), 10_000), true);
        ids.push(id);
    }
    // The server's limit is 100 concurrent streams: the 101st waits for MAX_STREAMS.
    assert_eq!(
        sim.client.conn_mut().stream_open(Dir::Bidi),
        Err(ApiError::StreamLimit)
    );
    let until = sim.now + 30 * S;
    assert!(sim.run_until(until, |s| ids
        .iter()
        .all(|id| s.server.fins.contains(&id.raw()))));
    for id in &ids {
        assert_eq!(sim.server.received[&id.raw()], pattern(id.raw(), 10_000));
        sim.server.send(*id, &pattern(id.raw() + 1, 5_000), true);
    }
    let until = sim.now + 30 * S;
    assert!(sim.run_until(until, |s| ids
        .iter()
        .all(|id| s.client.fins.contains(&id.raw()))));
    for id in &ids {
        assert_eq!(sim.client.received[&id.raw()], pattern(id.raw() + 1, 5_000));
    }
    // Closed streams gave the client new credit.
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s
        .client
        .conn_mut()
        .stream_open(Dir::Bidi)
        .is_ok()));
    assert!(
        sim.client
            .count(|e| matches!(e, Event::Stream(StreamEvent::MaxStreams { .. })))
            > 0
    );
}

#[test]
fn reordering_duplication_and_corruption() {
    for seed in 0..4 {
        let mut setup = Setup::new(40 + seed);
        let hostile = LinkParams {
            jitter: 15_000,
            dup: 50_000,
            corrupt: 20_000,
            loss: 20_000,
            ..LinkParams::default()
        };
        setup.c2s = hostile.clone();
        setup.s2c = hostile;
        let sim = bulk(Sim::new(setup), 300_000, 120 * S);
        assert!(sim.client.conn().stats().packets_dropped > 0);
    }
}

#[test]
fn bulk_with_loss() {
    let mut setup = Setup::new(5);
    setup.c2s.loss = 30_000;
    setup.s2c.loss = 30_000;
    setup.c2s.rate = 2_500_000;
    setup.s2c.rate = 2_500_000;
    let sim = bulk(Sim::new(setup), 2 << 20, 120 * S);
    assert!(sim.client.conn().stats().packets_lost > 0);
}

#[test]
fn flow_control_blocks_and_unblocks() {
    let mut setup = Setup::new(6);
    setup.server.transport_params.initial_max_data = 20_000;
    setup
        .server
        .transport_params
        .initial_max_stream_data_bidi_remote = 8_000;
    setup.server.max_conn_window = 20_000;
    setup.server.max_stream_window = 8_000;
    let mut sim = Sim::new(setup);
    sim.server.auto_read = false;
    assert!(sim.handshake(5 * S));
    let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    let data = pattern(id.raw(), 100_000);
    sim.client.send(id, &data, true);
    sim.run_for(2 * S);
    // Blocked at the stream window: exactly 8000 bytes sent, STREAM_DATA_BLOCKED reported.
    let sent = sim
        .client
        .conn()
        .streams()
        .get(id)
        .and_then(|s| s.send().map(|p| p.sent()))
        .unwrap();
    assert_eq!(sent, 8_000);
    // The reader drains the stream: credit flows back and the transfer completes.
    let until = sim.now + 30 * S;
    let ok = sim.run_until(until, |s| {
        s.server.read_all();
        s.server.fins.contains(&id.raw())
    });
    assert!(
        ok,
        "stalled at {:?}",
        sim.server.received.get(&id.raw()).map(|v| v.len())
    );
    assert_eq!(sim.server.received[&id.raw()], data);
    assert!(
        sim.client
            .count(|e| matches!(e, Event::Stream(StreamEvent::MaxData { .. })))
            > 0
    );
}

#[test]
fn reset_and_stop_sending() {
    let mut sim = Sim::new(Setup::new(7));
    assert!(sim.handshake(5 * S));
    // The client resets a stream it was writing.
    let a = sim.client.conn_mut().stream_open(Dir::Uni).unwrap();
    sim.client.send(a, &pattern(0, 5000), false);
    sim.run_for(S);
    sim.client.conn_mut().stream_reset(a, 7).unwrap();
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.server.resets.get(&a.raw()) == Some(&7)));
    let reset_recvd = |e: &Event| {
        matches!(
            e,
            Event::Stream(StreamEvent::Update {
                state: StreamState::Recv(RecvState::ResetRecvd),
                errcode: 7,
                ..
            })
        )
    };
    assert_eq!(sim.server.count(reset_recvd), 1);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.count(|e| matches!(
        e,
        Event::Stream(StreamEvent::Update {
            state: StreamState::Send(SendState::ResetRecvd),
            ..
        })
    )) == 1));

    // The server asks the client to stop sending on a bidirectional stream.
    let b = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
    sim.client.send(b, b"some data", false);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.server.received.contains_key(&b.raw())));
    sim.server.conn_mut().stream_stop_sending(b, 9).unwrap();
    let until = sim.now + 5 * S;
    let stopped = |e: &Event| {
        matches!(
            e,
            Event::Stream(StreamEvent::Update {
                state: StreamState::Send(SendState::ResetSent),
                errcode: 9,
                ..
            })
        )
    };
    assert!(sim.run_until(until, |s| s.client.count(stopped) == 1));
    assert_eq!(
        sim.client.conn_mut().stream_write(b, b"more", false),
        Err(ApiError::Stopped(9))
    );
    // The server side still answers on its half.
    sim.server.send(b, b"reply", true);
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.fins.contains(&b.raw())));
    let _ = StreamId::new(0);
}

#[test]
fn gso_batches_full_size_datagrams() {
    let mut setup = Setup::new(8);
    setup.client.max_segments = 10;
    setup.server.max_segments = 10;
    setup.client.pacing = false;
    setup.c2s.rate = 12_500_000;
    setup.s2c.rate = 12_500_000;
    let sim = bulk(Sim::new(setup), 2 << 20, 30 * S);
    assert!(sim.gso_batches > 10, "{} batches", sim.gso_batches);
}

/// Receive-window auto-tuning over a long fat path (100 ms RTT, 100 Mbit/s, BDP 1.25 MB):
/// starting from 64 KiB stream and 128 KiB connection windows, a reader that keeps up lets the
/// windows grow and the transfer runs at several times the speed of fixed windows.
#[test]
fn receive_windows_auto_tune_on_a_long_fat_path() {
    let run = |max_window: u64| {
        let mut setup = Setup::new(9);
        for l in [&mut setup.c2s, &mut setup.s2c] {
            l.delay = 50_000;
            l.rate = 12_500_000;
            l.queue = 200_000;
        }
        for c in [&mut setup.client, &mut setup.server] {
            c.transport_params.initial_max_data = 128 << 10;
            c.transport_params.initial_max_stream_data_uni = 64 << 10;
            c.max_conn_window = (2 * max_window).max(128 << 10);
            c.max_stream_window = max_window.max(64 << 10);
        }
        let mut sim = Sim::new(setup);
        assert!(sim.handshake(5 * S));
        let start = sim.now;
        let sim = bulk(sim, 4 << 20, 120 * S);
        sim.now - start
    };
    let fixed = run(64 << 10);
    let tuned = run(8 << 20);
    println!("4 MiB each way: fixed windows {fixed} us, auto-tuned {tuned} us");
    // Fixed: at most 64 KiB per round trip, about 6.4 s for 4 MiB.
    assert!(fixed > 5 * S, "fixed windows took only {fixed} us");
    assert!(
        tuned * 3 < fixed,
        "auto-tuned {tuned} us vs fixed {fixed} us"
    );
}

/// Writes eleven 100-byte pieces on one stream 1 ms apart (the path's RTT is 20 ms), then
/// optionally a last piece with FIN, and returns how many datagrams with 1-RTT packets the
/// client sent meanwhile and the time the server had everything.
fn small_writes(nodelay: bool, fin_at_end: bool) -> (usize, u64) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let mut setup = Setup::new(12);
    setup.client.stream_data_nodelay = nodelay;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    sim.drop_filter = Some(Box::new(move |from_client, d: &[u8]| {
        if from_client && d[0] & 0x80 == 0 {
            c.fetch_add(1, Ordering::Relaxed);
        }
        false
    }));
    let id = sim.client.conn_mut().stream_open(Dir::Uni).unwrap();
    let start = sim.now;
    let mut all = Vec::new();
    for i in 0..11u8 {
        let piece = [i; 100];
        all.extend_from_slice(&piece);
        sim.client.send(id, &piece, false);
        let t = sim.now + 1000;
        while sim.now < t {
            sim.step_until(t);
        }
    }
    if fin_at_end {
        sim.client.send(id, b"end", true);
        all.extend_from_slice(b"end");
    }
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s
        .server
        .received
        .get(&id.raw())
        .is_some_and(|r| r.len() == all.len())));
    assert_eq!(sim.server.received[&id.raw()], all);
    let done = sim.now - start;
    (count.load(Ordering::Relaxed), done)
}

/// `stream_data_nodelay` off (the socket API's default) is Nagle's rule: small writes while
/// data is in flight are held and leave together once the first packet is acknowledged; on,
/// every write leaves at once. A FIN is never held.
#[test]
fn nagle_coalesces_small_writes_unless_nodelay() {
    let (nagle, _) = small_writes(false, false);
    let (nodelay, _) = small_writes(true, false);
    println!("1-RTT datagrams for 11 small writes: Nagle {nagle}, nodelay {nodelay}");
    assert!(nodelay >= 11, "nodelay sent {nodelay}");
    assert!(nagle <= 3, "Nagle sent {nagle}");
    // With FIN after the pieces, the held data goes with it at once: done in about one
    // round trip after the last write, not waiting for the first packet's ACK.
    let (_, with_fin) = small_writes(false, true);
    let (_, nodelay_fin) = small_writes(true, true);
    assert!(
        with_fin <= nodelay_fin + 5_000,
        "FIN waited: {with_fin} us vs {nodelay_fin} us without Nagle"
    );
}
