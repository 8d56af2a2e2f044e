//! Reassembly memory stays within what flow control lets the peer send: a buffer gives its
//! array back once the application read past most of it, even with a gap left at the end.

use quic_proto::stream::{PeerLimits, Side, StreamId, Streams, StreamsConfig};

/// On each of 100 peer streams the peer fills the whole stream window but one byte just before
/// its end (so one byte stays behind a gap); the application reads everything it can. Without
/// giving back the arrays each stream would pin about twice its window (51 MiB in all) for 2
/// bytes of unread credit.
#[test]
fn reassembly_memory_follows_what_is_unread() {
    let cfg = StreamsConfig::DEFAULT;
    let w = cfg.max_stream_data_bidi_remote;
    let mut s = Streams::new(Side::Server, cfg.clone());
    s.set_peer_limits(&PeerLimits::default()).unwrap();
    let data = vec![7u8; w as usize];
    let mut buf = vec![0u8; 65536];
    for k in 0..100u64 {
        let id = StreamId::new(4 * k);
        s.on_stream_frame(id, 0, &data[..(w - 2) as usize], false)
            .unwrap();
        s.on_stream_frame(id, w - 1, &[1], false).unwrap();
        while s.read(id, &mut buf).unwrap().len > 0 {}
        while s.poll_control(0, 0).unwrap().is_some() {}
    }
    let footprint: u64 = s
        .iter()
        .filter_map(|st| st.recv())
        .map(|r| r.footprint() as u64)
        .sum();
    let win = s.conn_recv_window();
    assert_eq!(
        win.received() - win.consumed(),
        200,
        "2 unread bytes a stream"
    );
    assert!(
        footprint <= 100 * 16 * 1024,
        "{} KiB of reassembly memory for 200 unread bytes",
        footprint / 1024
    );
}
