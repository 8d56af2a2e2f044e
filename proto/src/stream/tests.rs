//! Tests of the stream map: limits, frame rules, flow control, and two endpoints exchanging
//! data over a lossy, reordering simulated network.

use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec as StdVec;

use super::id::MAX_STREAMS;
use super::recv::DEFAULT_MAX_RANGES;
use super::*;
use crate::varint;

const CLIENT_BIDI_0: StreamId = StreamId::new(0);
const CLIENT_UNI_0: StreamId = StreamId::new(2);
const SERVER_BIDI_0: StreamId = StreamId::new(1);
const SERVER_UNI_0: StreamId = StreamId::new(3);

fn limits(c: &StreamsConfig) -> PeerLimits {
    PeerLimits {
        max_streams_bidi: c.max_streams_bidi,
        max_streams_uni: c.max_streams_uni,
        max_data: c.max_data,
        max_stream_data_bidi_local: c.max_stream_data_bidi_local,
        max_stream_data_bidi_remote: c.max_stream_data_bidi_remote,
        max_stream_data_uni: c.max_stream_data_uni,
    }
}

/// A connected pair with the given configurations.
fn pair(client: StreamsConfig, server: StreamsConfig) -> (Streams, Streams) {
    let mut c = Streams::new(Side::Client, client.clone());
    let mut s = Streams::new(Side::Server, server.clone());
    c.set_peer_limits(&limits(&server)).unwrap();
    s.set_peer_limits(&limits(&client)).unwrap();
    for x in [&mut c, &mut s] {
        x.set_event_enabled(EventKind::Update, true);
        x.set_event_enabled(EventKind::MaxData, true);
        x.set_event_enabled(EventKind::MaxStreams, true);
    }
    (c, s)
}

fn events(s: &mut Streams) -> StdVec<StreamEvent> {
    let mut v = StdVec::new();
    while let Some(e) = s.poll_event() {
        v.push(e);
    }
    v
}

fn controls(s: &mut Streams) -> StdVec<ControlFrame> {
    let mut v = StdVec::new();
    while let Some(f) = s.poll_control(0, 0).unwrap() {
        v.push(f);
    }
    v
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    Ctrl(ControlFrame),
    Data {
        id: StreamId,
        offset: u64,
        fin: bool,
        data: StdVec<u8>,
    },
}

fn deliver(to: &mut Streams, f: &Frame) -> Result<Delivery, StreamError> {
    match f {
        Frame::Data {
            id,
            offset,
            fin,
            data,
        } => to.on_stream_frame(*id, *offset, data, *fin),
        Frame::Ctrl(c) => {
            match *c {
                ControlFrame::MaxData(m) => to.on_max_data(m)?,
                ControlFrame::DataBlocked(l) => to.on_data_blocked(l),
                ControlFrame::MaxStreams { dir, max } => to.on_max_streams(dir, max)?,
                ControlFrame::StreamsBlocked { dir, limit } => to.on_streams_blocked(dir, limit)?,
                ControlFrame::MaxStreamData { id, max } => to.on_max_stream_data(id, max)?,
                ControlFrame::StreamDataBlocked { id, limit } => {
                    to.on_stream_data_blocked(id, limit)?
                }
                ControlFrame::ResetStream {
                    id,
                    code,
                    final_size,
                } => to.on_reset_stream(id, code, final_size)?,
                ControlFrame::StopSending { id, code } => to.on_stop_sending(id, code)?,
            }
            Ok(Delivery::Accepted)
        }
    }
}

fn settle(from: &mut Streams, frames: &[Frame], lost: bool) {
    for f in frames {
        match f {
            Frame::Ctrl(c) if lost => from.on_control_lost(c).unwrap(),
            Frame::Ctrl(c) => from.on_control_acked(c).unwrap(),
            Frame::Data {
                id,
                offset,
                fin,
                data,
            } => {
                if lost {
                    from.on_stream_lost(*id, *offset, data.len(), *fin).unwrap();
                } else {
                    from.on_stream_acked(*id, *offset, data.len(), *fin)
                        .unwrap();
                }
            }
        }
    }
}

/// Frames for one packet of at most `mtu` bytes of frames (control frames counted as 24).
fn packet(s: &mut Streams, now: u64, srtt: u64, mtu: usize) -> StdVec<Frame> {
    let mut frames = StdVec::new();
    let mut room = mtu;
    while room >= 24 {
        match s.poll_control(now, srtt).unwrap() {
            Some(c) => {
                frames.push(Frame::Ctrl(c));
                room -= 24;
            }
            None => break,
        }
    }
    while room > 0 {
        let Some(ch) = s.poll_stream_frame(room).unwrap() else {
            break;
        };
        let size = 1
            + varint::size(ch.id.raw())
            + if ch.offset > 0 {
                varint::size(ch.offset)
            } else {
                0
            }
            + varint::size(room as u64)
            + ch.data.len();
        assert!(size <= room, "frame of {size} bytes in {room}");
        room -= size;
        frames.push(Frame::Data {
            id: ch.id,
            offset: ch.offset,
            fin: ch.fin,
            data: ch.data.to_vec(),
        });
    }
    frames
}

/// One-way transfer of everything `from` wants to send, without loss.
fn flush(from: &mut Streams, to: &mut Streams) {
    for _ in 0..10_000 {
        let frames = packet(from, 0, 0, 1200);
        if frames.is_empty() {
            return;
        }
        for f in &frames {
            assert_eq!(deliver(to, f), Ok(Delivery::Accepted));
        }
        settle(from, &frames, false);
    }
    panic!("flush does not terminate");
}

