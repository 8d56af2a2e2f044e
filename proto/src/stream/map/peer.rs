//! Frames from the peer that concern streams: STREAM, RESET_STREAM, STOP_SENDING,
//! MAX_STREAM_DATA, STREAM_DATA_BLOCKED, MAX_DATA, DATA_BLOCKED, MAX_STREAMS and
//! STREAMS_BLOCKED (RFC 9000 §3, §4, §19).

use super::Streams;
use crate::stream::error::StreamError;
use crate::stream::event::StreamEvent;
use crate::stream::id::{Dir, StreamId, MAX_STREAMS};
use crate::stream::recv::RecvOutcome;
use crate::stream::state::{RecvState, SendState, StreamState};

/// What became of a STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Processed (stored, or a duplicate, or for a stream already closed).
    Accepted,
    /// Not stored because the stream's reassembly is too fragmented: the packet must not be
    /// acknowledged, so that the peer retransmits it.
    Dropped,
}

/// Which part of a stream a peer frame is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The frame concerns data we send (MAX_STREAM_DATA, STOP_SENDING).
    Send,
    /// The frame concerns data we receive (STREAM, RESET_STREAM, STREAM_DATA_BLOCKED).
    Recv,
}

impl Streams {
    /// Finds the stream a peer frame is about, opening peer streams up to it (RFC 9000 §3.2).
    /// `Ok(None)`: the stream was already closed, so the frame is ignored.
    fn locate(&mut self, id: StreamId, part: Part) -> Result<Option<usize>, StreamError> {
        let allowed = match part {
            Part::Send => id.can_send(self.side),
            Part::Recv => id.can_recv(self.side),
        };
        if !allowed {
            return Err(StreamError::StreamState);
        }
        let d = id.dir().index();
        if id.is_local(self.side) {
            if id.index() >= self.local_opened[d] {
                return Err(StreamError::StreamState);
            }
        } else {
            if id.index() >= self.remote_limit[d] {
                return Err(StreamError::StreamLimit);
            }
            while self.remote_opened[d] <= id.index() {
                let next = StreamId::from_index(id.initiator(), id.dir(), self.remote_opened[d])
                    .ok_or(StreamError::StreamLimit)?;
                self.insert(next)?;
                self.remote_opened[d] += 1;
            }
        }
        Ok(self.find(id))
    }

    fn report_recv(&mut self, i: usize, out: &RecvOutcome) -> Result<(), StreamError> {
        self.conn_recv.on_received(out.credit)?;
        self.conn_recv.on_consumed(out.released);
        let Some(e) = self.streams.get(i) else {
            return Ok(());
        };
        let id = e.id;
        let recv = e.stream.recv.as_ref();
        if let Some(state) = out.event {
            let (errcode, final_size) = match state {
                RecvState::ResetRecvd => (
                    recv.and_then(|r| r.reset_code()).unwrap_or(0),
                    recv.and_then(|r| r.final_size()).unwrap_or(0),
                ),
                RecvState::SizeKnown | RecvState::Recvd => {
                    (0, recv.and_then(|r| r.final_size()).unwrap_or(0))
                }
                _ => (0, 0),
            };
            self.emit(StreamEvent::Update {
                id,
                state: StreamState::Recv(state),
                errcode,
                final_size,
            })?;
        }
        if out.readable {
            self.queue_read(i)?;
        }
        self.queue_ctrl(i)?;
        self.reap(i);
        Ok(())
    }

