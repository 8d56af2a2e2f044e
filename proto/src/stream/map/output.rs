//! What the streams have to send: control frames and STREAM frames, and what became of them
//! (acknowledged or lost).

use super::{Stream, Streams};
use crate::stream::error::StreamError;
use crate::stream::event::StreamEvent;
use crate::stream::id::{Dir, StreamId};
use crate::stream::state::{SendState, StreamState};
use crate::varint;

/// A control frame for the connection engine to encode and send. When the packet carrying it
/// is acknowledged or lost, hand the same value to [`Streams::on_control_acked`] or
/// [`Streams::on_control_lost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFrame {
    /// MAX_DATA.
    MaxData(u64),
    /// DATA_BLOCKED.
    DataBlocked(u64),
    /// MAX_STREAMS (bidi 0x12, uni 0x13).
    MaxStreams {
        /// Which type of peer-initiated streams.
        dir: Dir,
        /// The new cumulative limit.
        max: u64,
    },
    /// STREAMS_BLOCKED (bidi 0x16, uni 0x17).
    StreamsBlocked {
        /// Which type of our streams.
        dir: Dir,
        /// The limit we are blocked at.
        limit: u64,
    },
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// The stream.
        id: StreamId,
        /// The new limit.
        max: u64,
    },
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// The stream.
        id: StreamId,
        /// The limit we are blocked at.
        limit: u64,
    },
    /// RESET_STREAM.
    ResetStream {
        /// The stream.
        id: StreamId,
        /// The application error code.
        code: u64,
        /// The final size.
        final_size: u64,
    },
    /// STOP_SENDING.
    StopSending {
        /// The stream.
        id: StreamId,
        /// The application error code.
        code: u64,
    },
}

/// STREAM frame contents to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamChunk<'a> {
    /// The stream.
    pub id: StreamId,
    /// Offset of the first byte.
    pub offset: u64,
    /// Whether the frame carries FIN.
    pub fin: bool,
    /// The bytes (may be empty for a FIN-only frame).
    pub data: &'a [u8],
}

impl Streams {
    /// True when [`poll_stream_frame`](Self::poll_stream_frame) may have data to send.
    pub fn has_stream_data(&self) -> bool {
        !self.send_queue.is_empty()
    }

    /// Nagle's rule (a small write waits while data is in flight): true when the queued
    /// stream data is worth a packet now: at least `full` new bytes within flow control, or
    /// anything urgent (a retransmission or a FIN). Stops looking as soon as it knows.
    pub fn stream_data_worth_sending(&self, full: u64) -> bool {
        let conn = self.conn_send.available();
        let mut new = 0u64;
        for id in self.send_queue.iter() {
            let Some(send) = self
                .find(*id)
                .and_then(|i| self.streams.get(i))
                .and_then(|e| e.stream.send.as_ref())
            else {
                continue;
            };
            let (urgent, n) = send.pending();
            new = new.saturating_add(n);
            if urgent || new.min(conn) >= full {
                return true;
            }
        }
        false
    }

    /// True when [`poll_control`](Self::poll_control) may have a frame to send (MAX_DATA
    /// decisions are taken at poll time, so this can be true with nothing to send).
    pub fn has_control(&self) -> bool {
        self.conn_recv.wants_update()
            || self.max_data_resend
            || self.data_blocked.is_some()
            || self.max_streams_pending.iter().any(|p| *p)
            || self.streams_blocked.iter().any(|b| b.is_some())
            || !self.ctrl_queue.is_empty()
    }

