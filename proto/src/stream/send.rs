//! The sending part of a stream (RFC 9000 §2.2, §3.1, §4.1, §13.3).
//!
//! Bytes the application writes are kept, by stream offset, until the peer acknowledges them.
//! Offsets fall into four groups:
//! - acknowledged: in the `acked` set; the contiguous run from 0 is freed from the buffer;
//! - lost: in the `lost` set, to be sent again before any new data;
//! - in flight: sent (below `sent`), neither acknowledged nor lost;
//! - unsent: from `sent` up to `written`, sent when stream and connection credit allow.
//!
//! FIN is tracked beside the data, as its own unit that is sent, lost and acknowledged.

use core::cmp::min;

use quic_mem::AllocError;

use crate::varint;

use super::buf::ByteBuf;
use super::error::ApiError;
use super::flow::SendCredit;
use super::ranges::RangeSet;
use super::state::SendState;

/// A piece of stream data to put in a STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Stream offset of the first byte.
    pub offset: u64,
    /// Number of bytes (0 for a FIN-only frame).
    pub len: usize,
    /// Whether the frame carries FIN.
    pub fin: bool,
}

impl Chunk {
    /// The offset just after the chunk.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len as u64)
    }
}

/// Where FIN is, once the application has finished the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fin {
    /// The application may still write.
    Open,
    /// FIN written, not sent yet.
    Unsent,
    /// FIN sent, outcome unknown.
    InFlight,
    /// The packet carrying FIN was lost: send it again.
    Lost,
    /// FIN acknowledged.
    Acked,
}

/// A RESET_STREAM to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetInfo {
    /// The application error code.
    pub code: u64,
    /// The final size: the bytes of credit the stream used (everything sent before the reset).
    pub final_size: u64,
}

/// The sending part of a stream.
#[derive(Debug)]
pub struct SendStream {
    state: SendState,
    buf: ByteBuf,
    /// Bytes the application wrote: the end of the stream so far.
    written: u64,
    /// Offsets below this were sent at least once; the credit used.
    sent: u64,
    acked: RangeSet,
    lost: RangeSet,
    fin: Fin,
    credit: SendCredit,
    reset: Option<ResetInfo>,
    reset_pending: bool,
    blocked_pending: Option<u64>,
}