    /// A STREAM frame: `data` at `offset` on stream `id`, FIN when `fin`.
    pub fn on_stream_frame(
        &mut self,
        id: StreamId,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<Delivery, StreamError> {
        let Some(i) = self.locate(id, Part::Recv)? else {
            return Ok(Delivery::Accepted);
        };
        let conn = self.conn_recv.available();
        let out = self
            .with_recv(i, |r, left| r.on_data_within(offset, data, fin, conn, left))
            .ok_or(StreamError::StreamState)??;
        if out.dropped {
            return Ok(Delivery::Dropped);
        }
        self.report_recv(i, &out)?;
        Ok(Delivery::Accepted)
    }

    /// A RESET_STREAM frame.
    pub fn on_reset_stream(
        &mut self,
        id: StreamId,
        code: u64,
        final_size: u64,
    ) -> Result<(), StreamError> {
        let Some(i) = self.locate(id, Part::Recv)? else {
            return Ok(());
        };
        let conn = self.conn_recv.available();
        let out = self
            .with_recv(i, |r, _| r.on_reset(code, final_size, conn))
            .ok_or(StreamError::StreamState)??;
        self.report_recv(i, &out)
    }

    /// A STREAM_DATA_BLOCKED frame.
    pub fn on_stream_data_blocked(&mut self, id: StreamId, limit: u64) -> Result<(), StreamError> {
        let Some(i) = self.locate(id, Part::Recv)? else {
            return Ok(());
        };
        if let Some(r) = self.stream_mut(i).and_then(|s| s.recv.as_mut()) {
            r.on_data_blocked(limit);
        }
        self.queue_ctrl(i)?;
        Ok(())
    }

    /// A STOP_SENDING frame: the sending part is reset with the peer's code.
    pub fn on_stop_sending(&mut self, id: StreamId, code: u64) -> Result<(), StreamError> {
        let Some(i) = self.locate(id, Part::Send)? else {
            return Ok(());
        };
        if self.with_send(i, |s| s.on_stop_sending(code)) == Some(true) {
            self.emit(StreamEvent::Update {
                id,
                state: StreamState::Send(SendState::ResetSent),
                errcode: code,
                final_size: 0,
            })?;
            self.queue_ctrl(i)?;
        }
        Ok(())
    }

    /// A MAX_STREAM_DATA frame.
    pub fn on_max_stream_data(&mut self, id: StreamId, max: u64) -> Result<(), StreamError> {
        let Some(i) = self.locate(id, Part::Send)? else {
            return Ok(());
        };
        let raised = self
            .stream_mut(i)
            .and_then(|s| s.send.as_mut())
            .is_some_and(|s| s.on_max_stream_data(max));
        if raised {
            self.emit(StreamEvent::MaxData { id, max_data: max })?;
            self.queue_send(i)?;
        }
        Ok(())
    }

    /// A MAX_DATA frame.
    pub fn on_max_data(&mut self, max: u64) -> Result<(), StreamError> {
        if self.conn_send.raise(max) {
            self.requeue_conn_blocked()?;
        }
        Ok(())
    }

    /// A DATA_BLOCKED frame: if we already allow more, our MAX_DATA was lost; send it again.
    pub fn on_data_blocked(&mut self, limit: u64) {
        if self.conn_recv.limit() > limit {
            self.max_data_resend = true;
        }
    }

    /// A MAX_STREAMS frame for our streams of direction `dir`.
    pub fn on_max_streams(&mut self, dir: Dir, max: u64) -> Result<(), StreamError> {
        if max > MAX_STREAMS {
            return Err(StreamError::FrameEncoding);
        }
        let d = dir.index();
        if max <= self.local_limit[d] {
            return Ok(());
        }
        self.local_limit[d] = max;
        if let Some(last_id) = StreamId::last_allowed(self.side, dir, max) {
            self.emit(StreamEvent::MaxStreams { dir, max, last_id })?;
        }
        Ok(())
    }

    /// A STREAMS_BLOCKED frame for the peer's streams of direction `dir`: if we already allow
    /// more, our MAX_STREAMS was lost; send it again.
    pub fn on_streams_blocked(&mut self, dir: Dir, limit: u64) -> Result<(), StreamError> {
        if limit > MAX_STREAMS {
            return Err(StreamError::FrameEncoding);
        }
        let d = dir.index();
        if self.remote_limit[d] > limit {
            self.max_streams_pending[d] = true;
        }
        Ok(())
    }
}
