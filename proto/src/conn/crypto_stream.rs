//! The CRYPTO stream of one encryption level (RFC 9000 §19.6, RFC 9001 §4): TLS bytes we send,
//! kept until acknowledged, and TLS bytes received, reassembled in order for the TLS stack.
//!
//! Built on the stream layer's send and receive parts: a CRYPTO stream is a stream without
//! flow control, FIN or reset. Its receive buffer is bounded: data more than
//! [`CRYPTO_WINDOW`] bytes beyond what TLS has read is CRYPTO_BUFFER_EXCEEDED.

use crate::error::{Error, TransportError};
use crate::frame::Crypto as CryptoFrame;
use crate::stream::recv::RecvStream;
use crate::stream::send::{Chunk, SendStream};
use crate::stream::{ApiError, StreamError};
use crate::varint;

/// Bytes of CRYPTO data buffered beyond what TLS has read.
pub(crate) const CRYPTO_WINDOW: u64 = 128 * 1024;

/// Separate out-of-order ranges kept per level.
const CRYPTO_MAX_RANGES: usize = 64;

/// One level's CRYPTO stream.
#[derive(Debug)]
pub(crate) struct CryptoStream {
    send: SendStream,
    recv: RecvStream,
}

impl CryptoStream {
    pub(crate) fn new() -> Self {
        Self {
            send: SendStream::new(varint::MAX),
            recv: RecvStream::new(CRYPTO_WINDOW, CRYPTO_WINDOW, CRYPTO_MAX_RANGES),
        }
    }

    /// Queues TLS bytes for sending.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        match self.send.write(data, false, u64::MAX) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(_) => Err(Error::new(
                TransportError::CryptoBufferExceeded,
                "CRYPTO stream too long",
            )),
            Err(ApiError::OutOfMemory) => Err(oom()),
            Err(_) => Err(Error::new(
                TransportError::InternalError,
                "CRYPTO stream closed",
            )),
        }
    }

    /// A received CRYPTO frame. Returns true when bytes are now readable.
    pub(crate) fn on_frame(&mut self, offset: u64, data: &[u8]) -> Result<bool, Error> {
        let ty = crate::frame::FrameType::CRYPTO.0;
        match self.recv.on_data(offset, data, false, u64::MAX) {
            Ok(out) if out.dropped => Err(Error::frame(
                TransportError::CryptoBufferExceeded,
                ty,
                "CRYPTO data too fragmented",
            )),
            Ok(_) => Ok(self.recv.is_readable()),
            Err(StreamError::OutOfMemory) => Err(oom()),
            Err(_) => Err(Error::frame(
                TransportError::CryptoBufferExceeded,
                ty,
                "CRYPTO data beyond the buffer",
            )),
        }
    }

    /// Copies in-order received bytes into `out`.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.recv.read(out).map_or(0, |o| o.len);
        // Slide the buffer window forward (no MAX_STREAM_DATA is ever sent for CRYPTO).
        let _ = self.recv.poll_max_stream_data(0, 0);
        n
    }

    /// Copies readable bytes into `out` without consuming them (`MSG_PEEK`).
    pub(crate) fn peek(&self, out: &mut [u8]) -> usize {
        self.recv.peek(out).map_or(0, |o| o.len)
    }

    /// True when there are bytes to send (new or lost).
    pub(crate) fn has_data(&self) -> bool {
        self.send.has_sendable(u64::MAX)
    }

    /// The next CRYPTO frame that fits in `max_frame_len` bytes.
    pub(crate) fn next_frame(&mut self, max_frame_len: usize) -> Option<Chunk> {
        let offset = self.send.next_offset();
        let header = CryptoFrame::header_len(offset, max_frame_len);
        let room = max_frame_len.checked_sub(header).filter(|r| *r > 0)?;
        self.send.next_chunk(room, u64::MAX).filter(|c| c.len > 0)
    }

    /// The bytes of a chunk from [`Self::next_frame`].
    pub(crate) fn chunk_data(&self, chunk: &Chunk) -> &[u8] {
        self.send.chunk_data(chunk)
    }

    /// The peer acknowledged a CRYPTO frame.
    pub(crate) fn on_acked(&mut self, offset: u64, len: usize) -> Result<(), Error> {
        self.send.on_ack(offset, len, false).map_err(|_| oom())?;
        Ok(())
    }

    /// A CRYPTO frame was lost: send its bytes again.
    pub(crate) fn on_lost(&mut self, offset: u64, len: usize) -> Result<(), Error> {
        self.send.on_lost(offset, len, false).map_err(|_| oom())
    }

    /// Queues every byte sent and not acknowledged for sending again (PTO, Retry).
    pub(crate) fn requeue_unacked(&mut self) -> Result<(), Error> {
        let sent = usize::try_from(self.send.sent()).unwrap_or(usize::MAX);
        self.on_lost(0, sent)
    }
}

fn oom() -> Error {
    Error::new(TransportError::InternalError, "out of memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_ack_lose_and_read() {
        let mut c = CryptoStream::new();
        c.write(&[7u8; 3000]).unwrap();
        let a = c.next_frame(1000).unwrap();
        assert_eq!(a.offset, 0);
        assert!(a.len > 900 && a.len < 1000);
        let b = c.next_frame(5000).unwrap();
        assert_eq!(b.offset, a.end());
        assert_eq!(b.end(), 3000);
        assert!(c.next_frame(5000).is_none());
        c.on_lost(a.offset, a.len).unwrap();
        let a2 = c.next_frame(5000).unwrap();
        assert_eq!((a2.offset, a2.len), (a.offset, a.len));
        c.on_acked(b.offset, b.len).unwrap();
        c.on_acked(a.offset, a.len).unwrap();
        c.requeue_unacked().unwrap();
        assert!(!c.has_data());

        let mut r = CryptoStream::new();
        assert!(!r.on_frame(5, b"world").unwrap());
        assert!(r.on_frame(0, b"hello").unwrap());
        let mut out = [0u8; 20];
        assert_eq!(r.read(&mut out), 10);
        assert_eq!(&out[..10], b"helloworld");
        let e = r.on_frame(CRYPTO_WINDOW + 100, b"x").unwrap_err();
        assert_eq!(e.code, TransportError::CryptoBufferExceeded);
    }
}
