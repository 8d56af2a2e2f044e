//! The streams of one connection (RFC 9000 §2-4): opening and accepting streams within the
//! stream limits, routing the peer's stream frames, connection-level flow control, the
//! application's read/write calls, and what to send next.
//!
//! Streams live in an array sorted by ID (binary search), each boxed so that moving entries on
//! insert and removal stays cheap. A stream is removed once both parts are in a terminal state;
//! closing a peer-initiated stream gives the peer one more stream of that type (MAX_STREAMS),
//! so the number of concurrent streams stays at the configured limit.
//!
//! Work to do is kept in queues rather than found by scanning every stream:
//! - streams that may have STREAM data to send (round-robin), and those waiting for
//!   connection credit;
//! - streams with a control frame to send (RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA,
//!   STREAM_DATA_BLOCKED);
//! - streams with something for the application to read;
//! - events for the socket API.
//!
//! Queues may hold IDs of streams that were removed since: these are skipped.

mod output;
mod peer;

use core::cmp::min;

use quic_mem::{AllocError, Box, Vec};

use super::config::{PeerLimits, StreamsConfig};
use super::error::{ApiError, StreamError};
use super::event::{EventKind, StreamEvent};
use super::flow::{RecvWindow, SendCredit};
use super::id::{Dir, Side, StreamId, MAX_STREAMS};
use super::queue::Fifo;
use super::recv::{ReadOutcome, RecvStream};
use super::send::SendStream;

pub use output::{ControlFrame, StreamChunk};
pub use peer::Delivery;

/// One stream: a sending part, a receiving part, or both.
#[derive(Debug)]
pub struct Stream {
    id: StreamId,
    send: Option<SendStream>,
    recv: Option<RecvStream>,
    in_send_queue: bool,
    in_conn_blocked: bool,
    in_ctrl_queue: bool,
    in_read_queue: bool,
}

impl Stream {
    /// The stream's ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The sending part (absent on a peer's unidirectional stream).
    pub fn send(&self) -> Option<&SendStream> {
        self.send.as_ref()
    }

    /// The receiving part (absent on our unidirectional stream).
    pub fn recv(&self) -> Option<&RecvStream> {
        self.recv.as_ref()
    }

    /// True when every part is terminal and the stream can be forgotten.
    pub fn is_closed(&self) -> bool {
        crate::none_or(self.send.as_ref(), |s| s.state().is_terminal())
            && crate::none_or(self.recv.as_ref(), |r| r.state().is_terminal())
    }

    fn has_control(&self) -> bool {
        self.send.as_ref().is_some_and(|s| s.has_control())
            || self.recv.as_ref().is_some_and(|r| r.has_control())
    }
}

#[derive(Debug)]
struct Entry {
    id: StreamId,
    stream: Box<Stream>,
}

/// The streams of a connection.
#[derive(Debug)]
pub struct Streams {
    side: Side,
    config: StreamsConfig,
    peer: PeerLimits,
    streams: Vec<Entry>,
    /// Streams we opened, per direction.
    local_opened: [u64; 2],
    /// The peer's MAX_STREAMS, per direction.
    local_limit: [u64; 2],
    /// STREAMS_BLOCKED to send, per direction.
    streams_blocked: [Option<u64>; 2],
    /// The limit we last reported being blocked at, per direction.
    streams_blocked_at: [Option<u64>; 2],
    /// Streams the peer opened (the next index), per direction.
    remote_opened: [u64; 2],
    /// Our MAX_STREAMS, per direction.
    remote_limit: [u64; 2],
    max_streams_pending: [bool; 2],
    conn_send: SendCredit,
    conn_recv: RecvWindow,
    max_data_resend: bool,
    data_blocked: Option<u64>,
    send_buffered: u64,
    /// Reassembly ranges held by all streams.
    recv_ranges: usize,
    send_queue: Fifo<StreamId>,
    conn_blocked: Fifo<StreamId>,
    ctrl_queue: Fifo<StreamId>,
    read_queue: Fifo<StreamId>,
    events: Fifo<StreamEvent>,
    event_mask: u8,
}

