//! Bounds-checked byte cursors for decoding and encoding wire data.
//!
//! [`Reader`] walks a borrowed `&[u8]`; every read returns `Result` and hands out sub-slices
//! that borrow from the input (zero copy). [`Writer`] fills a caller-provided `&mut [u8]` and
//! fails, without writing partially, when the value does not fit. Neither allocates or panics.

use crate::varint;

/// Why a read or a write on a cursor failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    /// The input ended before the value did.
    UnexpectedEnd,
    /// The output buffer has no room for the value.
    BufferFull,
    /// The value cannot be encoded (a varint above [`varint::MAX`], a length that does not fit
    /// its field, ...).
    ValueTooLarge,
    /// The value breaks a protocol rule that the decoder would reject (an empty NEW_TOKEN,
    /// unordered ACK ranges, ...).
    InvalidValue,
}

/// A read cursor over a borrowed byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far (the offset of the next read in the original slice).
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Consumes and returns all unread bytes.
    pub fn rest(&mut self) -> &'a [u8] {
        let r = self.peek_rest();
        self.pos = self.buf.len();
        r
    }

    /// The next byte, without consuming it.
    pub fn peek_u8(&self) -> Result<u8, CodecError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(CodecError::UnexpectedEnd)
    }

    /// Consumes `n` bytes and returns them as a borrowed slice.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::UnexpectedEnd)?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(CodecError::UnexpectedEnd)?;
        self.pos = end;
        Ok(s)
    }

    /// Consumes `n` bytes where `n` comes off the wire as a `u64`.
    pub fn bytes_u64(&mut self, n: u64) -> Result<&'a [u8], CodecError> {
        let n = usize::try_from(n).map_err(|_| CodecError::UnexpectedEnd)?;
        self.bytes(n)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        self.bytes(n).map(|_| ())
    }

    /// Consumes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let s = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Consumes one byte.
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        let b = self.peek_u8()?;
        self.pos = self.pos.saturating_add(1);
        Ok(b)
    }

    /// Consumes a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        self.array::<2>().map(u16::from_be_bytes)
    }

    /// Consumes a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        self.array::<4>().map(u32::from_be_bytes)
    }

    /// Consumes a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        self.array::<8>().map(u64::from_be_bytes)
    }

    /// Consumes a QUIC variable-length integer (RFC 9000 §16).
    pub fn varint(&mut self) -> Result<u64, CodecError> {
        let (v, n) = varint::decode(self.peek_rest())?;
        self.pos = self.pos.saturating_add(n);
        Ok(v)
    }

    /// Consumes a varint and reports how many bytes its encoding took (to detect non-minimal
    /// encodings).
    pub fn varint_with_len(&mut self) -> Result<(u64, usize), CodecError> {
        let (v, n) = varint::decode(self.peek_rest())?;
        self.pos = self.pos.saturating_add(n);
        Ok((v, n))
    }
}

/// A write cursor over a caller-provided buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Free space left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }

    /// Ends the cursor, returning the written prefix of the buffer.
    pub fn into_written(self) -> &'a mut [u8] {
        let pos = self.pos;
        let buf = self.buf;
        let len = buf.len();
        buf.split_at_mut(pos.min(len)).0
    }

    /// Moves the cursor back to `pos` (no-op when `pos` is ahead), dropping what was written
    /// after it; used to undo a partially written item.
    pub fn rewind(&mut self, pos: usize) {
        self.pos = self.pos.min(pos);
    }

    /// The whole underlying buffer, for patching fields that were reserved earlier.
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        self.buf
    }

    /// Reserves `n` bytes (zero-filled) and returns them for the caller to fill in.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::BufferFull)?;
        let s = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(CodecError::BufferFull)?;
        s.fill(0);
        self.pos = end;
        Ok(s)
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), CodecError> {
        self.reserve(b.len())?.copy_from_slice(b);
        Ok(())
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) -> Result<(), CodecError> {
        self.reserve(n).map(|_| ())
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> Result<(), CodecError> {
        self.bytes(&[v])
    }

    /// Appends a big-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian `u64`.
    pub fn u64(&mut self, v: u64) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a varint in its minimal encoding.
    pub fn varint(&mut self, v: u64) -> Result<(), CodecError> {
        let len = varint::encoded_len(v).ok_or(CodecError::ValueTooLarge)?;
        self.varint_with_len(v, len)
    }

    /// Appends a varint using exactly `len` bytes (1, 2, 4 or 8).
    pub fn varint_with_len(&mut self, v: u64, len: usize) -> Result<(), CodecError> {
        // Check the value before touching the buffer so a failure writes nothing.
        varint::check_fits(v, len)?;
        let dst = self.reserve(len)?;
        varint::encode_with_len(v, len, dst).map(|_| ())
    }
}

/// `<[u8]>::split_at_mut_checked` (stable only since Rust 1.80; the kernel's minimum is 1.78):
/// `None` instead of a panic when `mid > buf.len()`.
pub(crate) fn split_mut(buf: &mut [u8], mid: usize) -> Option<(&mut [u8], &mut [u8])> {
    if mid <= buf.len() {
        Some(buf.split_at_mut(mid))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_and_stops_at_end() {
        let data = [1u8, 0, 2, 0, 0, 0, 3, 0x40, 0x25, 9];
        let mut r = Reader::new(&data);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.varint_with_len(), Ok((37, 2)));
        assert_eq!(r.position(), 9);
        assert_eq!(r.peek_rest(), &[9]);
        assert_eq!(r.u16(), Err(CodecError::UnexpectedEnd));
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.bytes(usize::MAX), Err(CodecError::UnexpectedEnd));
        assert_eq!(r.bytes_u64(u64::MAX), Err(CodecError::UnexpectedEnd));
        assert_eq!(r.rest(), &[9]);
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(CodecError::UnexpectedEnd));
        assert_eq!(r.varint(), Err(CodecError::UnexpectedEnd));
    }

    #[test]
    fn writer_fails_when_full_without_partial_write() {
        let mut buf = [0xffu8; 5];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.u16(0x0102), Ok(()));
        assert_eq!(w.u32(7), Err(CodecError::BufferFull));
        assert_eq!(w.position(), 2);
        assert_eq!(w.varint(16383), Ok(()));
        assert_eq!(w.varint(1 << 62), Err(CodecError::ValueTooLarge));
        assert_eq!(w.varint_with_len(300, 1), Err(CodecError::ValueTooLarge));
        assert_eq!(w.u8(5), Ok(()));
        assert_eq!(w.u8(6), Err(CodecError::BufferFull));
        assert_eq!(w.written(), &[1, 2, 0x7f, 0xff, 5]);
        assert_eq!(w.into_written().len(), 5);
    }
}