    /// The next control frame to send. `now_us` and the smoothed RTT `srtt_us` (0 when
    /// unknown) drive receive-window auto-tuning. A frame that does not fit in the packet can
    /// be handed back with [`on_control_lost`](Self::on_control_lost).
    pub fn poll_control(
        &mut self,
        now_us: u64,
        srtt_us: u64,
    ) -> Result<Option<ControlFrame>, StreamError> {
        if let Some(limit) = self.conn_recv.update(now_us, srtt_us) {
            self.max_data_resend = false;
            return Ok(Some(ControlFrame::MaxData(limit)));
        }
        if core::mem::take(&mut self.max_data_resend) {
            return Ok(Some(ControlFrame::MaxData(self.conn_recv.limit())));
        }
        if let Some(limit) = self.data_blocked.take() {
            if self.conn_send.is_blocked_at(limit) {
                return Ok(Some(ControlFrame::DataBlocked(limit)));
            }
        }
        for dir in Dir::ALL {
            let d = dir.index();
            if core::mem::take(&mut self.max_streams_pending[d]) {
                return Ok(Some(ControlFrame::MaxStreams {
                    dir,
                    max: self.remote_limit[d],
                }));
            }
            if let Some(limit) = self.streams_blocked[d].take() {
                if self.local_limit[d] == limit && self.local_opened[d] >= limit {
                    return Ok(Some(ControlFrame::StreamsBlocked { dir, limit }));
                }
            }
        }
        // Each stream is looked at once per call: one that comes back is handled next time.
        let mut tries = self.ctrl_queue.len();
        while tries > 0 {
            tries -= 1;
            let Some(id) = self.ctrl_queue.pop() else {
                break;
            };
            let Some(i) = self.find(id) else { continue };
            let Some(s) = self.stream_mut(i) else {
                continue;
            };
            s.in_ctrl_queue = false;
            let frame = stream_control(s, now_us, srtt_us);
            let grown = s.recv.as_ref().map_or(0, |r| r.window().window());
            // A frame is taken at a time; the stream comes back for the rest.
            self.queue_ctrl(i)?;
            if let Some(f) = frame {
                // Keep the connection window ahead of the largest stream window.
                self.conn_recv.grow_to(grown.saturating_add(grown / 2));
                return Ok(Some(f));
            }
        }
        Ok(None)
    }

    /// The peer acknowledged a control frame from [`poll_control`](Self::poll_control).
    pub fn on_control_acked(&mut self, frame: &ControlFrame) -> Result<(), StreamError> {
        let ControlFrame::ResetStream { id, code, .. } = *frame else {
            return Ok(());
        };
        let Some(i) = self.find(id) else {
            return Ok(());
        };
        if self.with_send(i, |s| s.on_reset_acked()) == Some(true) {
            self.emit(StreamEvent::Update {
                id,
                state: StreamState::Send(SendState::ResetRecvd),
                errcode: code,
                final_size: 0,
            })?;
            self.reap(i);
        }
        Ok(())
    }

    /// A control frame from [`poll_control`](Self::poll_control) was lost (or did not fit):
    /// queue it again if it is still needed (with up-to-date values).
    pub fn on_control_lost(&mut self, frame: &ControlFrame) -> Result<(), StreamError> {
        match *frame {
            ControlFrame::MaxData(limit) => {
                if limit == self.conn_recv.limit() {
                    self.max_data_resend = true;
                }
            }
            ControlFrame::DataBlocked(limit) => {
                if self.conn_send.is_blocked_at(limit) {
                    self.data_blocked = Some(limit);
                }
            }
            ControlFrame::MaxStreams { dir, max } => {
                if max == self.remote_limit[dir.index()] {
                    self.max_streams_pending[dir.index()] = true;
                }
            }
            ControlFrame::StreamsBlocked { dir, limit } => {
                let d = dir.index();
                if self.local_limit[d] == limit && self.local_opened[d] >= limit {
                    self.streams_blocked[d] = Some(limit);
                }
            }
            ControlFrame::MaxStreamData { id, max } => {
                if let Some(i) = self.find(id) {
                    if let Some(r) = self.stream_mut(i).and_then(|s| s.recv.as_mut()) {
                        r.on_max_stream_data_lost(max);
                    }
                    self.queue_ctrl(i)?;
                }
            }
            ControlFrame::StreamDataBlocked { id, limit } => {
                if let Some(i) = self.find(id) {
                    if let Some(s) = self.stream_mut(i).and_then(|s| s.send.as_mut()) {
                        s.on_blocked_lost(limit);
                    }
                    self.queue_ctrl(i)?;
                }
            }
            ControlFrame::ResetStream { id, .. } => {
                if let Some(i) = self.find(id) {
                    if let Some(s) = self.stream_mut(i).and_then(|s| s.send.as_mut()) {
                        s.on_reset_lost();
                    }
                    self.queue_ctrl(i)?;
                }
            }
            ControlFrame::StopSending { id, .. } => {
                if let Some(i) = self.find(id) {
                    if let Some(r) = self.stream_mut(i).and_then(|s| s.recv.as_mut()) {
                        r.on_stop_sending_lost();
                    }
                    self.queue_ctrl(i)?;
                }
            }
        }
        Ok(())
    }

