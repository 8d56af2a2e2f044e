//! QUIC frames (RFC 9000 §19, RFC 9221): zero-copy parsing into typed values, encoding, and
//! the per-packet-type rules of RFC 9000 §12.4.
//!
//! Decoding errors carry the RFC error code to close the connection with:
//! FRAME_ENCODING_ERROR for malformed or unknown frames and out-of-range values,
//! PROTOCOL_VIOLATION for a frame type that is not allowed in its packet type, a frame type
//! encoded with more bytes than needed, or a packet without frames.

pub mod ack;
pub mod control;
pub mod stream;
pub mod types;

pub use ack::{ack_encoded_len, write_ack, Ack, AckRanges, EcnCounts};
pub use control::{ConnectionClose, Dir, NewConnectionId, ResetStream, StopSending, MAX_STREAMS};
pub use stream::{Crypto, Datagram, Stream};
pub use types::{FrameType, PacketSummary};

use crate::codec::{CodecError, Reader, Writer};
use crate::error::Error;
use crate::packet::PacketType;
use crate::varint;

/// Length of PATH_CHALLENGE / PATH_RESPONSE data.
pub const PATH_DATA_LEN: usize = 8;

/// A decoded frame, borrowing its data from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of consecutive PADDING frames, counted in bytes (at least 1).
    Padding(usize),
    /// PING.
    Ping,
    /// ACK or ACK_ECN.
    Ack(Ack<'a>),
    /// RESET_STREAM.
    ResetStream(ResetStream),
    /// STOP_SENDING.
    StopSending(StopSending),
    /// CRYPTO.
    Crypto(Crypto<'a>),
    /// NEW_TOKEN with its (non-empty) token.
    NewToken(&'a [u8]),
    /// STREAM.
    Stream(Stream<'a>),
    /// MAX_DATA.
    MaxData(u64),
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// Stream ID.
        stream_id: u64,
        /// Maximum amount of data that can be sent on the stream.
        max: u64,
    },
    /// MAX_STREAMS.
    MaxStreams {
        /// Which streams.
        dir: Dir,
        /// Cumulative count of streams that may be opened (at most 2^60).
        max: u64,
    },
    /// DATA_BLOCKED.
    DataBlocked(u64),
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// Stream ID.
        stream_id: u64,
        /// The offset at which the sender is blocked.
        limit: u64,
    },
    /// STREAMS_BLOCKED.
    StreamsBlocked {
        /// Which streams.
        dir: Dir,
        /// The stream limit at which the sender is blocked (at most 2^60).
        limit: u64,
    },
    /// NEW_CONNECTION_ID.
    NewConnectionId(NewConnectionId),
    /// RETIRE_CONNECTION_ID with the sequence number to retire.
    RetireConnectionId(u64),
    /// PATH_CHALLENGE.
    PathChallenge([u8; PATH_DATA_LEN]),
    /// PATH_RESPONSE.
    PathResponse([u8; PATH_DATA_LEN]),
    /// CONNECTION_CLOSE (transport 0x1c or application 0x1d).
    ConnectionClose(ConnectionClose<'a>),
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// DATAGRAM (RFC 9221).
    Datagram(Datagram<'a>),
}

/// Reads a frame type, rejecting non-minimal encodings (PROTOCOL_VIOLATION, RFC 9000 §12.4)
/// and unknown types (FRAME_ENCODING_ERROR).
pub fn read_type(r: &mut Reader<'_>) -> Result<FrameType, Error> {
    let (ty, len) = r
        .varint_with_len()
        .map_err(|_| Error::frame_encoding(0, "truncated frame type"))?;
    if len != varint::size(ty) {
        return Err(Error::protocol_violation(
            ty,
            "frame type not minimally encoded",
        ));
    }
    let ty = FrameType(ty);
    if !ty.is_known() {
        return Err(Error::frame_encoding(ty.0, "unknown frame type"));
    }
    Ok(ty)
}

impl<'a> Frame<'a> {
    /// Parses one frame (type and body) at the reader's position, without checking whether
    /// it is allowed in its packet type (see [`Frames`] for that).
    pub fn parse(r: &mut Reader<'a>) -> Result<Self, Error> {
        let ty = read_type(r)?;
        Self::parse_body(r, ty)
    }

    /// Parses the body of a frame whose type was already read with [`read_type`].
    pub fn parse_body(r: &mut Reader<'a>, ty: FrameType) -> Result<Self, Error> {
        let t = ty.0;
        let trunc = |_| Error::frame_encoding(t, "truncated frame");
        Ok(match t {
            0x00 => {
                // Fold the run of PADDING bytes that follows into one value.
                let zeros = r.peek_rest().iter().take_while(|b| **b == 0).count();
                r.skip(zeros).map_err(trunc)?;
                Self::Padding(zeros.saturating_add(1))
            }
            0x01 => Self::Ping,
            0x02 | 0x03 => Self::Ack(Ack::parse(r, t == 0x03)?),
            0x04 => Self::ResetStream(ResetStream::parse(r)?),
            0x05 => Self::StopSending(StopSending::parse(r)?),
            0x06 => Self::Crypto(Crypto::parse(r)?),
            0x07 => {
                let n = r.varint().map_err(trunc)?;
                let token = r.bytes_u64(n).map_err(trunc)?;
                if token.is_empty() {
                    return Err(Error::frame_encoding(t, "empty NEW_TOKEN"));
                }
                Self::NewToken(token)
            }
            0x08..=0x0f => Self::Stream(Stream::parse(r, t)?),
            0x10 => Self::MaxData(r.varint().map_err(trunc)?),
            0x11 => Self::MaxStreamData {
                stream_id: r.varint().map_err(trunc)?,
                max: r.varint().map_err(trunc)?,
            },
            0x12 | 0x13 => {
                let max = r.varint().map_err(trunc)?;
                if max > MAX_STREAMS {
                    return Err(Error::frame_encoding(t, "MAX_STREAMS above 2^60"));
                }
                Self::MaxStreams { dir: dir(t), max }
            }
            0x14 => Self::DataBlocked(r.varint().map_err(trunc)?),
            0x15 => Self::StreamDataBlocked {
                stream_id: r.varint().map_err(trunc)?,
                limit: r.varint().map_err(trunc)?,
            },
            0x16 | 0x17 => {
                let limit = r.varint().map_err(trunc)?;
                if limit > MAX_STREAMS {
                    return Err(Error::frame_encoding(t, "STREAMS_BLOCKED above 2^60"));
                }
                Self::StreamsBlocked { dir: dir(t), limit }
            }
            0x18 => Self::NewConnectionId(NewConnectionId::parse(r)?),
            0x19 => Self::RetireConnectionId(r.varint().map_err(trunc)?),
            0x1a => Self::PathChallenge(r.array().map_err(trunc)?),
            0x1b => Self::PathResponse(r.array().map_err(trunc)?),
            0x1c | 0x1d => Self::ConnectionClose(ConnectionClose::parse(r, t == 0x1d)?),
            0x1e => Self::HandshakeDone,
            0x30 | 0x31 => Self::Datagram(Datagram::parse(r, t)?),
            _ => return Err(Error::frame_encoding(t, "unknown frame type")),
        })
    }

    /// The type this frame encodes to with [`Frame::encode`] (STREAM and DATAGRAM with a
    /// Length field).
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Padding(_) => FrameType::PADDING,
            Self::Ping => FrameType::PING,
            Self::Ack(a) => a.frame_type(),
            Self::ResetStream(_) => FrameType::RESET_STREAM,
            Self::StopSending(_) => FrameType::STOP_SENDING,
            Self::Crypto(_) => FrameType::CRYPTO,
            Self::NewToken(_) => FrameType::NEW_TOKEN,
            Self::Stream(s) => s.frame_type(true),
            Self::MaxData(_) => FrameType::MAX_DATA,
            Self::MaxStreamData { .. } => FrameType::MAX_STREAM_DATA,
            Self::MaxStreams { dir: Dir::Bidi, .. } => FrameType::MAX_STREAMS_BIDI,
            Self::MaxStreams { dir: Dir::Uni, .. } => FrameType::MAX_STREAMS_UNI,
            Self::DataBlocked(_) => FrameType::DATA_BLOCKED,
            Self::StreamDataBlocked { .. } => FrameType::STREAM_DATA_BLOCKED,
            Self::StreamsBlocked { dir: Dir::Bidi, .. } => FrameType::STREAMS_BLOCKED_BIDI,
            Self::StreamsBlocked { dir: Dir::Uni, .. } => FrameType::STREAMS_BLOCKED_UNI,
            Self::NewConnectionId(_) => FrameType::NEW_CONNECTION_ID,
            Self::RetireConnectionId(_) => FrameType::RETIRE_CONNECTION_ID,
            Self::PathChallenge(_) => FrameType::PATH_CHALLENGE,
            Self::PathResponse(_) => FrameType::PATH_RESPONSE,
            Self::ConnectionClose(c) => c.ty(),
            Self::HandshakeDone => FrameType::HANDSHAKE_DONE,
            Self::Datagram(_) => FrameType::DATAGRAM_LEN,
        }
    }

    /// Encoded size of this frame with [`Frame::encode`].
    pub fn encoded_len(&self) -> usize {
        let v = varint::size;
        match self {
            Self::Padding(n) => *n,
            Self::Ping | Self::HandshakeDone => 1,
            Self::Ack(a) => a.encoded_len(),
            Self::ResetStream(f) => f.encoded_len(),
            Self::StopSending(f) => f.encoded_len(),
            Self::Crypto(c) => c.encoded_len(),
            Self::NewToken(t) => 1 + v(t.len() as u64) + t.len(),
            Self::Stream(s) => s.encoded_len(true),
            Self::MaxData(x) | Self::DataBlocked(x) | Self::RetireConnectionId(x) => 1 + v(*x),
            Self::MaxStreams { max: x, .. } | Self::StreamsBlocked { limit: x, .. } => 1 + v(*x),
            Self::MaxStreamData { stream_id, max: x }
            | Self::StreamDataBlocked {
                stream_id,
                limit: x,
            } => 1 + v(*stream_id) + v(*x),
            Self::NewConnectionId(f) => f.encoded_len(),
            Self::PathChallenge(_) | Self::PathResponse(_) => 1 + PATH_DATA_LEN,
            Self::ConnectionClose(c) => c.encoded_len(),
            Self::Datagram(d) => d.encoded_len(true),
        }
    }

    /// Writes this frame. STREAM and DATAGRAM frames get a Length field (use
    /// [`Stream::encode`] / [`Datagram::encode`] to omit it in the last frame of a packet).
    /// Frames that the parser would reject are refused. On error nothing is written.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let start = w.position();
        let res = self.encode_unchecked(w);
        if res.is_err() {
            w.rewind(start);
        }
        res
    }

    fn encode_unchecked(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let ty = self.frame_type().0;
        match self {
            Self::Padding(n) => {
                if *n == 0 {
                    return Err(CodecError::InvalidValue);
                }
                w.zeros(*n)
            }
            Self::Ping | Self::HandshakeDone => w.varint(ty),
            Self::Ack(a) => a.encode(w),
            Self::ResetStream(f) => f.encode(w),
            Self::StopSending(f) => f.encode(w),
            Self::Crypto(c) => c.encode(w),
            Self::NewToken(t) => {
                if t.is_empty() {
                    return Err(CodecError::InvalidValue);
                }
                w.varint(ty)?;
                w.varint(t.len() as u64)?;
                w.bytes(t)
            }
            Self::Stream(s) => s.encode(w, true),
            Self::MaxData(x) | Self::DataBlocked(x) | Self::RetireConnectionId(x) => {
                w.varint(ty)?;
                w.varint(*x)
            }
            Self::MaxStreams { max: x, .. } | Self::StreamsBlocked { limit: x, .. } => {
                if *x > MAX_STREAMS {
                    return Err(CodecError::ValueTooLarge);
                }
                w.varint(ty)?;
                w.varint(*x)
            }
            Self::MaxStreamData { stream_id, max: x }
            | Self::StreamDataBlocked {
                stream_id,
                limit: x,
            } => {
                w.varint(ty)?;
                w.varint(*stream_id)?;
                w.varint(*x)
            }
            Self::NewConnectionId(f) => f.encode(w),
            Self::PathChallenge(d) | Self::PathResponse(d) => {
                w.varint(ty)?;
                w.bytes(d)
            }
            Self::ConnectionClose(c) => c.encode(w),
            Self::Datagram(d) => d.encode(w, true),
        }
    }
}