#[test]
fn local_stream_limit_and_max_streams() {
    let server = StreamsConfig {
        max_streams_bidi: 2,
        max_streams_uni: 0,
        ..StreamsConfig::DEFAULT
    };
    let (mut c, _s) = pair(StreamsConfig::DEFAULT, server);
    assert_eq!(c.open(Dir::Bidi), Ok(StreamId::new(0)));
    assert_eq!(c.next_local_id(Dir::Bidi), Some(StreamId::new(4)));
    assert_eq!(c.open(Dir::Bidi), Ok(StreamId::new(4)));
    assert_eq!(c.open(Dir::Bidi), Err(ApiError::StreamLimit));
    assert_eq!(c.open(Dir::Uni), Err(ApiError::StreamLimit));
    assert_eq!(c.next_local_id(Dir::Bidi), None);
    let ctl = controls(&mut c);
    assert_eq!(
        ctl,
        [
            ControlFrame::StreamsBlocked {
                dir: Dir::Bidi,
                limit: 2
            },
            ControlFrame::StreamsBlocked {
                dir: Dir::Uni,
                limit: 0
            }
        ]
    );
    // Once per limit, and again when lost.
    assert_eq!(c.open(Dir::Bidi), Err(ApiError::StreamLimit));
    assert!(controls(&mut c).is_empty());
    c.on_control_lost(&ctl[0]).unwrap();
    assert_eq!(controls(&mut c), [ctl[0]]);
    // A MAX_STREAMS that does not raise the limit is ignored.
    c.on_max_streams(Dir::Bidi, 1).unwrap();
    assert!(events(&mut c).is_empty());
    c.on_max_streams(Dir::Bidi, 3).unwrap();
    assert_eq!(
        events(&mut c),
        [StreamEvent::MaxStreams {
            dir: Dir::Bidi,
            max: 3,
            last_id: StreamId::new(8)
        }]
    );
    // The lost STREAMS_BLOCKED for the old limit is no longer sent.
    c.on_control_lost(&ctl[0]).unwrap();
    assert!(controls(&mut c).is_empty());
    assert_eq!(c.open(Dir::Bidi), Ok(StreamId::new(8)));
    assert_eq!(c.local_streams(Dir::Bidi), (3, 3));
    assert_eq!(
        c.on_max_streams(Dir::Bidi, MAX_STREAMS + 1),
        Err(StreamError::FrameEncoding)
    );
    c.on_max_streams(Dir::Uni, 5).unwrap();
    // open_id opens every lower stream too.
    assert_eq!(c.open_id(StreamId::new(2 + 4 * 3)), Ok(()));
    assert_eq!(c.local_streams(Dir::Uni), (4, 5));
    assert_eq!(
        c.open_id(StreamId::new(2 + 4 * 5)),
        Err(ApiError::StreamLimit)
    );
    assert_eq!(c.open_id(StreamId::new(2)), Ok(()));
    assert_eq!(c.open_id(StreamId::new(1)), Err(ApiError::UnknownStream));
    assert_eq!(c.len(), 3 + 4);
    c.check_invariants();
}

