//! Data-carrying frames: STREAM (RFC 9000 §19.8), CRYPTO (§19.6) and DATAGRAM (RFC 9221 §4).
//! The data borrows from the packet.

use super::types::FrameType;
use crate::codec::{CodecError, Reader, Writer};
use crate::error::Error;
use crate::varint;

/// A STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream<'a> {
    /// Stream ID.
    pub id: u64,
    /// Offset of `data` in the stream.
    pub offset: u64,
    /// Stream data.
    pub data: &'a [u8],
    /// The stream ends after `data`.
    pub fin: bool,
}

impl<'a> Stream<'a> {
    /// Parses the body of a STREAM frame of type `ty` (0x08..=0x0f).
    pub(crate) fn parse(r: &mut Reader<'a>, ty: u64) -> Result<Self, Error> {
        let trunc = |_| Error::frame_encoding(ty, "truncated STREAM");
        let id = r.varint().map_err(trunc)?;
        let offset = if ty & FrameType::STREAM_OFF_BIT != 0 {
            r.varint().map_err(trunc)?
        } else {
            0
        };
        let data = if ty & FrameType::STREAM_LEN_BIT != 0 {
            let n = r.varint().map_err(trunc)?;
            r.bytes_u64(n).map_err(trunc)?
        } else {
            r.rest()
        };
        if !end_ok(offset, data.len()) {
            return Err(Error::frame_encoding(ty, "STREAM data beyond 2^62-1"));
        }
        Ok(Self {
            id,
            offset,
            data,
            fin: ty & FrameType::STREAM_FIN_BIT != 0,
        })
    }

    /// The frame type this frame encodes to (OFF set for a non-zero offset).
    pub fn frame_type(&self, with_len: bool) -> FrameType {
        let mut ty = FrameType::STREAM.0;
        if self.offset != 0 {
            ty |= FrameType::STREAM_OFF_BIT;
        }
        if with_len {
            ty |= FrameType::STREAM_LEN_BIT;
        }
        if self.fin {
            ty |= FrameType::STREAM_FIN_BIT;
        }
        FrameType(ty)
    }

    /// Size of the frame header (everything but the data) for these field values; with
    /// `with_len` false the frame must be the last one in its packet.
    pub fn header_len(id: u64, offset: u64, data_len: usize, with_len: bool) -> usize {
        let mut n = 1 + varint::size(id);
        if offset != 0 {
            n += varint::size(offset);
        }
        if with_len {
            n += varint::size(data_len as u64);
        }
        n
    }

    /// Encoded size of this frame.
    pub fn encoded_len(&self, with_len: bool) -> usize {
        Self::header_len(self.id, self.offset, self.data.len(), with_len) + self.data.len()
    }

    /// Writes this frame; without a Length field (`with_len` false) it must end the packet.
    pub fn encode(&self, w: &mut Writer<'_>, with_len: bool) -> Result<(), CodecError> {
        if !end_ok(self.offset, self.data.len()) || self.id > varint::MAX {
            return Err(CodecError::ValueTooLarge);
        }
        w.varint(self.frame_type(with_len).0)?;
        w.varint(self.id)?;
        if self.offset != 0 {
            w.varint(self.offset)?;
        }
        if with_len {
            w.varint(self.data.len() as u64)?;
        }
        w.bytes(self.data)
    }
}

/// A CRYPTO frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crypto<'a> {
    /// Offset of `data` in the crypto stream of this encryption level.
    pub offset: u64,
    /// Handshake data.
    pub data: &'a [u8],
}

impl<'a> Crypto<'a> {
    /// Parses the body of a CRYPTO frame.
    pub(crate) fn parse(r: &mut Reader<'a>) -> Result<Self, Error> {
        let ty = FrameType::CRYPTO.0;
        let trunc = |_| Error::frame_encoding(ty, "truncated CRYPTO");
        let offset = r.varint().map_err(trunc)?;
        let n = r.varint().map_err(trunc)?;
        let data = r.bytes_u64(n).map_err(trunc)?;
        if !end_ok(offset, data.len()) {
            return Err(Error::frame_encoding(ty, "CRYPTO data beyond 2^62-1"));
        }
        Ok(Self { offset, data })
    }

    /// Size of the frame header for these field values.
    pub fn header_len(offset: u64, data_len: usize) -> usize {
        1 + varint::size(offset) + varint::size(data_len as u64)
    }

    /// Encoded size of this frame.
    pub fn encoded_len(&self) -> usize {
        Self::header_len(self.offset, self.data.len()) + self.data.len()
    }

    /// Writes this frame.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        if !end_ok(self.offset, self.data.len()) {
            return Err(CodecError::ValueTooLarge);
        }
        w.varint(FrameType::CRYPTO.0)?;
        w.varint(self.offset)?;
        w.varint(self.data.len() as u64)?;
        w.bytes(self.data)
    }
}

/// A DATAGRAM frame (RFC 9221).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The application datagram.
    pub data: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// Parses the body of a DATAGRAM frame of type `ty` (0x30 or 0x31).
    pub(crate) fn parse(r: &mut Reader<'a>, ty: u64) -> Result<Self, Error> {
        let data = if ty == FrameType::DATAGRAM_LEN.0 {
            let trunc = |_| Error::frame_encoding(ty, "truncated DATAGRAM");
            let n = r.varint().map_err(trunc)?;
            r.bytes_u64(n).map_err(trunc)?
        } else {
            r.rest()
        };
        Ok(Self { data })
    }

    /// Size of the frame header for a datagram of `data_len` bytes.
    pub fn header_len(data_len: usize, with_len: bool) -> usize {
        if with_len {
            1 + varint::size(data_len as u64)
        } else {
            1
        }
    }

    /// Encoded size of this frame.
    pub fn encoded_len(&self, with_len: bool) -> usize {
        Self::header_len(self.data.len(), with_len) + self.data.len()
    }

    /// Writes this frame; without a Length field (`with_len` false) it must end the packet.
    pub fn encode(&self, w: &mut Writer<'_>, with_len: bool) -> Result<(), CodecError> {
        if with_len {
            w.varint(FrameType::DATAGRAM_LEN.0)?;
            w.varint(self.data.len() as u64)?;
        } else {
            w.varint(FrameType::DATAGRAM.0)?;
        }
        w.bytes(self.data)
    }
}

/// True when `offset + len` stays within 2^62-1 (RFC 9000 §19.6, §19.8).
fn end_ok(offset: u64, len: usize) -> bool {
    offset
        .checked_add(len as u64)
        .is_some_and(|end| end <= varint::MAX)
}
