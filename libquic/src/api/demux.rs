//! What a connection's `recvmsg`s bring, sorted: the kernel has one receive queue per
//! connection (stream data of every stream, datagrams, notifications), and the per-stream,
//! datagram and event calls of the API each take their own part of it from here.

use std::collections::{HashMap, VecDeque};
use std::io;

use quic_uapi::{MSG_QUIC_DATAGRAM, MSG_QUIC_NOTIFICATION};

use super::event::Event;
use crate::ksock::Recv;

/// Bytes asked of each `recvmsg`.
pub(crate) const RECV_BUF: usize = 64 * 1024;

#[derive(Debug, Default)]
struct StreamBuf {
    data: VecDeque<u8>,
    fin: bool,
}

/// The sorted receive queue of one connection.
#[derive(Debug)]
pub(crate) struct Demux {
    is_client: bool,
    streams: HashMap<i64, StreamBuf>,
    incoming: VecDeque<i64>,
    datagrams: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    /// A notification read in parts (no `MSG_EOR` yet).
    note: Vec<u8>,
    /// The connection's receive side is over: the errno, or `None` for end of file.
    closed: Option<Option<i32>>,
    /// A caller is in `recvmsg` for everyone (blocking API).
    pub(crate) reading: bool,
}

/// Whether a stream was opened by the peer.
fn peer_initiated(is_client: bool, id: i64) -> bool {
    // Bit 0 of a stream id: 0 client-initiated, 1 server-initiated (RFC 9000, 2.1).
    (id & 1 == 1) == is_client
}

impl Demux {
    /// The queue of a client (`true`) or server connection.
    pub(crate) fn new(is_client: bool) -> Self {
        Self {
            is_client,
            streams: HashMap::new(),
            incoming: VecDeque::new(),
            datagrams: VecDeque::new(),
            events: VecDeque::new(),
            note: Vec::new(),
            closed: None,
            reading: false,
        }
    }

    /// A stream this end opened: its data is never announced as incoming.
    pub(crate) fn register(&mut self, id: i64) {
        self.streams.entry(id).or_default();
    }

