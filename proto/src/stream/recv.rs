//! The receiving part of a stream (RFC 9000 §2.2, §3.2, §4.5).
//!
//! STREAM frames may arrive in any order, duplicated or overlapping. Their bytes are copied into
//! one contiguous buffer at their stream offset, and the set of offsets received is kept as a
//! sorted range list; the application reads the run that starts at its read offset.
//!
//! Memory is bounded: no byte beyond the advertised MAX_STREAM_DATA is accepted, so the buffer
//! never spans more than the window, and the range list is capped at `max_ranges` gaps. A frame
//! that would need more ranges is *dropped*: the caller must then not acknowledge the packet,
//! so that the peer sends the data again later, when it may fill a gap instead.

use core::cmp::{max, min};

use crate::varint;

use super::buf::ByteBuf;
use super::error::{ApiError, StreamError};
use super::flow::RecvWindow;
use super::ranges::RangeSet;
use super::state::RecvState;

/// Default cap on the number of separate ranges a stream's reassembly keeps.
pub const DEFAULT_MAX_RANGES: usize = 1024;

/// What a STREAM or RESET_STREAM frame did to a receiving part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvOutcome {
    /// Connection credit used: how far the frame moved the stream's highest offset.
    pub credit: u64,
    /// Bytes to count as consumed at connection level without a read (discarded data).
    pub released: u64,
    /// Data, the end of the stream or a reset is now waiting for the application.
    pub readable: bool,
    /// The state to report in a stream update event.
    pub event: Option<RecvState>,
    /// The frame was not stored (too many gaps): do not acknowledge its packet.
    pub dropped: bool,
}

/// What a read returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes copied into the caller's buffer.
    pub len: usize,
    /// The read reached the end of the stream; reported exactly once.
    pub fin: bool,
}

/// The receiving part of a stream.
#[derive(Debug)]
pub struct RecvStream {
    state: RecvState,
    buf: ByteBuf,
    /// Offsets received and not yet read.
    received: RangeSet,
    /// Bytes read by (or discarded for) the application.
    read: u64,
    /// The highest offset received: the stream credit the peer used.
    highest: u64,
    final_size: Option<u64>,
    window: RecvWindow,
    max_ranges: usize,
    reset_code: Option<u64>,
    /// The application's STOP_SENDING error code.
    stop: Option<u64>,
    stop_pending: bool,
    /// A MAX_STREAM_DATA must be sent even if the window did not move (lost or peer blocked).
    resend_max_data: bool,
}