fn capped_streams(n: u64) -> u64 {
    min(n, MAX_STREAMS)
}

impl Streams {
    /// The streams of a connection where we play `side`, with our limits from `config`. The
    /// peer's limits start at zero until [`set_peer_limits`](Self::set_peer_limits).
    pub fn new(side: Side, config: StreamsConfig) -> Self {
        let conn_recv = RecvWindow::new(config.max_data, config.max_conn_window);
        Self {
            side,
            local_opened: [0; 2],
            local_limit: [0; 2],
            streams_blocked: [None; 2],
            streams_blocked_at: [None; 2],
            remote_opened: [0; 2],
            remote_limit: [
                capped_streams(config.max_streams_bidi),
                capped_streams(config.max_streams_uni),
            ],
            max_streams_pending: [false; 2],
            conn_send: SendCredit::new(0),
            conn_recv,
            max_data_resend: false,
            data_blocked: None,
            send_buffered: 0,
            recv_ranges: 0,
            send_queue: Fifo::new(),
            conn_blocked: Fifo::new(),
            ctrl_queue: Fifo::new(),
            read_queue: Fifo::new(),
            events: Fifo::new(),
            event_mask: 0,
            peer: PeerLimits::default(),
            streams: Vec::new(),
            config,
        }
    }

    /// Applies the peer's transport parameters (or, for 0-RTT, the remembered ones). Limits
    /// only grow; streams already open get the new stream credit.
    pub fn set_peer_limits(&mut self, peer: &PeerLimits) -> Result<(), StreamError> {
        self.peer = peer.clone();
        self.local_limit[0] = self.local_limit[0].max(capped_streams(peer.max_streams_bidi));
        self.local_limit[1] = self.local_limit[1].max(capped_streams(peer.max_streams_uni));
        self.conn_send.raise(peer.max_data);
        let side = self.side;
        for e in self.streams.iter_mut() {
            let credit = peer_stream_credit(peer, side, e.id);
            if let Some(s) = e.stream.send.as_mut() {
                s.on_max_stream_data(credit);
            }
        }
        self.requeue_conn_blocked()?;
        for i in 0..self.streams.len() {
            self.queue_send(i)?;
        }
        Ok(())
    }

    /// Turns events of `kind` on or off (all are off initially).
    pub fn set_event_enabled(&mut self, kind: EventKind, on: bool) {
        if on {
            self.event_mask |= kind.bit();
        } else {
            self.event_mask &= !kind.bit();
        }
    }

    /// Our role.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no stream is open.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// The stream with ID `id`, if open.
    pub fn get(&self, id: StreamId) -> Option<&Stream> {
        let i = self.find(id)?;
        self.streams.get(i).map(|e| &*e.stream)
    }