#[test]
fn remote_stream_limit_and_implicit_open() {
    let server = StreamsConfig {
        max_streams_bidi: 4,
        max_streams_uni: 1,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    // Index 4 is beyond a limit of 4.
    assert_eq!(
        s.on_stream_frame(StreamId::new(16), 0, b"x", false),
        Err(StreamError::StreamLimit)
    );
    assert_eq!(
        s.on_reset_stream(StreamId::new(6), 0, 0),
        Err(StreamError::StreamLimit)
    );
    assert_eq!(
        s.on_stream_frame(StreamId::new(u64::MAX), 0, b"x", false),
        Err(StreamError::StreamState),
        "server uni with an unopened local ID"
    );
    assert!(s.is_empty());
    // Index 3 opens 0, 1, 2 and 3 (RFC 9000 §3.2).
    s.on_stream_frame(StreamId::new(12), 0, b"x", false)
        .unwrap();
    assert_eq!(s.remote_streams(Dir::Bidi), (4, 4));
    let ids: StdVec<u64> = s.iter().map(|x| x.id().raw()).collect();
    assert_eq!(ids, [0, 4, 8, 12]);
    for x in s.iter() {
        assert_eq!(x.recv().unwrap().state(), RecvState::Recv);
        assert_eq!(x.send().unwrap().state(), SendState::Ready);
    }
    // MAX_STREAM_DATA and STOP_SENDING open peer bidi streams too.
    s.on_max_stream_data(CLIENT_UNI_0, 10)
        .expect_err("receive-only stream");
    s.on_stream_data_blocked(CLIENT_UNI_0, 0).unwrap();
    assert_eq!(s.remote_streams(Dir::Uni), (1, 1));
    s.check_invariants();
}

#[test]
fn frames_not_allowed_on_stream_type() {
    let (mut c, mut s) = pair(StreamsConfig::DEFAULT, StreamsConfig::DEFAULT);
    let uni = c.open(Dir::Uni).unwrap();
    assert_eq!(uni, CLIENT_UNI_0);
    // Frames the peer sends as a sender, on our send-only stream.
    assert_eq!(
        c.on_stream_frame(uni, 0, b"x", false),
        Err(StreamError::StreamState)
    );
    assert_eq!(c.on_reset_stream(uni, 0, 0), Err(StreamError::StreamState));
    assert_eq!(
        c.on_stream_data_blocked(uni, 0),
        Err(StreamError::StreamState)
    );
    // Frames the peer sends as a receiver, on its receive-only... our receive-only stream.
    s.on_stream_frame(uni, 0, b"x", false).unwrap();
    assert_eq!(
        s.on_max_stream_data(uni, 100),
        Err(StreamError::StreamState)
    );
    assert_eq!(s.on_stop_sending(uni, 0), Err(StreamError::StreamState));
    // Frames for our streams that do not exist yet.
    assert_eq!(
        c.on_stream_frame(CLIENT_BIDI_0, 0, b"x", false),
        Err(StreamError::StreamState)
    );
    assert_eq!(
        c.on_max_stream_data(StreamId::new(6), 100),
        Err(StreamError::StreamState)
    );
    assert_eq!(
        c.on_stop_sending(CLIENT_BIDI_0, 0),
        Err(StreamError::StreamState)
    );
    assert_eq!(
        s.on_stream_frame(SERVER_BIDI_0, 0, b"x", false),
        Err(StreamError::StreamState)
    );
    assert_eq!(
        s.on_stream_data_blocked(SERVER_UNI_0, 0),
        Err(StreamError::StreamState)
    );
    // Application calls in the wrong direction.
    assert_eq!(c.read(uni, &mut [0u8; 4]), Err(ApiError::WrongDirection));
    assert_eq!(s.write(uni, b"x", false), Err(ApiError::WrongDirection));
    assert_eq!(s.reset(uni, 1), Err(ApiError::WrongDirection));
    assert_eq!(c.stop_sending(uni, 1), Err(ApiError::WrongDirection));
    assert_eq!(
        c.write(StreamId::new(4), b"x", false),
        Err(ApiError::UnknownStream)
    );
    assert_eq!(
        s.read(SERVER_BIDI_0, &mut [0u8; 4]),
        Err(ApiError::UnknownStream)
    );
}

#[test]
fn closed_streams_are_forgotten_and_grant_new_ones() {
    let server = StreamsConfig {
        max_streams_bidi: 2,
        ..StreamsConfig::DEFAULT
    };
    let (mut c, mut s) = pair(StreamsConfig::DEFAULT, server);
    let a = c.open(Dir::Bidi).unwrap();
    c.write(a, b"ping", true).unwrap();
    flush(&mut c, &mut s);
    assert_eq!(
        events(&mut c),
        [StreamEvent::Update {
            id: a,
            state: StreamState::Send(SendState::Recvd),
            errcode: 0,
            final_size: 0
        }]
    );
    assert_eq!(s.pop_readable(), Some(a));
    assert_eq!(s.pop_readable(), None);
    let mut buf = [0u8; 16];
    assert_eq!(s.read(a, &mut buf), Ok(ReadOutcome { len: 4, fin: true }));
    assert_eq!(s.len(), 1, "the sending part is still open");
    s.write(a, b"pong", true).unwrap();
    flush(&mut s, &mut c);
    assert_eq!(s.len(), 0, "both parts done: removed");
    // Closing the peer's stream gave it one more (MAX_STREAMS went out with the flush).
    assert_eq!(s.remote_streams(Dir::Bidi), (1, 3));
    assert!(events(&mut c).contains(&StreamEvent::MaxStreams {
        dir: Dir::Bidi,
        max: 3,
        last_id: StreamId::new(8)
    }));
    assert_eq!(c.local_streams(Dir::Bidi), (1, 3));
    assert_eq!(c.read(a, &mut buf), Ok(ReadOutcome { len: 4, fin: true }));
    assert_eq!(&buf[..4], b"pong");
    assert!(c.is_empty());
    // Late frames for the closed stream are ignored on both sides.
    assert_eq!(
        s.on_stream_frame(a, 0, b"ping", true),
        Ok(Delivery::Accepted)
    );
    s.on_reset_stream(a, 1, 4).unwrap();
    s.on_stop_sending(a, 1).unwrap();
    c.on_max_stream_data(a, 1 << 20).unwrap();
    c.on_stream_acked(a, 0, 4, true).unwrap();
    c.on_stream_lost(a, 0, 4, true).unwrap();
    assert!(s.is_empty() && c.is_empty());
    assert_eq!(c.write(a, b"x", false), Err(ApiError::UnknownStream));
    assert_eq!(c.open_id(a), Err(ApiError::Closed));
    s.check_invariants();
    c.check_invariants();
}

#[test]
fn connection_flow_control_error() {
    let server = StreamsConfig {
        max_data: 100,
        max_stream_data_bidi_remote: 80,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    s.on_stream_frame(StreamId::new(0), 0, &[0u8; 60], false)
        .unwrap();
    // Within its stream window, beyond the connection window.
    assert_eq!(
        s.on_stream_frame(StreamId::new(4), 0, &[0u8; 41], false),
        Err(StreamError::FlowControl)
    );
    // A retransmission uses no credit; 40 more fit exactly.
    s.on_stream_frame(StreamId::new(0), 0, &[0u8; 60], false)
        .unwrap();
    s.on_stream_frame(StreamId::new(4), 0, &[0u8; 40], false)
        .unwrap();
    assert_eq!(
        s.on_reset_stream(StreamId::new(8), 0, 1),
        Err(StreamError::FlowControl)
    );
    assert_eq!(
        s.on_stream_frame(StreamId::new(0), 60, &[0u8; 21], false),
        Err(StreamError::FlowControl)
    );
    assert_eq!(s.conn_recv_window().received(), 100);
    s.check_invariants();
}

#[test]
fn max_data_after_consumption() {
    let server = StreamsConfig {
        max_data: 100,
        max_conn_window: 100,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    s.on_stream_frame(CLIENT_BIDI_0, 0, &[1u8; 100], false)
        .unwrap();
    assert!(controls(&mut s).is_empty());
    let mut buf = [0u8; 49];
    s.read(CLIENT_BIDI_0, &mut buf).unwrap();
    assert!(controls(&mut s).is_empty());
    s.read(CLIENT_BIDI_0, &mut buf[..1]).unwrap();
    let ctl = controls(&mut s);
    assert_eq!(ctl, [ControlFrame::MaxData(150)]);
    // Lost: sent again; a DATA_BLOCKED from the peer at the old limit also triggers it.
    s.on_control_lost(&ctl[0]).unwrap();
    assert_eq!(controls(&mut s), ctl);
    s.on_data_blocked(100);
    assert_eq!(controls(&mut s), ctl);
    s.on_data_blocked(150);
    assert!(controls(&mut s).is_empty());
}

#[test]
fn data_blocked_and_stream_data_blocked() {
    let server = StreamsConfig {
        max_data: 10,
        max_stream_data_bidi_remote: 30,
        ..StreamsConfig::DEFAULT
    };
    let (mut c, _s) = pair(StreamsConfig::DEFAULT, server);
    let a = c.open(Dir::Bidi).unwrap();
    assert_eq!(c.write(a, &[5u8; 50], false), Ok(50));
    let ch = c.poll_stream_frame(1200).unwrap().unwrap();
    assert_eq!((ch.offset, ch.data.len()), (0, 10));
    assert!(c.poll_stream_frame(1200).unwrap().is_none());
    let ctl = controls(&mut c);
    assert_eq!(ctl, [ControlFrame::DataBlocked(10)]);
    c.on_control_lost(&ctl[0]).unwrap();
    assert_eq!(controls(&mut c), ctl);
    c.on_max_data(100).unwrap();
    let ch = c.poll_stream_frame(1200).unwrap().unwrap();
    assert_eq!((ch.offset, ch.data.len()), (10, 20));
    assert!(c.poll_stream_frame(1200).unwrap().is_none());
    let ctl = controls(&mut c);
    assert_eq!(ctl, [ControlFrame::StreamDataBlocked { id: a, limit: 30 }]);
    c.on_control_lost(&ctl[0]).unwrap();
    assert_eq!(controls(&mut c), ctl);
    c.on_max_stream_data(a, 40).unwrap();
    assert_eq!(
        events(&mut c),
        [StreamEvent::MaxData {
            id: a,
            max_data: 40
        }]
    );
    c.on_control_lost(&ctl[0]).unwrap();
    assert!(controls(&mut c).is_empty(), "no longer blocked at 30");
    let ch = c.poll_stream_frame(1200).unwrap().unwrap();
    assert_eq!((ch.offset, ch.data.len()), (30, 10));
    c.check_invariants();
}

#[test]
fn connection_blocked_streams_resume() {
    let server = StreamsConfig {
        max_data: 10,
        ..StreamsConfig::DEFAULT
    };
    let (mut c, _s) = pair(StreamsConfig::DEFAULT, server);
    let a = c.open(Dir::Bidi).unwrap();
    let b = c.open(Dir::Bidi).unwrap();
    c.write(a, &[1u8; 20], false).unwrap();
    let first = c.poll_stream_frame(1200).unwrap().unwrap();
    assert_eq!((first.id, first.data.len()), (a, 10));
    assert!(c.poll_stream_frame(1200).unwrap().is_none());
    // Written while the connection credit is already spent.
    c.write(b, &[2u8; 5], true).unwrap();
    assert!(c.poll_stream_frame(1200).unwrap().is_none());
    // Retransmissions need no credit, even from a stream waiting for it.
    c.on_stream_lost(a, 0, 10, false).unwrap();
    let again = c.poll_stream_frame(1200).unwrap().unwrap();
    assert_eq!((again.id, again.offset, again.data.len()), (a, 0, 10));
    assert!(c.poll_stream_frame(1200).unwrap().is_none());
    assert_eq!(controls(&mut c), [ControlFrame::DataBlocked(10)]);
    // Credit for both.
    c.on_max_data(100).unwrap();
    let mut sent = StdVec::new();
    while let Some(ch) = c.poll_stream_frame(1200).unwrap() {
        sent.push((ch.id, ch.offset, ch.data.len(), ch.fin));
    }
    sent.sort();
    assert_eq!(sent, [(a, 10, 10, false), (b, 0, 5, true)]);
    // Re-applying limits that do not raise the credit terminates and changes nothing.
    c.set_peer_limits(&limits(&StreamsConfig {
        max_data: 10,
        ..StreamsConfig::DEFAULT
    }))
    .unwrap();
    assert!(c.poll_stream_frame(1200).unwrap().is_none());
    c.check_invariants();
}

#[test]
fn zero_windows_do_not_spin() {
    let server = StreamsConfig {
        max_data: 0,
        max_stream_data_uni: 0,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    s.on_stream_frame(CLIENT_UNI_0, 0, b"", false).unwrap();
    s.on_stream_data_blocked(CLIENT_UNI_0, 0).unwrap();
    s.on_data_blocked(0);
    assert_eq!(
        s.read(CLIENT_UNI_0, &mut [0u8; 4]),
        Ok(ReadOutcome { len: 0, fin: false })
    );
    assert!(controls(&mut s).is_empty());
    assert_eq!(
        s.on_stream_frame(CLIENT_UNI_0, 0, b"x", false),
        Err(StreamError::FlowControl)
    );
}

#[test]
fn stream_frames_fit_the_room() {
    let (mut c, _s) = pair(StreamsConfig::DEFAULT, StreamsConfig::DEFAULT);
    let a = c.open(Dir::Bidi).unwrap();
    c.write(a, &[1u8; 5000], true).unwrap();
    assert!(
        c.poll_stream_frame(3).unwrap().is_none(),
        "no room for a header and data"
    );
    let ch = c.poll_stream_frame(100).unwrap().unwrap();
    // type + id + length(2 bytes for 100); offset 0 is omitted.
    assert_eq!(ch.data.len(), 100 - 1 - 1 - 2);
    let ch = c.poll_stream_frame(100).unwrap().unwrap();
    assert_eq!(ch.offset, 96);
    assert_eq!(ch.data.len(), 100 - 1 - 1 - 2 - 2);
}

#[test]
fn send_buffer_limit() {
    let client = StreamsConfig {
        send_buffer: 100,
        ..StreamsConfig::DEFAULT
    };
    let (mut c, mut s) = pair(client, StreamsConfig::DEFAULT);
    let a = c.open(Dir::Bidi).unwrap();
    let b = c.open(Dir::Uni).unwrap();
    assert_eq!(c.write(a, &[1u8; 70], false), Ok(70));
    assert_eq!(c.write(b, &[2u8; 70], true), Ok(30));
    assert_eq!(c.send_buffer_available(), 0);
    assert_eq!(c.write(b, &[2u8; 40], true), Ok(0));
    flush(&mut c, &mut s);
    assert_eq!(c.send_buffer_available(), 100);
    assert_eq!(c.write(b, &[2u8; 40], true), Ok(40));
    c.check_invariants();
}

#[test]
fn peek_does_not_consume() {
    let (mut c, mut s) = pair(StreamsConfig::DEFAULT, StreamsConfig::DEFAULT);
    let a = c.open(Dir::Bidi).unwrap();
    assert_eq!(c.write(a, b"hello world", true), Ok(11));
    flush(&mut c, &mut s);
    let mut out = [0u8; 5];
    let p = s.peek(a, &mut out).unwrap();
    assert_eq!((p.len, p.fin, &out), (5, false, b"hello"));
    let mut all = [0u8; 32];
    let p = s.peek(a, &mut all).unwrap();
    assert_eq!((p.len, p.fin), (11, true));
    assert_eq!(s.recv_buffered(), 11);
    // Reading afterwards sees the same bytes, and the FIN once.
    let r = s.read(a, &mut all).unwrap();
    assert_eq!((r.len, r.fin, &all[..11]), (11, true, &b"hello world"[..]));
    assert_eq!(s.peek(a, &mut all), Err(ApiError::Closed));
    s.check_invariants();
}

#[test]
fn send_buffer_resize_and_buffered_counts() {
    let (mut c, mut s) = pair(StreamsConfig::DEFAULT, StreamsConfig::DEFAULT);
    let a = c.open(Dir::Bidi).unwrap();
    assert_eq!(c.write(a, &[1u8; 5000], false), Ok(5000));
    assert_eq!(c.send_buffered(), 5000);
    // Shrinking below what is buffered keeps the data and stops further writes.
    c.set_send_buffer(3000);
    assert_eq!(c.send_buffer(), 3000);
    assert_eq!(c.send_buffer_available(), 0);
    assert_eq!(c.write(a, &[1u8; 10], false), Ok(0));
    c.check_invariants();
    flush(&mut c, &mut s);
    // Acknowledged: nothing buffered on the sender, all of it waiting in the receiver.
    assert_eq!(c.send_buffered(), 0);
    assert_eq!(c.send_buffer_available(), 3000);
    assert_eq!(s.recv_buffered(), 5000);
    let mut out = [0u8; 2000];
    let got = s.read(a, &mut out).unwrap();
    assert_eq!(got.len, 2000);
    assert_eq!(s.recv_buffered(), 3000);
    c.set_send_buffer(8000);
    assert_eq!(c.write(a, &[1u8; 9000], false), Ok(8000));
    c.check_invariants();
    s.check_invariants();
}

#[test]
fn stop_sending_and_reset_across_endpoints() {
    let (mut c, mut s) = pair(StreamsConfig::DEFAULT, StreamsConfig::DEFAULT);
    let a = c.open(Dir::Bidi).unwrap();
    c.write(a, &[9u8; 3000], false).unwrap();
    flush(&mut c, &mut s);
    s.stop_sending(a, 77).unwrap();
    let ctl = controls(&mut s);
    assert_eq!(ctl, [ControlFrame::StopSending { id: a, code: 77 }]);
    deliver(&mut c, &Frame::Ctrl(ctl[0])).unwrap();
    assert_eq!(
        events(&mut c),
        [StreamEvent::Update {
            id: a,
            state: StreamState::Send(SendState::ResetSent),
            errcode: 77,
            final_size: 0
        }]
    );
    assert_eq!(c.write(a, b"x", false), Err(ApiError::Stopped(77)));
    let ctl = controls(&mut c);
    assert_eq!(
        ctl,
        [ControlFrame::ResetStream {
            id: a,
            code: 77,
            final_size: 3000
        }]
    );
    deliver(&mut s, &Frame::Ctrl(ctl[0])).unwrap();
    // The server asked to stop: the reset needs no read.
    assert_eq!(
        s.get(a).unwrap().recv().unwrap().state(),
        RecvState::ResetRead
    );
    c.on_control_acked(&ctl[0]).unwrap();
    assert_eq!(
        events(&mut c),
        [StreamEvent::Update {
            id: a,
            state: StreamState::Send(SendState::ResetRecvd),
            errcode: 77,
            final_size: 0
        }]
    );
    // The server resets its own part; the client learns it on read.
    s.reset(a, 5).unwrap();
    let ctl = controls(&mut s);
    assert_eq!(
        ctl,
        [ControlFrame::ResetStream {
            id: a,
            code: 5,
            final_size: 0
        }]
    );
    deliver(&mut c, &Frame::Ctrl(ctl[0])).unwrap();
    assert_eq!(
        events(&mut c),
        [StreamEvent::Update {
            id: a,
            state: StreamState::Recv(RecvState::ResetRecvd),
            errcode: 5,
            final_size: 0
        }]
    );
    assert_eq!(c.pop_readable(), Some(a));
    assert_eq!(c.read(a, &mut [0u8; 8]), Err(ApiError::Reset(5)));
    assert!(c.is_empty());
    s.on_control_acked(&ctl[0]).unwrap();
    assert!(s.is_empty());
    // The connection credit of the discarded bytes came back.
    assert_eq!(s.conn_recv_window().consumed(), 3000);
    c.check_invariants();
    s.check_invariants();
}

#[test]
fn recv_update_events() {
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, StreamsConfig::DEFAULT);
    let a = CLIENT_BIDI_0;
    s.on_stream_frame(a, 0, b"ab", false).unwrap();
    s.on_stream_frame(a, 4, b"ef", true).unwrap();
    s.on_stream_frame(a, 2, b"cd", false).unwrap();
    let update = |state, final_size| StreamEvent::Update {
        id: a,
        state: StreamState::Recv(state),
        errcode: 0,
        final_size,
    };
    assert_eq!(
        events(&mut s),
        [
            update(RecvState::Recv, 0),
            update(RecvState::SizeKnown, 6),
            update(RecvState::Recvd, 6)
        ]
    );
    // Disabled kinds are not queued.
    s.set_event_enabled(EventKind::Update, false);
    s.on_stream_frame(StreamId::new(4), 0, b"x", true).unwrap();
    assert!(events(&mut s).is_empty());
}

#[test]
fn dropped_when_too_fragmented() {
    let server = StreamsConfig {
        max_ranges: 2,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    let a = CLIENT_BIDI_0;
    assert_eq!(
        s.on_stream_frame(a, 10, b"x", false),
        Ok(Delivery::Accepted)
    );
    assert_eq!(
        s.on_stream_frame(a, 20, b"x", false),
        Ok(Delivery::Accepted)
    );
    assert_eq!(s.on_stream_frame(a, 30, b"x", false), Ok(Delivery::Dropped));
    assert_eq!(s.conn_recv_window().received(), 21);
    assert_eq!(
        s.on_stream_frame(a, 0, &[0u8; 20], false),
        Ok(Delivery::Accepted)
    );
}

#[test]
fn connection_wide_range_budget() {
    let server = StreamsConfig {
        max_ranges: 4,
        max_total_ranges: 5,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    let (a, b) = (StreamId::new(0), StreamId::new(4));
    for off in [10, 20, 30] {
        assert_eq!(
            s.on_stream_frame(a, off, b"x", false),
            Ok(Delivery::Accepted)
        );
    }
    assert_eq!(
        s.on_stream_frame(b, 10, b"x", false),
        Ok(Delivery::Accepted)
    );
    assert_eq!(
        s.on_stream_frame(b, 20, b"x", false),
        Ok(Delivery::Accepted)
    );
    // Stream b is within its own cap, but the connection budget is spent.
    assert_eq!(s.on_stream_frame(b, 30, b"x", false), Ok(Delivery::Dropped));
    s.check_invariants();
    // Reading frees budget.
    s.on_stream_frame(a, 0, &[0u8; 40], false).unwrap();
    s.read(a, &mut [0u8; 64]).unwrap();
    assert_eq!(
        s.on_stream_frame(b, 30, b"x", false),
        Ok(Delivery::Accepted)
    );
    s.check_invariants();
}

#[test]
fn window_autotuning_under_fast_consumption() {
    let server = StreamsConfig {
        max_data: 4000,
        max_stream_data_bidi_remote: 1000,
        max_conn_window: 1 << 20,
        max_stream_window: 16000,
        ..StreamsConfig::DEFAULT
    };
    let (_c, mut s) = pair(StreamsConfig::DEFAULT, server);
    let a = CLIENT_BIDI_0;
    let srtt = 20_000;
    let mut now = 0;
    let mut limit = 1000;
    let mut offset = 0;
    let mut buf = vec![0u8; 1 << 16];
    let mut stream_limits = StdVec::new();
    for _ in 0..12 {
        // The peer fills the window, the application drains it within a few ms.
        let n = usize::try_from(limit - offset).unwrap();
        s.on_stream_frame(a, offset, &buf[..n], false).unwrap();
        offset = limit;
        s.read(a, &mut buf).unwrap();
        now += 5_000;
        for f in controls_at(&mut s, now, srtt) {
            if let ControlFrame::MaxStreamData { max, .. } = f {
                limit = max;
                stream_limits.push(max);
            }
        }
    }
    let w = s.get(a).unwrap().recv().unwrap().window().window();
    assert_eq!(w, 16000, "stream window grew to its maximum");
    assert!(
        s.conn_recv_window().window() >= w + w / 2,
        "connection window follows the stream window"
    );
    assert!(stream_limits.windows(2).all(|p| p[0] < p[1]));
    s.check_invariants();
}

fn controls_at(s: &mut Streams, now: u64, srtt: u64) -> StdVec<ControlFrame> {
    let mut v = StdVec::new();
    while let Some(f) = s.poll_control(now, srtt).unwrap() {
        v.push(f);
    }
    v
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn payload(id: StreamId, salt: u64) -> StdVec<u8> {
    let mut r = Rng(id.raw().wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt ^ 0x55);
    let len = r.below(2500) as usize;
    (0..len).map(|_| r.next() as u8).collect()
}

/// One direction of the simulated network: packets in flight with a delivery time.
#[derive(Default)]
struct Link {
    in_flight: StdVec<(u64, StdVec<Frame>)>,
}

/// The sender side of a link: build packets, lose some, schedule the rest.
fn transmit(from: &mut Streams, link: &mut Link, rng: &mut Rng, now: u64, loss_pct: u64) {
    for _ in 0..40 {
        let frames = packet(from, now, 30_000, 1200);
        if frames.is_empty() {
            break;
        }
        if rng.below(100) < loss_pct {
            settle(from, &frames, true);
        } else {
            link.in_flight.push((now + 1 + rng.below(5), frames));
        }
    }
}

/// The receiver side: deliver due packets (reordered by their random delay) and acknowledge
/// them, except packets with a dropped frame, which count as lost. Returns the drops.
fn receive(from: &mut Streams, to: &mut Streams, link: &mut Link, now: u64) -> u64 {
    let mut drops = 0;
    let mut due = StdVec::new();
    link.in_flight.retain(|(t, frames)| {
        if *t <= now {
            due.push(frames.clone());
            false
        } else {
            true
        }
    });
    for frames in due {
        let mut dropped = false;
        for f in &frames {
            match deliver(to, f).unwrap() {
                Delivery::Accepted => {}
                Delivery::Dropped => dropped = true,
            }
        }
        drops += u64::from(dropped);
        settle(from, &frames, dropped);
    }
    drops
}

/// The client opens `total` bidirectional streams (at most `concurrent` at once, by the
/// server's limit) plus some unidirectional ones, each carrying a random payload with FIN; the
/// server echoes every bidirectional payload reversed. Some streams are stopped or reset
/// midway. Everything must be delivered intact, every stream must close on both sides, and the
/// maps must stay consistent throughout.
fn exchange(seed: u64, total: u64, concurrent: u64, loss_pct: u64, max_ranges: usize) {
    let client = StreamsConfig {
        send_buffer: 1 << 20,
        max_ranges,
        ..StreamsConfig::DEFAULT
    };
    let server = StreamsConfig {
        max_streams_bidi: concurrent,
        max_streams_uni: 10,
        send_buffer: 1 << 20,
        max_ranges,
        ..StreamsConfig::DEFAULT
    };
    let (mut c, mut s) = pair(client, server);
    let mut rng = Rng(seed | 1);
    let uni_total = 25u64;
    let mut opened_bidi = 0u64;
    let mut opened_uni = 0u64;
    // Per stream still being written: the payload and the bytes written so far.
    let mut c_pending: BTreeMap<StreamId, (StdVec<u8>, usize)> = BTreeMap::new();
    let mut s_pending: BTreeMap<StreamId, (StdVec<u8>, usize)> = BTreeMap::new();
    let mut s_got: BTreeMap<StreamId, StdVec<u8>> = BTreeMap::new();
    let mut c_got: BTreeMap<StreamId, StdVec<u8>> = BTreeMap::new();
    let mut s_done = 0u64;
    let mut c_done = 0u64;
    let mut max_open = 0usize;
    let mut max_streams_events = 0;
    // How often each path ran: [stopped writes, server saw client reset, client saw reset].
    let mut paths = [0u64; 3];
    let mut dropped = 0u64;
    let (mut c2s, mut s2c) = (Link::default(), Link::default());
    let mut buf = vec![0u8; 700];
    let mut now = 0;
    // Streams the server stops (index % 13 == 5) and the client resets (index % 17 == 3).
    let stopped = |id: StreamId| id.dir() == Dir::Bidi && id.index() % 13 == 5;
    let reset_by_client = |id: StreamId| id.dir() == Dir::Bidi && id.index() % 17 == 3;
    while c_done < total || s_done < total + uni_total || !c.is_empty() || !s.is_empty() {
        now += 1;
        assert!(now < 200_000, "no progress: c {c_done} s {s_done}");
        // Client: open streams while allowed.
        while opened_bidi < total {
            match c.open(Dir::Bidi) {
                Ok(id) => {
                    opened_bidi += 1;
                    c_pending.insert(id, (payload(id, seed), 0));
                }
                Err(ApiError::StreamLimit) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        while opened_uni < uni_total {
            match c.open(Dir::Uni) {
                Ok(id) => {
                    opened_uni += 1;
                    c_pending.insert(id, (payload(id, seed), 0));
                }
                Err(ApiError::StreamLimit) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        // Client: write.
        let mut finished = StdVec::new();
        for (&id, (data, done)) in c_pending.iter_mut() {
            if reset_by_client(id) && *done >= data.len() / 2 {
                c.reset(id, 1000 + id.raw()).unwrap();
                finished.push(id);
                continue;
            }
            let end = (*done + 1 + rng.below(900) as usize).min(data.len());
            match c.write(id, &data[*done..end], end == data.len()) {
                Ok(n) => {
                    *done += n;
                    if *done == data.len() {
                        finished.push(id);
                    }
                }
                Err(ApiError::Stopped(code)) => {
                    assert!(stopped(id));
                    assert_eq!(code, 2000 + id.raw());
                    paths[0] += 1;
                    finished.push(id);
                }
                Err(e) => panic!("client write {id:?}: {e:?}"),
            }
        }
        for id in finished {
            c_pending.remove(&id);
        }
        // Server: read, echo.
        while let Some(id) = s.pop_readable() {
            let got = s_got.entry(id).or_default();
            loop {
                match s.read(id, &mut buf) {
                    Ok(o) => {
                        got.extend_from_slice(&buf[..o.len]);
                        if o.fin {
                            assert_eq!(got, &payload(id, seed), "server got {id:?}");
                            s_done += 1;
                            if id.dir() == Dir::Bidi {
                                let mut echo = payload(id, seed);
                                echo.reverse();
                                s_pending.insert(id, (echo, 0));
                            }
                            break;
                        }
                        if o.len == 0 {
                            break;
                        }
                        if stopped(id) && got.len() >= 100 {
                            s.stop_sending(id, 2000 + id.raw()).unwrap();
                            // It answers with a reset of its own part.
                            s.reset(id, 3000 + id.raw()).unwrap();
                            s_done += 1;
                            break;
                        }
                    }
                    Err(ApiError::Reset(code)) => {
                        assert!(reset_by_client(id), "unexpected reset of {id:?}");
                        assert_eq!(code, 1000 + id.raw());
                        paths[1] += 1;
                        s.reset(id, 4000 + id.raw()).unwrap();
                        s_done += 1;
                        break;
                    }
                    Err(e) => panic!("server read {id:?}: {e:?}"),
                }
            }
        }
        let mut finished = StdVec::new();
        for (&id, (data, done)) in s_pending.iter_mut() {
            let end = (*done + 1 + rng.below(900) as usize).min(data.len());
            let n = s.write(id, &data[*done..end], end == data.len()).unwrap();
            *done += n;
            if *done == data.len() {
                finished.push(id);
            }
        }
        for id in finished {
            s_pending.remove(&id);
        }
        // Client: read echoes.
        while let Some(id) = c.pop_readable() {
            let got = c_got.entry(id).or_default();
            loop {
                match c.read(id, &mut buf) {
                    Ok(o) => {
                        got.extend_from_slice(&buf[..o.len]);
                        if o.fin {
                            let mut expect = payload(id, seed);
                            expect.reverse();
                            assert_eq!(got, &expect, "client got {id:?}");
                            c_done += 1;
                            break;
                        }
                        if o.len == 0 {
                            break;
                        }
                    }
                    Err(ApiError::Reset(code)) => {
                        let ok = (stopped(id) && code == 3000 + id.raw())
                            || (reset_by_client(id) && code == 4000 + id.raw());
                        assert!(ok, "unexpected reset {code} of {id:?}");
                        paths[2] += 1;
                        c_done += 1;
                        break;
                    }
                    Err(e) => panic!("client read {id:?}: {e:?}"),
                }
            }
        }
        // Network.
        transmit(&mut c, &mut c2s, &mut rng, now, loss_pct);
        transmit(&mut s, &mut s2c, &mut rng, now, loss_pct);
        dropped += receive(&mut c, &mut s, &mut c2s, now);
        dropped += receive(&mut s, &mut c, &mut s2c, now);
        for e in events(&mut c) {
            if matches!(e, StreamEvent::MaxStreams { .. }) {
                max_streams_events += 1;
            }
        }
        events(&mut s);
        max_open = max_open.max(s.iter().filter(|x| x.id().dir() == Dir::Bidi).count());
        if now % 16 == 0 {
            c.check_invariants();
            s.check_invariants();
        }
    }
    c.check_invariants();
    s.check_invariants();
    assert_eq!(opened_bidi, total);
    assert_eq!((c_done, s_done), (total, total + uni_total));
    // Writes rarely outlast a STOP_SENDING round trip; the big run has enough of them.
    if total >= 1000 {
        assert!(paths[0] > 0, "paths not exercised: {paths:?}");
    }
    if total >= 100 {
        assert!(
            paths[1] > 0 && paths[2] > 0,
            "paths not exercised: {paths:?}"
        );
    }
    if max_ranges < 8 && loss_pct > 0 {
        assert!(dropped > 0, "fragmentation cap never hit");
    }
    assert_eq!(s.remote_streams(Dir::Bidi), (total, total + concurrent));
    assert!(max_open as u64 <= concurrent);
    if total > concurrent {
        assert!(max_streams_events > 0);
    }
    // Every byte the client sent on completed streams was counted at connection level.
    assert!(s.conn_recv_window().consumed() > 0);
}

#[test]
fn thousand_concurrent_streams() {
    exchange(1, 1500, 1000, 0, DEFAULT_MAX_RANGES);
}

#[test]
fn exchange_with_loss_and_reordering() {
    for seed in 2..6 {
        exchange(seed, 120, 40, 15, DEFAULT_MAX_RANGES);
    }
}

#[test]
fn exchange_with_fragmentation_cap() {
    for seed in 6..8 {
        exchange(seed, 60, 20, 25, 2);
    }
}