impl RecvStream {
    /// A stream in state Recv, advertising `window` bytes of credit, which auto-tuning may grow
    /// to `max_window`, and keeping at most `max_ranges` (at least 1) separate ranges.
    pub fn new(window: u64, max_window: u64, max_ranges: usize) -> Self {
        Self {
            state: RecvState::Recv,
            buf: ByteBuf::new(),
            received: RangeSet::new(),
            read: 0,
            highest: 0,
            final_size: None,
            window: RecvWindow::new(window, max_window),
            max_ranges: max(max_ranges, 1),
            reset_code: None,
            stop: None,
            stop_pending: false,
            resend_max_data: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> RecvState {
        self.state
    }

    /// Bytes read by the application (or discarded).
    pub fn read_offset(&self) -> u64 {
        self.read
    }

    /// The highest offset received.
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// The final size, once known.
    pub fn final_size(&self) -> Option<u64> {
        self.final_size
    }

    /// The peer's RESET_STREAM error code, once reset.
    pub fn reset_code(&self) -> Option<u64> {
        self.reset_code
    }

    /// The stream-level flow-control window.
    pub fn window(&self) -> &RecvWindow {
        &self.window
    }

    /// Bytes of memory the reassembly buffer holds.
    pub fn footprint(&self) -> usize {
        self.buf.footprint()
    }

    /// Number of separate ranges of received data held.
    pub fn range_count(&self) -> usize {
        self.received.len()
    }

    fn readable_end(&self) -> u64 {
        self.received.contiguous_end(self.read)
    }

    /// True when a [`read`](Self::read) would return data, the end of the stream, or the reset.
    pub fn is_readable(&self) -> bool {
        match self.state {
            RecvState::ResetRecvd => true,
            RecvState::Recv | RecvState::SizeKnown => {
                self.stop.is_none() && self.readable_end() > self.read
            }
            RecvState::Recvd => self.stop.is_none(),
            RecvState::Read | RecvState::ResetRead => false,
        }
    }

    /// Applies the final-size rules (RFC 9000 §4.5) to data ending at `end`.
    fn check_final(&self, end: u64, fin: bool) -> Result<(), StreamError> {
        match self.final_size {
            Some(f) if end > f || (fin && end != f) => Err(StreamError::FinalSize),
            None if fin && end < self.highest => Err(StreamError::FinalSize),
            _ => Ok(()),
        }
    }

    /// A STREAM frame: `data` at `offset`, with FIN when `fin`. `conn_available` is the
    /// connection credit the peer has left. On error nothing changes.
    pub fn on_data(
        &mut self,
        offset: u64,
        data: &[u8],
        fin: bool,
        conn_available: u64,
    ) -> Result<RecvOutcome, StreamError> {
        self.on_data_within(offset, data, fin, conn_available, usize::MAX)
    }

    /// [`on_data`](Self::on_data), where the frame may add at most `ranges_left` ranges (the
    /// connection's remaining reassembly budget) besides the stream's own cap; beyond that it
    /// is dropped.
    pub fn on_data_within(
        &mut self,
        offset: u64,
        data: &[u8],
        fin: bool,
        conn_available: u64,
        ranges_left: usize,
    ) -> Result<RecvOutcome, StreamError> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|e| *e <= varint::MAX)
            .ok_or(StreamError::FlowControl)?;
        self.check_final(end, fin)?;
        if end > self.window.limit() {
            return Err(StreamError::FlowControl);
        }
        let credit = end.saturating_sub(self.highest);
        if credit > conn_available {
            return Err(StreamError::FlowControl);
        }
        let mut out = RecvOutcome::default();
        if !matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            // Everything up to the final size is already accounted for: a retransmission.
            return Ok(out);
        }
        let first_data = self.highest == 0 && end > 0;
        if self.stop.is_some() {
            // The application does not want the data: account for it and let it go.
            self.window.on_received(credit)?;
            self.window.on_consumed(credit);
            self.highest += credit;
            self.read = self.highest;
            out.credit = credit;
            out.released = credit;
            if fin {
                self.final_size = Some(end);
                self.state = RecvState::Read;
            }
            return Ok(out);
        }
        let start = max(offset, self.read);
        if start < end {
            let ranges = self.received.len_after_insert(start, end);
            if ranges > self.max_ranges || ranges > self.received.len().saturating_add(ranges_left)
            {
                out.dropped = true;
                return Ok(out);
            }
            let skip = usize::try_from(start - offset).unwrap_or(usize::MAX);
            self.buf.write_at(start, data.get(skip..).unwrap_or(&[]))?;
            self.received.insert(start, end)?;
        }
        // Committed: nothing below fails.
        self.window.on_received(credit)?;
        self.highest += credit;
        out.credit = credit;
        if fin {
            self.final_size = Some(end);
        }
        let readable_end = self.readable_end();
        match self.final_size {
            Some(f) if readable_end >= f => {
                self.state = RecvState::Recvd;
                out.event = Some(RecvState::Recvd);
            }
            Some(_) if self.state == RecvState::Recv => {
                self.state = RecvState::SizeKnown;
                out.event = Some(RecvState::SizeKnown);
            }
            _ if first_data && self.state == RecvState::Recv => out.event = Some(RecvState::Recv),
            _ => {}
        }
        out.readable = readable_end > self.read || self.state == RecvState::Recvd;
        Ok(out)
    }

    /// A RESET_STREAM frame. Checks the final size (RFC 9000 §4.5) and flow control; from Recv
    /// or Size Known, drops the buffered data and moves to Reset Recvd (to Reset Read directly
    /// when the application already asked to stop). When all data was already received (Data
    /// Recvd or Data Read) the reset is ignored and the data is delivered. On error nothing
    /// changes.
    pub fn on_reset(
        &mut self,
        code: u64,
        final_size: u64,
        conn_available: u64,
    ) -> Result<RecvOutcome, StreamError> {
        if final_size > varint::MAX {
            return Err(StreamError::FlowControl);
        }
        match self.final_size {
            Some(f) if f != final_size => return Err(StreamError::FinalSize),
            None if final_size < self.highest => return Err(StreamError::FinalSize),
            _ => {}
        }
        if final_size > self.window.limit() {
            return Err(StreamError::FlowControl);
        }
        let credit = final_size.saturating_sub(self.highest);
        if credit > conn_available {
            return Err(StreamError::FlowControl);
        }
        let mut out = RecvOutcome::default();
        if !matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            return Ok(out);
        }
        self.window.on_received(credit)?;
        out.credit = credit;
        out.released = final_size.saturating_sub(self.read);
        self.window.on_consumed(out.released);
        self.highest = final_size;
        self.final_size = Some(final_size);
        self.read = final_size;
        self.reset_code = Some(code);
        self.buf.clear_to(final_size);
        self.received.clear();
        self.stop_pending = false;
        self.resend_max_data = false;
        out.event = Some(RecvState::ResetRecvd);
        if self.stop.is_some() {
            self.state = RecvState::ResetRead;
        } else {
            self.state = RecvState::ResetRecvd;
            out.readable = true;
        }
        Ok(out)
    }

    /// Copies readable bytes into `out`. Reports `fin` once, with the read that reaches the
    /// end of the stream; after that, reads fail with [`ApiError::Closed`]. After a reset, the
    /// first read reports it ([`ApiError::Reset`]) and moves to Reset Read.
    pub fn read(&mut self, out: &mut [u8]) -> Result<ReadOutcome, ApiError> {
        match self.state {
            RecvState::ResetRecvd | RecvState::ResetRead => {
                self.state = RecvState::ResetRead;
                return Err(ApiError::Reset(self.reset_code.unwrap_or(0)));
            }
            RecvState::Read => return Err(ApiError::Closed),
            _ if self.stop.is_some() => return Err(ApiError::Closed),
            _ => {}
        }
        let avail = self.readable_end() - self.read;
        let n = min(avail, out.len() as u64);
        let len = usize::try_from(n).unwrap_or(0);
        if len > 0 {
            match (self.buf.get(self.read, len), out.get_mut(..len)) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => return Ok(ReadOutcome { len: 0, fin: false }),
            }
        }
        self.read += n;
        self.buf.release_to(self.read);
        self.received.remove_below(self.read);
        self.window.on_consumed(n);
        let fin = self.state == RecvState::Recvd && self.final_size == Some(self.read);
        if fin {
            self.state = RecvState::Read;
            self.buf.clear_to(self.read);
            self.received.clear();
        }
        Ok(ReadOutcome { len, fin })
    }

    /// Copies readable bytes into `out` like [`read`](Self::read) without consuming them
    /// (`MSG_PEEK`): the stream's state, window and buffer are unchanged. `fin` says whether a
    /// read of the same length would reach the end of the stream.
    pub fn peek(&self, out: &mut [u8]) -> Result<ReadOutcome, ApiError> {
        match self.state {
            RecvState::ResetRecvd | RecvState::ResetRead => {
                return Err(ApiError::Reset(self.reset_code.unwrap_or(0)));
            }
            RecvState::Read => return Err(ApiError::Closed),
            _ if self.stop.is_some() => return Err(ApiError::Closed),
            _ => {}
        }
        let avail = self.readable_end() - self.read;
        let n = min(avail, out.len() as u64);
        let len = usize::try_from(n).unwrap_or(0);
        if len > 0 {
            match (self.buf.get(self.read, len), out.get_mut(..len)) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => return Ok(ReadOutcome { len: 0, fin: false }),
            }
        }
        let fin = self.state == RecvState::Recvd && self.final_size == Some(self.read + n);
        Ok(ReadOutcome { len, fin })
    }

    /// The application asks the peer to stop sending (STOP_SENDING with `code`). Buffered and
    /// later data is discarded; returns the bytes released for connection flow control.
    pub fn stop_sending(&mut self, code: u64) -> u64 {
        let released;
        match self.state {
            RecvState::Recv | RecvState::SizeKnown | RecvState::Recvd if self.stop.is_none() => {
                released = self.highest.saturating_sub(self.read);
                self.window.on_consumed(released);
                self.read = self.highest;
                self.buf.clear_to(self.read);
                self.received.clear();
                self.stop = Some(code);
                self.resend_max_data = false;
                // With the final size known, the stream needs nothing more from the peer. The
                // frame is still worth sending from Size Known: it stops retransmissions.
                self.stop_pending = self.state != RecvState::Recvd;
                if self.state != RecvState::Recv {
                    self.state = RecvState::Read;
                }
            }
            RecvState::ResetRecvd => {
                self.state = RecvState::ResetRead;
                released = 0;
            }
            _ => released = 0,
        }
        released
    }

    /// Takes the STOP_SENDING error code to send, if one is due.
    pub fn poll_stop_sending(&mut self) -> Option<u64> {
        if !self.stop_pending || self.reset_code.is_some() {
            return None;
        }
        self.stop_pending = false;
        self.stop
    }

    /// STOP_SENDING was lost: send it again while the peer may still be sending.
    pub fn on_stop_sending_lost(&mut self) {
        if self.stop.is_some() && self.reset_code.is_none() && self.final_size.is_none() {
            self.stop_pending = true;
        }
    }

    fn wants_window(&self) -> bool {
        self.state == RecvState::Recv && self.stop.is_none()
    }

    /// True when a MAX_STREAM_DATA is worth sending now.
    pub fn wants_max_stream_data(&self) -> bool {
        self.wants_window() && (self.resend_max_data || self.window.wants_update())
    }

    /// Takes the MAX_STREAM_DATA value to send, if one is due, moving the window (see
    /// [`RecvWindow::update`] for `now_us` and `srtt_us`). No update is sent once the final
    /// size is known.
    pub fn poll_max_stream_data(&mut self, now_us: u64, srtt_us: u64) -> Option<u64> {
        if !self.wants_window() {
            self.resend_max_data = false;
            return None;
        }
        let resend = core::mem::take(&mut self.resend_max_data);
        match self.window.update(now_us, srtt_us) {
            Some(limit) => Some(limit),
            None if resend => Some(self.window.limit()),
            None => None,
        }
    }

    /// A MAX_STREAM_DATA carrying `limit` was lost: send the limit again if it is still the
    /// latest and still useful.
    pub fn on_max_stream_data_lost(&mut self, limit: u64) {
        if self.wants_window() && limit == self.window.limit() {
            self.resend_max_data = true;
        }
    }

    /// The peer sent STREAM_DATA_BLOCKED at `limit`. If we already allow more, our update was
    /// lost: returns true and queues it again.
    pub fn on_data_blocked(&mut self, limit: u64) -> bool {
        if self.wants_window() && self.window.limit() > limit {
            self.resend_max_data = true;
            return true;
        }
        false
    }

    /// True when a control frame (STOP_SENDING or MAX_STREAM_DATA) waits to be sent.
    pub fn has_control(&self) -> bool {
        (self.stop_pending && self.reset_code.is_none()) || self.wants_max_stream_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec as StdVec;

    const BIG: u64 = 1 << 40;

    fn stream(window: u64) -> RecvStream {
        RecvStream::new(window, window, DEFAULT_MAX_RANGES)
    }

    fn read_all(r: &mut RecvStream) -> (StdVec<u8>, bool) {
        let mut out = StdVec::new();
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf) {
                Ok(o) => {
                    out.extend_from_slice(&buf[..o.len]);
                    if o.fin {
                        return (out, true);
                    }
                    if o.len == 0 {
                        return (out, false);
                    }
                }
                Err(_) => return (out, false),
            }
        }
    }

    #[test]
    fn in_order_recv_to_read() {
        let mut r = stream(100);
        assert_eq!(r.state(), RecvState::Recv);
        let o = r.on_data(0, b"hello", false, BIG).unwrap();
        assert_eq!(o.event, Some(RecvState::Recv));
        assert_eq!(o.credit, 5);
        assert!(o.readable);
        let o = r.on_data(5, b" world", true, BIG).unwrap();
        assert_eq!(o.event, Some(RecvState::Recvd));
        assert_eq!(r.state(), RecvState::Recvd);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf), Ok(ReadOutcome { len: 4, fin: false }));
        assert_eq!(&buf, b"hell");
        let (rest, fin) = read_all(&mut r);
        assert_eq!(rest, b"o world");
        assert!(fin);
        assert_eq!(r.state(), RecvState::Read);
        assert_eq!(r.read(&mut buf), Err(ApiError::Closed));
        // Retransmissions after the end are ignored.
        assert_eq!(
            r.on_data(0, b"hello", false, BIG).unwrap(),
            RecvOutcome::default()
        );
    }

    #[test]
    fn out_of_order_size_known() {
        let mut r = stream(100);
        let o = r.on_data(5, b"world", true, BIG).unwrap();
        assert_eq!(o.event, Some(RecvState::SizeKnown));
        assert!(!o.readable);
        assert_eq!(r.state(), RecvState::SizeKnown);
        assert_eq!(r.final_size(), Some(10));
        let mut buf = [0u8; 10];
        assert_eq!(r.read(&mut buf), Ok(ReadOutcome { len: 0, fin: false }));
        let o = r.on_data(0, b"hello", false, BIG).unwrap();
        assert_eq!(o.event, Some(RecvState::Recvd));
        assert_eq!(o.credit, 0);
        assert_eq!(r.read(&mut buf), Ok(ReadOutcome { len: 10, fin: true }));
        assert_eq!(&buf, b"helloworld");
    }

    #[test]
    fn empty_stream_fin() {
        let mut r = stream(100);
        let o = r.on_data(0, b"", true, BIG).unwrap();
        assert_eq!(o.event, Some(RecvState::Recvd));
        assert!(o.readable);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf), Ok(ReadOutcome { len: 0, fin: true }));
        assert_eq!(r.state(), RecvState::Read);
    }

    #[test]
    fn final_size_errors() {
        // Data beyond a known final size.
        let mut r = stream(100);
        r.on_data(0, b"abc", true, BIG).unwrap();
        assert_eq!(r.on_data(3, b"d", false, BIG), Err(StreamError::FinalSize));
        assert_eq!(r.on_data(2, b"cd", false, BIG), Err(StreamError::FinalSize));
        // A different final size.
        assert_eq!(r.on_data(0, b"ab", true, BIG), Err(StreamError::FinalSize));
        assert_eq!(r.on_reset(1, 4, BIG), Err(StreamError::FinalSize));
        assert_eq!(r.on_reset(1, 2, BIG), Err(StreamError::FinalSize));
        // The same final size again is fine.
        assert!(r.on_data(0, b"abc", true, BIG).is_ok());
        assert!(r.on_reset(1, 3, BIG).is_ok());

        // FIN below data already received.
        let mut r = stream(100);
        r.on_data(10, b"xy", false, BIG).unwrap();
        assert_eq!(r.on_data(0, b"abc", true, BIG), Err(StreamError::FinalSize));
        // RESET_STREAM final size below data already received.
        assert_eq!(r.on_reset(7, 11, BIG), Err(StreamError::FinalSize));
        assert_eq!(r.state(), RecvState::Recv);
        assert_eq!(r.highest(), 12);
        // Size-known state, data beyond the final size.
        r.on_data(12, b"z", true, BIG).unwrap();
        assert_eq!(r.state(), RecvState::SizeKnown);
        assert_eq!(r.on_data(13, b"", false, BIG), Ok(RecvOutcome::default()));
        assert_eq!(r.on_data(13, b"q", false, BIG), Err(StreamError::FinalSize));
    }

    #[test]
    fn flow_control_errors() {
        let mut r = stream(10);
        assert_eq!(
            r.on_data(5, b"abcdef", false, BIG),
            Err(StreamError::FlowControl)
        );
        assert_eq!(
            r.on_data(0, b"abc", false, 2),
            Err(StreamError::FlowControl)
        );
        assert_eq!(r.highest(), 0);
        assert_eq!(r.on_data(0, b"abc", false, 3).unwrap().credit, 3);
        // Duplicates use no connection credit.
        assert_eq!(r.on_data(0, b"abc", false, 0).unwrap().credit, 0);
        assert_eq!(r.on_reset(0, 11, BIG), Err(StreamError::FlowControl));
        assert_eq!(r.on_reset(0, 10, 6), Err(StreamError::FlowControl));
        assert_eq!(
            r.on_data(u64::MAX - 1, b"ab", false, BIG),
            Err(StreamError::FlowControl)
        );
        assert_eq!(
            r.on_data(varint::MAX, b"a", false, BIG),
            Err(StreamError::FlowControl)
        );
    }

    #[test]
    fn reset_from_recv_and_size_known() {
        let mut r = stream(100);
        r.on_data(0, b"abcdef", false, BIG).unwrap();
        let mut buf = [0u8; 2];
        r.read(&mut buf).unwrap();
        let o = r.on_reset(42, 20, BIG).unwrap();
        assert_eq!(o.credit, 14);
        assert_eq!(o.released, 18, "unread bytes and the tail are released");
        assert_eq!(o.event, Some(RecvState::ResetRecvd));
        assert!(o.readable);
        assert_eq!(r.state(), RecvState::ResetRecvd);
        assert_eq!(r.read(&mut buf), Err(ApiError::Reset(42)));
        assert_eq!(r.state(), RecvState::ResetRead);
        assert_eq!(r.read(&mut buf), Err(ApiError::Reset(42)));
        // A duplicate reset changes nothing.
        assert_eq!(r.on_reset(42, 20, BIG), Ok(RecvOutcome::default()));

        let mut r = stream(100);
        r.on_data(3, b"de", true, BIG).unwrap();
        assert_eq!(r.state(), RecvState::SizeKnown);
        let o = r.on_reset(1, 5, BIG).unwrap();
        assert_eq!((o.credit, o.released), (0, 5));
        assert_eq!(r.state(), RecvState::ResetRecvd);
    }

    #[test]
    fn reset_after_all_data_is_ignored() {
        let mut r = stream(100);
        r.on_data(0, b"abc", true, BIG).unwrap();
        assert_eq!(r.state(), RecvState::Recvd);
        assert_eq!(r.on_reset(5, 3, BIG), Ok(RecvOutcome::default()));
        assert_eq!(r.state(), RecvState::Recvd);
        let (data, fin) = read_all(&mut r);
        assert_eq!((data.as_slice(), fin), (&b"abc"[..], true));
    }

    #[test]
    fn stop_sending_discards() {
        let mut r = stream(100);
        r.on_data(0, b"abcdef", false, BIG).unwrap();
        assert_eq!(r.stop_sending(9), 6);
        assert_eq!(r.stop_sending(9), 0);
        assert!(r.has_control());
        assert_eq!(r.poll_stop_sending(), Some(9));
        assert_eq!(r.poll_stop_sending(), None);
        r.on_stop_sending_lost();
        assert_eq!(r.poll_stop_sending(), Some(9));
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf), Err(ApiError::Closed));
        // More data is counted and released at once.
        let o = r.on_data(6, b"gh", false, BIG).unwrap();
        assert_eq!((o.credit, o.released, o.readable), (2, 2, false));
        // The reset completes the stream without the application reading it.
        let o = r.on_reset(3, 10, BIG).unwrap();
        assert_eq!((o.credit, o.released, o.readable), (2, 2, false));
        assert_eq!(r.state(), RecvState::ResetRead);
        assert_eq!(r.poll_stop_sending(), None);

        // Stop after FIN arrived out of order: done at once.
        let mut r = stream(100);
        r.on_data(2, b"c", true, BIG).unwrap();
        assert_eq!(
            r.stop_sending(1),
            3,
            "the gap counts: it will never be read"
        );
        assert_eq!(r.state(), RecvState::Read);
        // Stop when all data arrived: done at once, no frame needed.
        let mut r = stream(100);
        r.on_data(0, b"abc", true, BIG).unwrap();
        assert_eq!(r.stop_sending(1), 3);
        assert_eq!(r.state(), RecvState::Read);
        assert_eq!(r.poll_stop_sending(), None);
        // Stop in Recv, then FIN: done.
        let mut r = stream(100);
        r.stop_sending(4);
        r.on_data(0, b"abc", true, BIG).unwrap();
        assert_eq!(r.state(), RecvState::Read);
        r.on_stop_sending_lost();
        assert_eq!(
            r.poll_stop_sending(),
            Some(4),
            "the first copy was not sent yet"
        );
        // Stop after a reset: the application saw enough.
        let mut r = stream(100);
        r.on_reset(1, 0, BIG).unwrap();
        r.stop_sending(2);
        assert_eq!(r.state(), RecvState::ResetRead);
    }

    #[test]
    fn max_stream_data_decisions() {
        let mut r = stream(100);
        r.on_data(0, &[1u8; 60], false, BIG).unwrap();
        assert!(!r.wants_max_stream_data());
        let mut buf = [0u8; 60];
        r.read(&mut buf[..40]).unwrap();
        assert!(!r.wants_max_stream_data());
        r.read(&mut buf[..10]).unwrap();
        assert!(r.wants_max_stream_data());
        assert_eq!(r.poll_max_stream_data(0, 0), Some(150));
        assert_eq!(r.poll_max_stream_data(0, 0), None);
        r.on_max_stream_data_lost(140);
        assert_eq!(r.poll_max_stream_data(0, 0), None, "not the latest value");
        r.on_max_stream_data_lost(150);
        assert_eq!(r.poll_max_stream_data(0, 0), Some(150));
        assert!(!r.on_data_blocked(150));
        assert!(r.on_data_blocked(100));
        assert_eq!(r.poll_max_stream_data(0, 0), Some(150));
        // No updates once the final size is known.
        r.on_data(60, b"x", true, BIG).unwrap();
        r.read(&mut buf).unwrap();
        assert!(!r.wants_max_stream_data());
        assert!(!r.on_data_blocked(100));
    }

    #[test]
    fn fragment_cap_drops_without_change() {
        let mut r = RecvStream::new(1000, 1000, 3);
        for i in 0..3u64 {
            assert!(!r.on_data(i * 10 + 5, b"x", false, BIG).unwrap().dropped);
        }
        let o = r.on_data(100, b"y", false, BIG).unwrap();
        assert!(o.dropped);
        assert_eq!(o.credit, 0);
        assert_eq!(r.highest(), 26);
        // Data that merges with existing ranges is still accepted.
        assert!(!r.on_data(6, b"abcd", false, BIG).unwrap().dropped);
        assert_eq!(r.range_count(), 3);
        assert!(!r.on_data(0, &[0u8; 40], false, BIG).unwrap().dropped);
        assert_eq!(r.range_count(), 1);
    }

    #[test]
    fn connection_range_budget_and_read_trims() {
        let mut r = stream(1000);
        assert!(!r.on_data_within(10, b"x", false, BIG, 1).unwrap().dropped);
        assert!(r.on_data_within(20, b"x", false, BIG, 0).unwrap().dropped);
        // Merging needs no new range.
        assert!(!r.on_data_within(11, b"y", false, BIG, 0).unwrap().dropped);
        assert!(
            !r.on_data_within(0, &[0u8; 10], false, BIG, 0)
                .unwrap()
                .dropped
        );
        assert_eq!(r.range_count(), 1);
        let mut buf = [0u8; 12];
        assert_eq!(r.read(&mut buf).unwrap().len, 12);
        assert_eq!(r.range_count(), 0, "read data holds no range");
        r.on_data(12, b"z", false, BIG).unwrap();
        r.read(&mut buf[..0]).unwrap();
        assert_eq!(r.range_count(), 1);
    }

    /// A random byte string, cut into fragments, duplicated, overlapped and shuffled.
    fn fragments() -> impl Strategy<Value = (StdVec<u8>, StdVec<(usize, usize)>)> {
        (0usize..1500).prop_flat_map(|len| {
            let data = proptest::collection::vec(any::<u8>(), len);
            let cuts = proptest::collection::vec(0..=len, 0..40);
            let extra = proptest::collection::vec((0..=len, 0..=len), 0..20);
            (data, cuts, extra).prop_flat_map(move |(data, mut cuts, extra)| {
                cuts.push(0);
                cuts.push(len);
                cuts.sort_unstable();
                cuts.dedup();
                let mut frags: StdVec<(usize, usize)> =
                    cuts.windows(2).map(|w| (w[0], w[1])).collect();
                if frags.is_empty() {
                    frags.push((0, 0));
                }
                for (a, b) in extra {
                    frags.push((a.min(b), a.max(b)));
                }
                let n = frags.len();
                (
                    Just(data),
                    Just(frags).prop_shuffle(),
                    proptest::collection::vec(0..n, 0..10),
                )
                    .prop_map(|(data, mut frags, dups)| {
                        for d in dups {
                            let f = frags[d % frags.len()];
                            frags.push(f);
                        }
                        (data, frags)
                    })
            })
        })
    }

    proptest! {
        /// Reassembly reconstructs the byte string exactly, reports FIN once, and never holds
        /// more memory than the window allows.
        #[test]
        fn reassembly((data, frags) in fragments(), read_every in 1usize..5, read_size in 1usize..64) {
            let len = data.len() as u64;
            let window = len.max(1);
            let mut r = RecvStream::new(window, window, DEFAULT_MAX_RANGES);
            let mut out = StdVec::new();
            let mut fins = 0;
            let mut buf = std::vec![0u8; read_size];
            let mut credit = 0;
            let mut reads = |r: &mut RecvStream, out: &mut StdVec<u8>, fins: &mut i32| loop {
                match r.read(&mut buf) {
                    Ok(o) => {
                        out.extend_from_slice(&buf[..o.len]);
                        if o.fin { *fins += 1; }
                        if o.len == 0 { break; }
                    }
                    Err(ApiError::Closed) => break,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            };
            for (k, (a, b)) in frags.iter().enumerate() {
                let fin = *b as u64 == len;
                let o = r.on_data(*a as u64, &data[*a..*b], fin, u64::MAX).unwrap();
                prop_assert!(!o.dropped);
                credit += o.credit;
                prop_assert!(r.highest() <= window);
                prop_assert!(r.footprint() as u64 <= 2 * window + 64, "buffer {} > window {}", r.footprint(), window);
                if k % read_every == 0 {
                    reads(&mut r, &mut out, &mut fins);
                }
            }
            reads(&mut r, &mut out, &mut fins);
            prop_assert_eq!(&out, &data);
            prop_assert_eq!(fins, 1);
            prop_assert_eq!(credit, len);
            prop_assert_eq!(r.state(), RecvState::Read);
        }

        /// With a small window, data is accepted exactly up to the limit, and the buffer
        /// stays within it, whatever the offsets.
        #[test]
        fn window_bounds_memory(frames in proptest::collection::vec((0u64..5000, 0usize..300), 1..60)) {
            let window = 1000;
            let mut r = RecvStream::new(window, window, 16);
            let payload = [0xabu8; 300];
            for (off, len) in frames {
                let end = off + len as u64;
                match r.on_data(off, &payload[..len], false, u64::MAX) {
                    Ok(o) => {
                        prop_assert!(end <= window);
                        prop_assert!(r.range_count() <= 16);
                        if o.dropped { prop_assert_eq!(o.credit, 0); }
                    }
                    Err(e) => {
                        prop_assert_eq!(e, StreamError::FlowControl);
                        prop_assert!(end > window);
                    }
                }
                prop_assert!(r.footprint() as u64 <= 2 * window);
            }
        }
    }
}