    /// The open streams, by increasing ID.
    pub fn iter(&self) -> impl Iterator<Item = &Stream> + '_ {
        self.streams.iter().map(|e| &*e.stream)
    }

    /// The connection's send credit (the peer's MAX_DATA).
    pub fn conn_send_credit(&self) -> &SendCredit {
        &self.conn_send
    }

    /// The connection's receive window (our MAX_DATA).
    pub fn conn_recv_window(&self) -> &RecvWindow {
        &self.conn_recv
    }

    /// Bytes the application may still write before the send buffer is full.
    pub fn send_buffer_available(&self) -> u64 {
        self.config.send_buffer.saturating_sub(self.send_buffered)
    }

    /// Bytes written by the application and not yet acknowledged by the peer.
    pub fn send_buffered(&self) -> u64 {
        self.send_buffered
    }

    /// The send buffer's size (see [`StreamsConfig::send_buffer`]).
    pub fn send_buffer(&self) -> u64 {
        self.config.send_buffer
    }

    /// Resizes the send buffer (a socket's `SO_SNDBUF`). Shrinking below what is buffered keeps
    /// every byte: writes wait until acknowledgements bring it under the new size.
    pub fn set_send_buffer(&mut self, bytes: u64) {
        self.config.send_buffer = bytes;
    }

    /// Bytes received and not yet read by the application, as connection flow control counts
    /// them (up to the highest offset received on each stream, gaps included).
    pub fn recv_buffered(&self) -> u64 {
        self.conn_recv
            .received()
            .saturating_sub(self.conn_recv.consumed())
    }

    /// How many streams of direction `dir` we opened, and the peer's limit on them.
    pub fn local_streams(&self, dir: Dir) -> (u64, u64) {
        (
            self.local_opened[dir.index()],
            self.local_limit[dir.index()],
        )
    }

    /// How many streams of direction `dir` the peer opened, and our limit on them.
    pub fn remote_streams(&self, dir: Dir) -> (u64, u64) {
        (
            self.remote_opened[dir.index()],
            self.remote_limit[dir.index()],
        )
    }

    fn find(&self, id: StreamId) -> Option<usize> {
        self.streams.binary_search_by(|e| e.id.cmp(&id)).ok()
    }

    fn stream_mut(&mut self, i: usize) -> Option<&mut Stream> {
        self.streams.get_mut(i).map(|e| &mut *e.stream)
    }

    fn new_stream(&self, id: StreamId) -> Stream {
        let local = id.is_local(self.side);
        let c = &self.config;
        let window = match (id.dir(), local) {
            (Dir::Bidi, true) => c.max_stream_data_bidi_local,
            (Dir::Bidi, false) => c.max_stream_data_bidi_remote,
            (Dir::Uni, _) => c.max_stream_data_uni,
        };
        Stream {
            id,
            send: id
                .can_send(self.side)
                .then(|| SendStream::new(peer_stream_credit(&self.peer, self.side, id))),
            recv: id
                .can_recv(self.side)
                .then(|| RecvStream::new(window, c.max_stream_window, c.max_ranges)),
            in_send_queue: false,
            in_conn_blocked: false,
            in_ctrl_queue: false,
            in_read_queue: false,
        }
    }

    fn insert(&mut self, id: StreamId) -> Result<(), AllocError> {
        let stream = Box::new(self.new_stream(id))?;
        let at = self.streams.partition_point(|e| e.id < id);
        self.streams.insert(at, Entry { id, stream })
    }

    fn emit(&mut self, event: StreamEvent) -> Result<(), AllocError> {
        if self.event_mask & event.kind().bit() == 0 {
            return Ok(());
        }
        self.events.push(event)
    }

    /// Files stream `i` by what its sending part can do: in the send queue when it has
    /// something to send, in the connection-blocked list when only connection credit is
    /// missing (queuing DATA_BLOCKED), in the control queue when its own credit is missing
    /// (STREAM_DATA_BLOCKED).
    fn queue_send(&mut self, i: usize) -> Result<(), AllocError> {
        let conn = self.conn_send.available();
        let Some(e) = self.streams.get_mut(i) else {
            return Ok(());
        };
        let Some(send) = e.stream.send.as_mut() else {
            return Ok(());
        };
        if send.has_sendable(conn) {
            if !e.stream.in_send_queue {
                self.send_queue.push(e.id)?;
                e.stream.in_send_queue = true;
            }
        } else if send.is_conn_blocked(conn) {
            if !e.stream.in_conn_blocked {
                self.conn_blocked.push(e.id)?;
                e.stream.in_conn_blocked = true;
            }
            if let Some(limit) = self.conn_send.note_blocked() {
                self.data_blocked = Some(limit);
            }
        } else if send.check_blocked() {
            self.queue_ctrl(i)?;
        }
        Ok(())
    }

    /// Gives the streams waiting for connection credit another chance (after MAX_DATA).
    fn requeue_conn_blocked(&mut self) -> Result<(), AllocError> {
        let mut n = self.conn_blocked.len();
        while n > 0 {
            n -= 1;
            let Some(id) = self.conn_blocked.pop() else {
                break;
            };
            let Some(i) = self.find(id) else { continue };
            if let Some(s) = self.stream_mut(i) {
                s.in_conn_blocked = false;
            }
            self.queue_send(i)?;
        }
        Ok(())
    }

    fn queue_ctrl(&mut self, i: usize) -> Result<(), AllocError> {
        let Some(e) = self.streams.get_mut(i) else {
            return Ok(());
        };
        if !e.stream.in_ctrl_queue && e.stream.has_control() {
            self.ctrl_queue.push(e.id)?;
            e.stream.in_ctrl_queue = true;
        }
        Ok(())
    }

    fn queue_read(&mut self, i: usize) -> Result<(), AllocError> {
        let Some(e) = self.streams.get_mut(i) else {
            return Ok(());
        };
        let readable = e.stream.recv.as_ref().is_some_and(|r| r.is_readable());
        if !e.stream.in_read_queue && readable {
            self.read_queue.push(e.id)?;
            e.stream.in_read_queue = true;
        }
        Ok(())
    }

    /// Removes stream `i` if it is closed; a peer's stream gives the peer a new one.
    fn reap(&mut self, i: usize) {
        let Some(e) = self.streams.get(i) else {
            return;
        };
        if !e.stream.is_closed() {
            return;
        }
        let id = e.id;
        let buffered = e.stream.send.as_ref().map_or(0, |s| s.buffered());
        self.send_buffered = self.send_buffered.saturating_sub(buffered);
        let ranges = e.stream.recv.as_ref().map_or(0, |r| r.range_count());
        self.recv_ranges = self.recv_ranges.saturating_sub(ranges);
        self.streams.remove(i);
        if !id.is_local(self.side) {
            let d = id.dir().index();
            let limit = capped_streams(self.remote_limit[d].saturating_add(1));
            if limit > self.remote_limit[d] {
                self.remote_limit[d] = limit;
                self.max_streams_pending[d] = true;
            }
        }
    }

    /// Runs `f` on the sending part of stream `i`, keeping the send-buffer total in step.
    fn with_send<R>(&mut self, i: usize, f: impl FnOnce(&mut SendStream) -> R) -> Option<R> {
        let send = self.streams.get_mut(i)?.stream.send.as_mut()?;
        let before = send.buffered();
        let r = f(send);
        let after = send.buffered();
        self.send_buffered = self
            .send_buffered
            .saturating_add(after)
            .saturating_sub(before);
        Some(r)
    }

    /// Runs `f` on the receiving part of stream `i`, keeping the reassembly-range total in
    /// step; `f` gets the number of ranges the connection budget still allows.
    fn with_recv<R>(&mut self, i: usize, f: impl FnOnce(&mut RecvStream, usize) -> R) -> Option<R> {
        let left = self
            .config
            .max_total_ranges
            .saturating_sub(self.recv_ranges);
        let recv = self.streams.get_mut(i)?.stream.recv.as_mut()?;
        let before = recv.range_count();
        let r = f(recv, left);
        let after = recv.range_count();
        self.recv_ranges = self
            .recv_ranges
            .saturating_add(after)
            .saturating_sub(before);
        Some(r)
    }

    // ---------------------------------------------------------------------------------------
    // The application
    // ---------------------------------------------------------------------------------------

    /// The ID [`open`](Self::open) would give a new stream of direction `dir`, or `None` when
    /// the peer's MAX_STREAMS does not allow one.
    pub fn next_local_id(&self, dir: Dir) -> Option<StreamId> {
        let d = dir.index();
        if self.local_opened[d] >= self.local_limit[d] {
            return None;
        }
        StreamId::from_index(self.side, dir, self.local_opened[d])
    }

    fn note_streams_blocked(&mut self, dir: Dir) {
        let d = dir.index();
        let limit = self.local_limit[d];
        if self.streams_blocked_at[d] != Some(limit) {
            self.streams_blocked_at[d] = Some(limit);
            self.streams_blocked[d] = Some(limit);
        }
    }

    /// Opens our next stream of direction `dir`. Fails with [`ApiError::StreamLimit`] (and
    /// queues STREAMS_BLOCKED) when the peer's MAX_STREAMS is reached.
    pub fn open(&mut self, dir: Dir) -> Result<StreamId, ApiError> {
        let Some(id) = self.next_local_id(dir) else {
            self.note_streams_blocked(dir);
            return Err(ApiError::StreamLimit);
        };
        self.insert(id)?;
        self.local_opened[dir.index()] += 1;
        Ok(id)
    }

    /// Opens our stream `id`, and with it every lower stream of its type not opened yet
    /// (RFC 9000 §3.2 has the peer see them in order anyway). Succeeds at once when the stream
    /// is already open.
    pub fn open_id(&mut self, id: StreamId) -> Result<(), ApiError> {
        if !id.is_local(self.side) {
            return Err(ApiError::UnknownStream);
        }
        let d = id.dir().index();
        if id.index() < self.local_opened[d] {
            return match self.find(id) {
                Some(_) => Ok(()),
                None => Err(ApiError::Closed),
            };
        }
        if id.index() >= self.local_limit[d] {
            self.note_streams_blocked(id.dir());
            return Err(ApiError::StreamLimit);
        }
        while self.local_opened[d] <= id.index() {
            self.open(id.dir())?;
        }
        Ok(())
    }

    /// Writes `data` to stream `id`, then FIN when `fin`. Takes as much as the send buffer has
    /// room for; FIN is taken only with the whole of `data` (the count equals `data.len()`).
    pub fn write(&mut self, id: StreamId, data: &[u8], fin: bool) -> Result<usize, ApiError> {
        let i = self.find(id).ok_or(ApiError::UnknownStream)?;
        let room = self.send_buffer_available();
        self.send_queue.reserve_one()?;
        self.conn_blocked.reserve_one()?;
        self.ctrl_queue.reserve_one()?;
        let n = self
            .with_send(i, |s| s.write(data, fin, room))
            .ok_or(ApiError::WrongDirection)??;
        self.queue_send(i)?;
        Ok(n)
    }

    /// Copies from stream `id` into `out` without consuming; see [`RecvStream::peek`].
    pub fn peek(&self, id: StreamId, out: &mut [u8]) -> Result<ReadOutcome, ApiError> {
        let s = self.get(id).ok_or(ApiError::UnknownStream)?;
        s.recv().ok_or(ApiError::WrongDirection)?.peek(out)
    }

    /// Reads from stream `id` into `out`; see [`RecvStream::read`]. When the stream stays
    /// readable it stays in the readable queue.
    pub fn read(&mut self, id: StreamId, out: &mut [u8]) -> Result<ReadOutcome, ApiError> {
        let i = self.find(id).ok_or(ApiError::UnknownStream)?;
        self.ctrl_queue.reserve_one()?;
        self.read_queue.reserve_one()?;
        let r = self
            .with_recv(i, |r, _| r.read(out))
            .ok_or(ApiError::WrongDirection)?;
        if let Ok(o) = r {
            self.conn_recv.on_consumed(o.len as u64);
            self.queue_ctrl(i)?;
            self.queue_read(i)?;
        }
        self.reap(i);
        r
    }

    /// Resets the sending part of stream `id` with `code` (RESET_STREAM). Does nothing when
    /// the stream was already reset or fully acknowledged.
    pub fn reset(&mut self, id: StreamId, code: u64) -> Result<(), ApiError> {
        let i = self.find(id).ok_or(ApiError::UnknownStream)?;
        self.ctrl_queue.reserve_one()?;
        self.with_send(i, |s| s.reset(code))
            .ok_or(ApiError::WrongDirection)?;
        self.queue_ctrl(i)?;
        Ok(())
    }

    /// Asks the peer to stop sending on stream `id` (STOP_SENDING with `code`); data received
    /// from now on is discarded.
    pub fn stop_sending(&mut self, id: StreamId, code: u64) -> Result<(), ApiError> {
        let i = self.find(id).ok_or(ApiError::UnknownStream)?;
        self.ctrl_queue.reserve_one()?;
        let released = self
            .with_recv(i, |r, _| r.stop_sending(code))
            .ok_or(ApiError::WrongDirection)?;
        self.conn_recv.on_consumed(released);
        self.queue_ctrl(i)?;
        self.reap(i);
        Ok(())
    }

    /// The next stream with something to read (data, the end of the stream, or a reset).
    pub fn pop_readable(&mut self) -> Option<StreamId> {
        while let Some(id) = self.read_queue.pop() {
            let Some(i) = self.find(id) else { continue };
            let Some(s) = self.stream_mut(i) else {
                continue;
            };
            s.in_read_queue = false;
            if s.recv.as_ref().is_some_and(|r| r.is_readable()) {
                return Some(id);
            }
        }
        None
    }

    /// The next queued event.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop()
    }
}