    /// The next STREAM frame to send, from the streams with data in round-robin order, such
    /// that the whole frame (type byte, stream ID, offset, length field and data) fits in
    /// `max_frame_len` bytes. Uses connection and stream credit for new data. When a stream is
    /// blocked by flow control, DATA_BLOCKED or STREAM_DATA_BLOCKED is queued for
    /// [`poll_control`](Self::poll_control).
    pub fn poll_stream_frame(
        &mut self,
        max_frame_len: usize,
    ) -> Result<Option<StreamChunk<'_>>, StreamError> {
        let mut tries = self.send_queue.len();
        while tries > 0 {
            tries -= 1;
            let Some(id) = self.send_queue.pop() else {
                break;
            };
            let Some(i) = self.find(id) else { continue };
            let conn = self.conn_send.available();
            let Some(e) = self.streams.get_mut(i) else {
                continue;
            };
            e.stream.in_send_queue = false;
            let Some(send) = e.stream.send.as_mut() else {
                continue;
            };
            if !send.has_sendable(conn) {
                self.queue_send(i)?;
                continue;
            }
            let offset = send.next_offset();
            let header = 1
                + varint::size(id.raw())
                + if offset > 0 { varint::size(offset) } else { 0 }
                + varint::size(max_frame_len as u64);
            let Some(room) = max_frame_len.checked_sub(header) else {
                // Not even a header fits: try again with the next packet.
                self.queue_send(i)?;
                return Ok(None);
            };
            let before = send.sent();
            let Some(chunk) = send.next_chunk(room, conn) else {
                self.queue_send(i)?;
                return Ok(None);
            };
            let used = send.sent() - before;
            self.conn_send.consume(used);
            self.queue_send(i)?;
            let Some(send) = self.streams.get(i).and_then(|e| e.stream.send.as_ref()) else {
                return Ok(None);
            };
            return Ok(Some(StreamChunk {
                id,
                offset: chunk.offset,
                fin: chunk.fin,
                data: send.chunk_data(&chunk),
            }));
        }
        Ok(None)
    }

    /// The peer acknowledged a STREAM frame we sent.
    pub fn on_stream_acked(
        &mut self,
        id: StreamId,
        offset: u64,
        len: usize,
        fin: bool,
    ) -> Result<(), StreamError> {
        let Some(i) = self.find(id) else {
            return Ok(());
        };
        if self.with_send(i, |s| s.on_ack(offset, len, fin)) == Some(Ok(true)) {
            self.emit(StreamEvent::Update {
                id,
                state: StreamState::Send(SendState::Recvd),
                errcode: 0,
                final_size: 0,
            })?;
            self.reap(i);
        }
        Ok(())
    }

    /// A STREAM frame we sent was lost: its unacknowledged bytes are queued again.
    pub fn on_stream_lost(
        &mut self,
        id: StreamId,
        offset: u64,
        len: usize,
        fin: bool,
    ) -> Result<(), StreamError> {
        let Some(i) = self.find(id) else {
            return Ok(());
        };
        self.with_send(i, |s| s.on_lost(offset, len, fin))
            .transpose()?;
        self.queue_send(i)?;
        Ok(())
    }
}

/// One pending control frame of a stream, most urgent first.
fn stream_control(s: &mut Stream, now_us: u64, srtt_us: u64) -> Option<ControlFrame> {
    let id = s.id;
    if let Some(send) = s.send.as_mut() {
        if let Some(r) = send.poll_reset() {
            return Some(ControlFrame::ResetStream {
                id,
                code: r.code,
                final_size: r.final_size,
            });
        }
    }
    if let Some(recv) = s.recv.as_mut() {
        if let Some(code) = recv.poll_stop_sending() {
            return Some(ControlFrame::StopSending { id, code });
        }
        if let Some(max) = recv.poll_max_stream_data(now_us, srtt_us) {
            return Some(ControlFrame::MaxStreamData { id, max });
        }
    }
    if let Some(send) = s.send.as_mut() {
        if let Some(limit) = send.poll_blocked() {
            return Some(ControlFrame::StreamDataBlocked { id, limit });
        }
    }
    None
}