fn dir(ty: u64) -> Dir {
    if ty & 1 == 0 {
        Dir::Bidi
    } else {
        Dir::Uni
    }
}

/// Iterator over the frames of a decrypted packet payload, enforcing RFC 9000 §12.4: a
/// payload without frames and frames not allowed in `pkt` are PROTOCOL_VIOLATION. After the
/// first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    r: Reader<'a>,
    pkt: PacketType,
    started: bool,
    done: bool,
}

impl<'a> Frames<'a> {
    /// Iterates over the frames in `payload`, the plaintext of a packet of type `pkt`.
    pub fn new(payload: &'a [u8], pkt: PacketType) -> Self {
        Self {
            r: Reader::new(payload),
            pkt,
            started: false,
            done: false,
        }
    }

    /// Offset in the payload of the next frame.
    pub fn offset(&self) -> usize {
        self.r.position()
    }

    fn next_frame(&mut self) -> Result<Frame<'a>, Error> {
        let ty = read_type(&mut self.r)?;
        if !ty.allowed_in(self.pkt) {
            return Err(Error::protocol_violation(
                ty.0,
                "frame type not allowed in this packet type",
            ));
        }
        Frame::parse_body(&mut self.r, ty)
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.r.is_empty() {
            self.done = true;
            if !self.started {
                return Some(Err(Error::protocol_violation(0, "packet without frames")));
            }
            return None;
        }
        self.started = true;
        let res = self.next_frame();
        if res.is_err() {
            self.done = true;
        }
        Some(res)
    }
}

#[cfg(test)]
mod tests;