#[cfg(test)]
impl Streams {
    /// Checks the map's invariants; panics when one is broken.
    pub(crate) fn check_invariants(&self) {
        let mut buffered = 0;
        let mut ranges = 0;
        let mut remote_open = [0u64; 2];
        for w in self.streams.windows(2) {
            assert!(w[0].id < w[1].id, "stream array must be sorted and unique");
        }
        for e in self.streams.iter() {
            let s = &e.stream;
            assert_eq!(e.id, s.id);
            let d = e.id.dir().index();
            if e.id.is_local(self.side) {
                assert!(e.id.index() < self.local_opened[d]);
            } else {
                assert!(e.id.index() < self.remote_opened[d]);
                remote_open[d] += 1;
            }
            assert_eq!(s.send.is_some(), e.id.can_send(self.side));
            assert_eq!(s.recv.is_some(), e.id.can_recv(self.side));
            assert!(!s.is_closed(), "closed stream {:?} not removed", e.id);
            if let Some(p) = s.send.as_ref() {
                buffered += p.buffered();
                assert!(p.sent() <= p.credit().limit());
                assert!(p.sent() <= p.written());
            }
            if let Some(r) = s.recv.as_ref() {
                assert!(r.highest() <= r.window().limit());
                assert!(r.read_offset() <= r.highest());
                ranges += r.range_count();
            }
        }
        assert_eq!(buffered, self.send_buffered);
        assert_eq!(ranges, self.recv_ranges);
        assert!(self.recv_ranges <= self.config.max_total_ranges);
        // (send_buffered may exceed send_buffer after a shrink; writes then take nothing.)
        assert!(self.conn_send.used() <= self.conn_send.limit());
        assert!(self.conn_recv.received() <= self.conn_recv.limit());
        assert!(self.conn_recv.consumed() <= self.conn_recv.received());
        let initial = [self.config.max_streams_bidi, self.config.max_streams_uni];
        for d in 0..2 {
            assert!(self.local_opened[d] <= self.local_limit[d]);
            assert!(self.remote_opened[d] <= self.remote_limit[d]);
            // Closing a peer stream grants exactly one more: concurrency stays constant.
            assert_eq!(
                self.remote_limit[d] - self.remote_opened[d] + remote_open[d],
                initial[d]
            );
        }
    }
}

/// Our credit on stream `id` from the peer's transport parameters.
fn peer_stream_credit(peer: &PeerLimits, side: Side, id: StreamId) -> u64 {
    match (id.dir(), id.is_local(side)) {
        (Dir::Bidi, true) => peer.max_stream_data_bidi_remote,
        (Dir::Bidi, false) => peer.max_stream_data_bidi_local,
        (Dir::Uni, _) => peer.max_stream_data_uni,
    }
}