impl SendStream {
    /// A stream in state Ready that the peer lets us send `max_stream_data` bytes on.
    pub fn new(max_stream_data: u64) -> Self {
        Self {
            state: SendState::Ready,
            buf: ByteBuf::new(),
            written: 0,
            sent: 0,
            acked: RangeSet::new(),
            lost: RangeSet::new(),
            fin: Fin::Open,
            credit: SendCredit::new(max_stream_data),
            reset: None,
            reset_pending: false,
            blocked_pending: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> SendState {
        self.state
    }

    /// Bytes the application wrote so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The end of the highest data sent: the stream credit used.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The offset below which every byte is acknowledged.
    pub fn acked(&self) -> u64 {
        if self.state == SendState::Recvd {
            return self.written;
        }
        self.acked.contiguous_end(0)
    }

    /// Bytes held for (re)transmission: written but not yet acknowledged.
    pub fn buffered(&self) -> u64 {
        if self.reset.is_some() || self.state == SendState::Recvd {
            return 0;
        }
        self.written.saturating_sub(self.acked())
    }

    /// The peer's MAX_STREAM_DATA credit.
    pub fn credit(&self) -> &SendCredit {
        &self.credit
    }

    /// The reset, once the stream was reset.
    pub fn reset_info(&self) -> Option<ResetInfo> {
        self.reset
    }

    /// True once the application wrote FIN (or reset the stream).
    pub fn is_finished(&self) -> bool {
        self.fin != Fin::Open || self.reset.is_some()
    }

    fn is_sending(&self) -> bool {
        matches!(
            self.state,
            SendState::Ready | SendState::Send | SendState::Sent
        )
    }

    /// Queues `data` for sending, and FIN after it when `fin`. At most `max` bytes are taken
    /// (the room left in the send buffer); FIN is taken only with the last byte of `data`, so
    /// it was taken exactly when the returned count equals `data.len()`.
    pub fn write(&mut self, data: &[u8], fin: bool, max: u64) -> Result<usize, ApiError> {
        if let Some(r) = self.reset {
            return Err(ApiError::Stopped(r.code));
        }
        if self.fin != Fin::Open || !self.is_sending() {
            return Err(ApiError::Closed);
        }
        // The final size must stay a varint.
        let room = min(max, varint::MAX.saturating_sub(self.written));
        let n = min(data.len(), usize::try_from(room).unwrap_or(usize::MAX));
        let take = data.get(..n).unwrap_or(&[]);
        self.buf.write_at(self.written, take)?;
        self.written += n as u64;
        if fin && n == data.len() {
            self.fin = Fin::Unsent;
        }
        Ok(n)
    }

    /// True when [`next_chunk`](Self::next_chunk) would return something, given
    /// `conn_available` bytes of connection credit.
    pub fn has_sendable(&self, conn_available: u64) -> bool {
        self.is_sending()
            && (!self.lost.is_empty()
                || self.fin == Fin::Lost && self.sent == self.written
                || self.fin == Fin::Unsent && self.sent == self.written
                || self.written > self.sent && self.credit.available() > 0 && conn_available > 0)
    }

    /// For Nagle's rule: `(urgent, new)` where `urgent` means lost data, a lost FIN or a
    /// written FIN waits (sent at once), and `new` counts the new bytes the stream credit lets
    /// go now.
    pub fn pending(&self) -> (bool, u64) {
        if !self.is_sending() {
            return (false, 0);
        }
        let urgent = !self.lost.is_empty() || matches!(self.fin, Fin::Lost | Fin::Unsent);
        let new = (self.written - self.sent).min(self.credit.available());
        (urgent, new)
    }

    /// True when unsent data waits only for connection credit.
    pub fn is_conn_blocked(&self, conn_available: u64) -> bool {
        self.is_sending()
            && conn_available == 0
            && self.written > self.sent
            && self.credit.available() > 0
    }

    /// The offset the next chunk would start at, for sizing the frame header.
    pub fn next_offset(&self) -> u64 {
        match self.lost.first() {
            Some(r) => r.start,
            None if self.fin == Fin::Lost && self.sent == self.written => self.written,
            None => self.sent,
        }
    }

    fn mark_fin_sent(&mut self) {
        self.fin = Fin::InFlight;
        if matches!(self.state, SendState::Ready | SendState::Send) {
            self.state = SendState::Sent;
        }
    }

    /// The next chunk to send: lost data first, then lost FIN, then new data within the stream
    /// credit and `conn_available` bytes of connection credit, then a lone FIN. At most
    /// `max_len` bytes. New bytes use stream credit here; the caller charges the connection
    /// credit with the growth of [`sent`](Self::sent).
    pub fn next_chunk(&mut self, max_len: usize, conn_available: u64) -> Option<Chunk> {
        if !self.is_sending() {
            return None;
        }
        if let Some(r) = self.lost.take_front(max_len as u64) {
            let len = usize::try_from(r.len()).unwrap_or(0);
            let fin = self.fin != Fin::Open && self.fin != Fin::Acked && r.end == self.written;
            if fin {
                self.mark_fin_sent();
            }
            return Some(Chunk {
                offset: r.start,
                len,
                fin,
            });
        }
        if self.fin == Fin::Lost && self.sent == self.written {
            self.mark_fin_sent();
            return Some(Chunk {
                offset: self.written,
                len: 0,
                fin: true,
            });
        }
        let unsent = self.written - self.sent;
        let n = min(
            min(unsent, self.credit.available()),
            min(conn_available, max_len as u64),
        );
        if n > 0 {
            let offset = self.sent;
            self.sent += n;
            self.credit.consume(n);
            if self.state == SendState::Ready {
                self.state = SendState::Send;
            }
            let fin = self.fin == Fin::Unsent && self.sent == self.written;
            if fin {
                self.mark_fin_sent();
            }
            return Some(Chunk {
                offset,
                len: usize::try_from(n).unwrap_or(0),
                fin,
            });
        }
        if self.fin == Fin::Unsent && self.sent == self.written {
            self.mark_fin_sent();
            return Some(Chunk {
                offset: self.written,
                len: 0,
                fin: true,
            });
        }
        self.check_blocked();
        None
    }

    /// When unsent data waits for stream credit, queues STREAM_DATA_BLOCKED (once per limit).
    /// Returns true when a frame is now pending.
    pub fn check_blocked(&mut self) -> bool {
        if self.is_sending() && self.written > self.sent {
            if let Some(limit) = self.credit.note_blocked() {
                self.blocked_pending = Some(limit);
            }
        }
        self.blocked_pending.is_some()
    }

    /// The bytes of a chunk returned by [`next_chunk`](Self::next_chunk).
    pub fn chunk_data(&self, chunk: &Chunk) -> &[u8] {
        self.buf.get(chunk.offset, chunk.len).unwrap_or(&[])
    }

    /// The peer acknowledged a STREAM frame. Returns true when this made every byte and FIN
    /// acknowledged (state Recvd).
    pub fn on_ack(&mut self, offset: u64, len: usize, fin: bool) -> Result<bool, AllocError> {
        if !matches!(self.state, SendState::Send | SendState::Sent) {
            return Ok(false);
        }
        let end = min(offset.saturating_add(len as u64), self.sent);
        if offset < end {
            self.lost.remove(offset, end)?;
            self.acked.insert(offset, end)?;
        }
        if fin
            && offset.saturating_add(len as u64) == self.written
            && matches!(self.fin, Fin::InFlight | Fin::Lost)
        {
            self.fin = Fin::Acked;
        }
        let acked = self.acked();
        self.buf.release_to(acked);
        if self.fin == Fin::Acked && acked == self.written {
            self.state = SendState::Recvd;
            self.buf.clear_to(self.written);
            self.acked.clear();
            self.lost.clear();
            return Ok(true);
        }
        Ok(false)
    }

    /// A STREAM frame was declared lost: its bytes not acknowledged since are sent again.
    pub fn on_lost(&mut self, offset: u64, len: usize, fin: bool) -> Result<(), AllocError> {
        if !matches!(self.state, SendState::Send | SendState::Sent) {
            return Ok(());
        }
        let end = min(offset.saturating_add(len as u64), self.sent);
        let lost = &mut self.lost;
        self.acked
            .for_each_gap(offset, end, |a, b| lost.insert(a, b))?;
        if fin && offset.saturating_add(len as u64) == self.written && self.fin == Fin::InFlight {
            self.fin = Fin::Lost;
        }
        Ok(())
    }

    /// The application resets the stream (or the peer asked it to, with STOP_SENDING). From
    /// Ready, Send or Sent this moves to ResetSent, frees the buffer and queues RESET_STREAM;
    /// returns false, changing nothing, in any other state.
    pub fn reset(&mut self, code: u64) -> bool {
        if !self.is_sending() {
            return false;
        }
        self.state = SendState::ResetSent;
        self.reset = Some(ResetInfo {
            code,
            final_size: self.sent,
        });
        self.reset_pending = true;
        self.blocked_pending = None;
        self.buf.clear_to(self.sent);
        self.acked.clear();
        self.lost.clear();
        true
    }

    /// The peer sent STOP_SENDING: reset the stream with its error code. Returns true when a
    /// reset was started.
    pub fn on_stop_sending(&mut self, code: u64) -> bool {
        self.reset(code)
    }

    /// Takes the RESET_STREAM frame to send, if one is due.
    pub fn poll_reset(&mut self) -> Option<ResetInfo> {
        if !self.reset_pending || self.state != SendState::ResetSent {
            return None;
        }
        self.reset_pending = false;
        self.reset
    }

    /// The peer acknowledged RESET_STREAM. Returns true on the move to ResetRecvd.
    pub fn on_reset_acked(&mut self) -> bool {
        if self.state != SendState::ResetSent {
            return false;
        }
        self.state = SendState::ResetRecvd;
        self.reset_pending = false;
        true
    }

    /// RESET_STREAM was lost: send it again (unless already acknowledged).
    pub fn on_reset_lost(&mut self) {
        if self.state == SendState::ResetSent {
            self.reset_pending = true;
        }
    }

    /// The peer's MAX_STREAM_DATA. Returns true when it raised the limit.
    pub fn on_max_stream_data(&mut self, max: u64) -> bool {
        self.credit.raise(max)
    }

    /// Takes the STREAM_DATA_BLOCKED limit to send, if one is due and we are still blocked at it.
    pub fn poll_blocked(&mut self) -> Option<u64> {
        let limit = self.blocked_pending.take()?;
        if !self.is_sending() || !self.credit.is_blocked_at(limit) || self.written <= self.sent {
            return None;
        }
        if self.state == SendState::Ready {
            self.state = SendState::Send;
        }
        Some(limit)
    }

    /// A STREAM_DATA_BLOCKED frame for `limit` was lost: send it again if still blocked there.
    pub fn on_blocked_lost(&mut self, limit: u64) {
        if self.is_sending() && self.credit.is_blocked_at(limit) && self.written > self.sent {
            self.blocked_pending = Some(limit);
        }
    }

    /// True when a control frame (RESET_STREAM or STREAM_DATA_BLOCKED) waits to be sent.
    pub fn has_control(&self) -> bool {
        (self.reset_pending && self.state == SendState::ResetSent) || self.blocked_pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::vec::Vec as StdVec;

    fn drain(s: &mut SendStream, max_len: usize) -> StdVec<Chunk> {
        let mut out = StdVec::new();
        while let Some(c) = s.next_chunk(max_len, u64::MAX) {
            out.push(c);
        }
        out
    }

    #[test]
    fn ready_send_sent_recvd() {
        let mut s = SendStream::new(1000);
        assert_eq!(s.state(), SendState::Ready);
        assert_eq!(s.write(b"hello", false, 100), Ok(5));
        assert_eq!(s.state(), SendState::Ready);
        let c = s.next_chunk(3, 100).unwrap();
        assert_eq!((c.offset, c.len, c.fin), (0, 3, false));
        assert_eq!(s.chunk_data(&c), b"hel");
        assert_eq!(s.state(), SendState::Send);
        assert_eq!(s.write(b" world", true, 100), Ok(6));
        assert_eq!(s.write(b"x", false, 100), Err(ApiError::Closed));
        let c2 = s.next_chunk(100, 100).unwrap();
        assert_eq!((c2.offset, c2.len, c2.fin), (3, 8, true));
        assert_eq!(s.chunk_data(&c2), b"lo world");
        assert_eq!(s.state(), SendState::Sent);
        assert_eq!(s.next_chunk(100, 100), None);
        assert_eq!(s.buffered(), 11);
        assert_eq!(s.on_ack(3, 8, true), Ok(false));
        assert_eq!(s.state(), SendState::Sent);
        assert_eq!(s.on_ack(0, 3, false), Ok(true));
        assert_eq!(s.state(), SendState::Recvd);
        assert_eq!(s.buffered(), 0);
        assert_eq!(s.next_chunk(100, 100), None);
        assert_eq!(s.on_ack(0, 3, false), Ok(false));
        assert!(!s.reset(1), "no reset from Recvd");
    }

    #[test]
    fn fin_only_stream_and_lost_fin() {
        let mut s = SendStream::new(0);
        assert_eq!(s.write(&[], true, 0), Ok(0));
        // A lone FIN needs no credit.
        let c = s.next_chunk(0, 0).unwrap();
        assert_eq!((c.offset, c.len, c.fin), (0, 0, true));
        assert_eq!(s.state(), SendState::Sent);
        s.on_lost(0, 0, true).unwrap();
        assert!(s.has_sendable(0));
        let c = s.next_chunk(10, 0).unwrap();
        assert_eq!((c.offset, c.len, c.fin), (0, 0, true));
        assert_eq!(s.on_ack(0, 0, true), Ok(true));
    }

    #[test]
    fn fin_written_after_data_sent() {
        let mut s = SendStream::new(100);
        s.write(b"abc", false, 100).unwrap();
        let c = s.next_chunk(10, 100).unwrap();
        assert!(!c.fin);
        s.write(&[], true, 100).unwrap();
        // The data is lost before the FIN goes out: the retransmission carries FIN.
        s.on_lost(0, 3, false).unwrap();
        let c = s.next_chunk(10, 100).unwrap();
        assert_eq!((c.offset, c.len, c.fin), (0, 3, true));
        assert_eq!(s.state(), SendState::Sent);
        assert_eq!(s.next_chunk(10, 100), None);
        assert_eq!(s.on_ack(0, 3, true), Ok(true));
    }

    #[test]
    fn lost_ranges_resent_first_and_exactly() {
        let mut s = SendStream::new(1000);
        s.write(&[7u8; 100], false, 1000).unwrap();
        let chunks = drain(&mut s, 10);
        assert_eq!(chunks.len(), 10);
        s.write(&[8u8; 20], false, 1000).unwrap();
        s.on_ack(20, 10, false).unwrap();
        // Lose 10..40: 20..30 is already acknowledged, so only 10..20 and 30..40 come back.
        s.on_lost(10, 30, false).unwrap();
        let again = drain(&mut s, 100);
        let got: StdVec<_> = again.iter().map(|c| (c.offset, c.len)).collect();
        assert_eq!(got, [(10, 10), (30, 10), (100, 20)]);
        // A loss reported after the ack of the same bytes resends nothing.
        s.on_ack(10, 10, false).unwrap();
        s.on_lost(10, 10, false).unwrap();
        assert_eq!(s.next_chunk(100, 100), None);
    }

    #[test]
    fn flow_control_blocks_and_reports_once() {
        let mut s = SendStream::new(10);
        s.write(&[1u8; 25], false, 100).unwrap();
        let c = s.next_chunk(100, 100).unwrap();
        assert_eq!(c.len, 10);
        assert_eq!(s.next_chunk(100, 100), None);
        assert!(s.has_control());
        assert_eq!(s.poll_blocked(), Some(10));
        assert_eq!(s.next_chunk(100, 100), None);
        assert_eq!(s.poll_blocked(), None, "one STREAM_DATA_BLOCKED per limit");
        s.on_blocked_lost(10);
        assert_eq!(s.poll_blocked(), Some(10));
        assert!(s.on_max_stream_data(20));
        assert!(!s.on_max_stream_data(15));
        s.on_blocked_lost(10);
        assert_eq!(s.poll_blocked(), None, "no longer blocked at 10");
        // Connection credit limits too.
        let c = s.next_chunk(100, 4).unwrap();
        assert_eq!(c.len, 4);
        assert!(s.is_conn_blocked(0));
        assert_eq!(s.sent(), 14);
        assert_eq!(s.credit().used(), 14);
    }

    #[test]
    fn ready_to_send_by_stream_data_blocked() {
        let mut s = SendStream::new(0);
        s.write(b"abc", false, 100).unwrap();
        assert_eq!(s.next_chunk(100, 100), None);
        assert_eq!(s.state(), SendState::Ready);
        assert_eq!(s.poll_blocked(), Some(0));
        assert_eq!(s.state(), SendState::Send);
    }

    #[test]
    fn write_respects_buffer_room() {
        let mut s = SendStream::new(100);
        assert_eq!(s.write(b"abcdef", true, 4), Ok(4));
        // FIN was not taken with a partial write.
        assert!(!s.is_finished());
        assert_eq!(s.write(b"ef", true, 4), Ok(2));
        assert!(s.is_finished());
    }

    #[test]
    fn reset_paths() {
        // Reset from Ready.
        let mut s = SendStream::new(100);
        assert!(s.reset(7));
        assert_eq!(s.state(), SendState::ResetSent);
        assert_eq!(
            s.poll_reset(),
            Some(ResetInfo {
                code: 7,
                final_size: 0
            })
        );
        assert_eq!(s.poll_reset(), None);
        s.on_reset_lost();
        assert_eq!(
            s.poll_reset(),
            Some(ResetInfo {
                code: 7,
                final_size: 0
            })
        );
        assert!(s.on_reset_acked());
        assert_eq!(s.state(), SendState::ResetRecvd);
        assert!(!s.on_reset_acked());
        s.on_reset_lost();
        assert_eq!(s.poll_reset(), None);

        // Reset from Send: final size is what was sent, not what was written.
        let mut s = SendStream::new(100);
        s.write(&[0u8; 50], false, 100).unwrap();
        s.next_chunk(20, 100).unwrap();
        assert!(s.on_stop_sending(9));
        assert_eq!(
            s.reset_info(),
            Some(ResetInfo {
                code: 9,
                final_size: 20
            })
        );
        assert_eq!(s.buffered(), 0);
        assert_eq!(s.next_chunk(100, 100), None);
        assert_eq!(s.write(b"x", false, 100), Err(ApiError::Stopped(9)));
        assert!(!s.reset(1), "already reset");
        // Acks and losses of old data are ignored after a reset.
        assert_eq!(s.on_ack(0, 20, false), Ok(false));
        s.on_lost(0, 20, false).unwrap();
        assert!(!s.has_sendable(100));

        // Reset from Sent.
        let mut s = SendStream::new(100);
        s.write(b"ab", true, 100).unwrap();
        s.next_chunk(20, 100).unwrap();
        assert_eq!(s.state(), SendState::Sent);
        assert!(s.reset(3));
        assert_eq!(s.reset_info().unwrap().final_size, 2);
    }

    #[derive(Debug, Clone)]
    enum Fate {
        Ack,
        Lose,
        Later,
    }

    proptest! {
        /// Under random writes, credit, losses and acknowledgements, every byte and FIN is
        /// eventually acknowledged, sent data matches what was written, the credit is never
        /// exceeded, and retransmissions carry exactly bytes declared lost and not acknowledged.
        #[test]
        fn all_bytes_delivered(
            total in 0usize..3000,
            fates in proptest::collection::vec(prop_oneof![
                3 => Just(Fate::Ack), 2 => Just(Fate::Lose), 1 => Just(Fate::Later)], 1..64),
            max_lens in proptest::collection::vec(1usize..400, 1..16),
            credit_step in 1u64..800,
        ) {
            let data: StdVec<u8> = (0..total).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut s = SendStream::new(credit_step);
            let mut credit = credit_step;
            let mut written = 0usize;
            let mut in_flight: StdVec<Chunk> = StdVec::new();
            let mut lost_model: BTreeSet<u64> = BTreeSet::new();
            let mut acked_model: BTreeSet<u64> = BTreeSet::new();
            let mut step = 0usize;
            while s.state() != SendState::Recvd {
                step += 1;
                prop_assert!(step < 10_000, "no progress");
                // The application writes in pieces.
                if written < total {
                    let n = (total - written).min(max_lens[step % max_lens.len()]);
                    let fin = written + n == total;
                    prop_assert_eq!(s.write(&data[written..written + n], fin, u64::MAX), Ok(n));
                    written += n;
                } else if !s.is_finished() {
                    prop_assert_eq!(s.write(&[], true, 0), Ok(0));
                }
                // Send what we may.
                let max_len = max_lens[step % max_lens.len()];
                let highest = s.sent();
                while let Some(c) = s.next_chunk(max_len, u64::MAX) {
                    prop_assert!(c.len <= max_len);
                    prop_assert!(s.sent() <= s.credit().limit());
                    let start = usize::try_from(c.offset).unwrap();
                    prop_assert_eq!(s.chunk_data(&c), &data[start..start + c.len]);
                    if c.offset < highest {
                        // A retransmission: only bytes lost and not acknowledged.
                        for x in c.offset..c.end() {
                            prop_assert!(lost_model.remove(&x), "resent byte {} not lost", x);
                        }
                    }
                    in_flight.push(c);
                    if c.fin { prop_assert_eq!(c.end(), total as u64); }
                }
                if s.credit().available() == 0 && s.written() > s.sent() {
                    credit += credit_step;
                    s.on_max_stream_data(credit);
                }
                // Decide the fate of packets in flight.
                let mut keep = StdVec::new();
                for (k, c) in in_flight.drain(..).enumerate() {
                    // Every fifth step everything gets through, so that the transfer ends.
                    let fate = if step % 5 == 0 { &Fate::Ack } else { &fates[(step + k) % fates.len()] };
                    match fate {
                        Fate::Ack => {
                            s.on_ack(c.offset, c.len, c.fin).unwrap();
                            for x in c.offset..c.end() {
                                lost_model.remove(&x);
                                acked_model.insert(x);
                            }
                        }
                        Fate::Lose => {
                            s.on_lost(c.offset, c.len, c.fin).unwrap();
                            for x in c.offset..c.end() {
                                if !acked_model.contains(&x) {
                                    lost_model.insert(x);
                                }
                            }
                        }
                        Fate::Later => keep.push(c),
                    }
                }
                in_flight = keep;
                prop_assert!(s.buffered() <= total as u64);
            }
            prop_assert_eq!(acked_model.len(), total);
            prop_assert_eq!(s.acked(), total as u64);
            prop_assert_eq!(s.buffered(), 0);
        }
    }
}