    /// Sorts what one `recvmsg` returned (`data` is the `r.len` bytes read).
    pub(crate) fn dispatch(&mut self, r: &Recv, data: &[u8]) -> io::Result<()> {
        if r.msg_flags & MSG_QUIC_NOTIFICATION != 0 {
            self.note.extend_from_slice(data);
            if r.eor() {
                let note = std::mem::take(&mut self.note);
                self.events.push_back(Event::parse(&note)?);
            }
            return Ok(());
        }
        if r.msg_flags & MSG_QUIC_DATAGRAM != 0 {
            self.datagrams.push_back(data.to_vec());
            return Ok(());
        }
        if r.stream_id < 0 {
            if data.is_empty() {
                // recvmsg returned 0 without a stream: the connection is over.
                self.closed.get_or_insert(None);
                return Ok(());
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "stream data without QUIC_STREAM_INFO",
            ));
        }
        let id = r.stream_id;
        let is_client = self.is_client;
        let s = self.streams.entry(id).or_insert_with(|| {
            if peer_initiated(is_client, id) {
                self.incoming.push_back(id);
            }
            StreamBuf::default()
        });
        s.data.extend(data);
        s.fin |= r.fin();
        Ok(())
    }

    /// Records that `recvmsg` failed for good: every later wait fails the same way.
    pub(crate) fn fail(&mut self, e: &io::Error) {
        self.closed
            .get_or_insert(Some(e.raw_os_error().unwrap_or(libc::EIO)));
    }

    /// The error a wait for more reports once the receive side is over.
    pub(crate) fn error(&self) -> Option<io::Error> {
        self.closed.map(|c| match c {
            Some(errno) => io::Error::from_raw_os_error(errno),
            None => io::Error::new(io::ErrorKind::ConnectionAborted, "connection closed"),
        })
    }

    /// Reads buffered bytes of stream `id`: `Some(0)` at its end, `None` if none are there yet.
    pub(crate) fn read_stream(&mut self, id: i64, out: &mut [u8]) -> Option<usize> {
        let s = self.streams.get_mut(&id)?;
        if s.data.is_empty() {
            return (s.fin || out.is_empty()).then_some(0);
        }
        let n = out.len().min(s.data.len());
        for (o, b) in out.iter_mut().zip(s.data.drain(..n)) {
            *o = b;
        }
        Some(n)
    }

    /// Whether a read of stream `id` would not wait: bytes queued, or its end (the tokio
    /// API's `AsyncRead` waits for this).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn stream_readable(&self, id: i64) -> bool {
        self.streams
            .get(&id)
            .is_some_and(|s| s.fin || !s.data.is_empty())
    }

    /// The next stream the peer opened that nobody has accepted.
    pub(crate) fn take_incoming(&mut self) -> Option<i64> {
        self.incoming.pop_front()
    }

    /// The next datagram received.
    pub(crate) fn take_datagram(&mut self) -> Option<Vec<u8>> {
        self.datagrams.pop_front()
    }

    /// The next event received.
    pub(crate) fn take_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use quic_uapi::{MSG_QUIC_STREAM_FIN, QUIC_EVENT_KEY_UPDATE};

    use super::*;

    fn stream(id: i64, len: usize, fin: bool) -> Recv {
        Recv {
            len,
            stream_id: id,
            stream_flags: if fin { MSG_QUIC_STREAM_FIN } else { 0 },
            ..Recv::default()
        }
    }

    #[test]
    fn sorts_streams_and_announces_the_peers() {
        let mut d = Demux::new(true);
        d.register(0);
        d.dispatch(&stream(0, 3, false), b"abc").unwrap();
        // Stream 1 is server-initiated: announced once.
        d.dispatch(&stream(1, 2, false), b"xy").unwrap();
        d.dispatch(&stream(1, 1, true), b"z").unwrap();
        d.dispatch(&stream(0, 0, true), b"").unwrap();
        assert_eq!(d.take_incoming(), Some(1));
        assert_eq!(d.take_incoming(), None);
        let mut b = [0u8; 2];
        assert_eq!(d.read_stream(0, &mut b), Some(2));
        assert_eq!(&b, b"ab");
        assert_eq!(d.read_stream(0, &mut b), Some(1));
        assert_eq!(d.read_stream(0, &mut b), Some(0));
        let mut b = [0u8; 8];
        assert_eq!(d.read_stream(1, &mut b), Some(3));
        assert_eq!(&b[..3], b"xyz");
        assert_eq!(d.read_stream(1, &mut b), Some(0));
        assert_eq!(d.read_stream(5, &mut b), None);
        d.register(4);
        assert_eq!(d.read_stream(4, &mut b), None);
        assert!(!d.stream_readable(4) && !d.stream_readable(7));
        d.dispatch(&stream(4, 1, false), b"q").unwrap();
        assert!(d.stream_readable(4));
        assert_eq!(d.read_stream(4, &mut b), Some(1));
        assert!(!d.stream_readable(4));
        d.dispatch(&stream(4, 0, true), b"").unwrap();
        assert!(d.stream_readable(4));
    }

    #[test]
    fn server_side_announces_client_streams() {
        let mut d = Demux::new(false);
        d.dispatch(&stream(0, 1, false), b"a").unwrap();
        d.dispatch(&stream(2, 1, false), b"b").unwrap();
        d.register(1);
        d.dispatch(&stream(1, 1, false), b"c").unwrap();
        assert_eq!(d.take_incoming(), Some(0));
        assert_eq!(d.take_incoming(), Some(2));
        assert_eq!(d.take_incoming(), None);
    }

    #[test]
    fn datagrams_events_and_the_end() {
        let mut d = Demux::new(false);
        let dg = Recv {
            len: 4,
            msg_flags: MSG_QUIC_DATAGRAM | libc::MSG_EOR as u32,
            ..Recv::default()
        };
        d.dispatch(&dg, b"ping").unwrap();
        assert_eq!(d.take_datagram().as_deref(), Some(&b"ping"[..]));
        assert_eq!(d.take_datagram(), None);
        // A notification read in two parts.
        let part = Recv {
            len: 1,
            msg_flags: MSG_QUIC_NOTIFICATION,
            ..Recv::default()
        };
        d.dispatch(&part, &[QUIC_EVENT_KEY_UPDATE]).unwrap();
        assert_eq!(d.take_event(), None);
        let last = Recv {
            msg_flags: MSG_QUIC_NOTIFICATION | libc::MSG_EOR as u32,
            ..part
        };
        d.dispatch(&last, &[1]).unwrap();
        assert_eq!(d.take_event(), Some(Event::KeyUpdate { phase: 1 }));
        assert!(d.error().is_none());
        assert!(d.dispatch(&stream(-1, 3, false), b"abc").is_err());
        d.dispatch(&stream(-1, 0, false), b"").unwrap();
        assert_eq!(
            d.error().map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionAborted)
        );
        let mut d = Demux::new(true);
        d.fail(&io::Error::from_raw_os_error(libc::ECONNRESET));
        d.fail(&io::Error::from_raw_os_error(libc::EPIPE));
        assert_eq!(
            d.error().and_then(|e| e.raw_os_error()),
            Some(libc::ECONNRESET)
        );
    }
}
