//! Unreliable datagrams (RFC 9221): DATAGRAM frames within the peer's
//! max_datagram_frame_size, queued for sending and for the application.

use quic_mem::Vec;

use crate::crypto::{Crypto, TAG_LEN};
use crate::error::{Error, TransportError};
use crate::frame::{Datagram, FrameType};

use super::events::Event;
use super::queue::Queue;
use super::Connection;

/// Why a datagram could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramError {
    /// The peer does not accept DATAGRAM frames (max_datagram_frame_size absent or 0), or
    /// its transport parameters are not known yet.
    Unsupported,
    /// Larger than the peer's max_datagram_frame_size or than what fits in a packet.
    TooLarge,
    /// The send queue is full; try again after sending.
    Blocked,
    /// The connection is closed.
    Closed,
    /// Out of memory.
    OutOfMemory,
}

/// Datagram queues.
#[derive(Debug)]
pub(crate) struct Datagrams {
    /// The peer's max_datagram_frame_size.
    pub(crate) peer_max_frame_size: u64,
    pub(crate) send: Queue<Vec<u8>>,
    recv: Queue<Vec<u8>>,
}

impl Datagrams {
    pub(crate) fn new() -> Self {
        Self {
            peer_max_frame_size: 0,
            send: Queue::new(),
            recv: Queue::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.send.clear();
        self.recv.clear();
    }
}

/// Bytes of a 1-RTT packet that are not frames: short header with the longest connection ID
/// and packet number, and the AEAD tag.
const SHORT_OVERHEAD: usize = 1 + crate::cid::MAX_CID_LEN + 4 + TAG_LEN;

impl<C: Crypto> Connection<C> {
    /// The largest datagram payload [`Connection::datagram_send`] accepts now (0 when the
    /// peer does not accept datagrams).
    pub fn datagram_max_size(&self) -> usize {
        let peer = usize::try_from(self.dgram.peer_max_frame_size).unwrap_or(usize::MAX);
        let mtu = usize::try_from(self.paths.active.mtu).unwrap_or(1200);
        let room = mtu.saturating_sub(SHORT_OVERHEAD);
        let limit = peer.min(room);
        limit.saturating_sub(Datagram::header_len(limit, true))
    }

    /// Queues `data` to be sent in a DATAGRAM frame (`MSG_DATAGRAM`).
    pub fn datagram_send(&mut self, data: &[u8]) -> Result<(), DatagramError> {
        if !self.close.is_open() {
            return Err(DatagramError::Closed);
        }
        if self.dgram.peer_max_frame_size == 0 {
            return Err(DatagramError::Unsupported);
        }
        if data.len() > self.datagram_max_size() {
            return Err(DatagramError::TooLarge);
        }
        if self.dgram.send.len() >= self.cfg.datagram_send_queue {
            return Err(DatagramError::Blocked);
        }
        let mut v = Vec::new();
        v.extend_from_slice(data)
            .map_err(|_| DatagramError::OutOfMemory)?;
        self.dgram
            .send
            .push(v)
            .map_err(|_| DatagramError::OutOfMemory)
    }

    /// Length of the next received datagram, if any.
    pub fn datagram_peek_len(&self) -> Option<usize> {
        self.dgram.recv.peek().map(|d| d.len())
    }

    /// Copies the next received datagram into `buf` (what fits) without taking it; returns its
    /// full length.
    pub fn datagram_peek(&self, buf: &mut [u8]) -> Option<usize> {
        let d = self.dgram.recv.peek()?;
        let n = d.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), d.get(..n)) {
            dst.copy_from_slice(src);
        }
        Some(d.len())
    }

    /// Copies bytes `offset..` of the next received datagram into `buf` without taking it
    /// (a reader that takes a datagram in several parts); returns its full length.
    pub fn datagram_peek_from(&self, offset: usize, buf: &mut [u8]) -> Option<usize> {
        let d = self.dgram.recv.peek()?;
        let src = d.get(offset.min(d.len())..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), src.get(..n)) {
            dst.copy_from_slice(src);
        }
        Some(d.len())
    }

    /// Takes the next received datagram, copying what fits into `buf`; returns its full
    /// length (bytes beyond `buf` are dropped).
    pub fn datagram_recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        let d = self.dgram.recv.pop()?;
        let n = d.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), d.get(..n)) {
            dst.copy_from_slice(src);
        }
        Some(d.len())
    }

    /// A DATAGRAM frame arrived.
    pub(crate) fn on_datagram_frame(&mut self, data: &[u8], frame_len: usize) -> Result<(), Error> {
        let local_max = self.hs.local_tp.max_datagram_frame_size;
        if local_max == 0 || frame_len as u64 > local_max {
            return Err(Error::frame(
                TransportError::ProtocolViolation,
                FrameType::DATAGRAM.0,
                "DATAGRAM frame not allowed or too large",
            ));
        }
        if self.dgram.recv.len() >= self.cfg.datagram_recv_queue.max(1) {
            // The application is not keeping up: drop the oldest (datagrams are unreliable).
            self.dgram.recv.pop();
        }
        let mut v = Vec::new();
        if v.extend_from_slice(data).is_err() || self.dgram.recv.push(v).is_err() {
            return Ok(());
        }
        self.emit(Event::DatagramReceived);
        Ok(())
    }
}
