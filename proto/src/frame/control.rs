//! Frames with several fields that manage streams and connections: RESET_STREAM (§19.4),
//! STOP_SENDING (§19.5), NEW_CONNECTION_ID (§19.15) and CONNECTION_CLOSE (§19.19).

use super::types::FrameType;
use crate::cid::{ConnectionId, ResetToken, MAX_CID_LEN};
use crate::codec::{CodecError, Reader, Writer};
use crate::error::Error;
use crate::varint;

/// Stream direction, for MAX_STREAMS and STREAMS_BLOCKED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Bidirectional streams.
    Bidi,
    /// Unidirectional streams.
    Uni,
}

/// The most streams of one direction a peer may allow: 2^60 (RFC 9000 §4.6, §19.11).
pub const MAX_STREAMS: u64 = 1 << 60;

/// A RESET_STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetStream {
    /// Stream ID.
    pub stream_id: u64,
    /// Application protocol error code.
    pub error_code: u64,
    /// Final size of the stream.
    pub final_size: u64,
}

impl ResetStream {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let trunc = |_| Error::frame_encoding(FrameType::RESET_STREAM.0, "truncated RESET_STREAM");
        Ok(Self {
            stream_id: r.varint().map_err(trunc)?,
            error_code: r.varint().map_err(trunc)?,
            final_size: r.varint().map_err(trunc)?,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + varint::size(self.stream_id)
            + varint::size(self.error_code)
            + varint::size(self.final_size)
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.varint(FrameType::RESET_STREAM.0)?;
        w.varint(self.stream_id)?;
        w.varint(self.error_code)?;
        w.varint(self.final_size)
    }
}

/// A STOP_SENDING frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSending {
    /// Stream ID.
    pub stream_id: u64,
    /// Application protocol error code.
    pub error_code: u64,
}

impl StopSending {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let trunc = |_| Error::frame_encoding(FrameType::STOP_SENDING.0, "truncated STOP_SENDING");
        Ok(Self {
            stream_id: r.varint().map_err(trunc)?,
            error_code: r.varint().map_err(trunc)?,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + varint::size(self.stream_id) + varint::size(self.error_code)
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.varint(FrameType::STOP_SENDING.0)?;
        w.varint(self.stream_id)?;
        w.varint(self.error_code)
    }
}

/// A NEW_CONNECTION_ID frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConnectionId {
    /// Sequence number of the connection ID.
    pub seq: u64,
    /// Connection IDs with lower sequence numbers must be retired.
    pub retire_prior_to: u64,
    /// The connection ID (1 to 20 bytes).
    pub cid: ConnectionId,
    /// The stateless reset token for this connection ID.
    pub reset_token: ResetToken,
}

impl NewConnectionId {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let ty = FrameType::NEW_CONNECTION_ID.0;
        let trunc = |_| Error::frame_encoding(ty, "truncated NEW_CONNECTION_ID");
        let seq = r.varint().map_err(trunc)?;
        let retire_prior_to = r.varint().map_err(trunc)?;
        let len = usize::from(r.u8().map_err(trunc)?);
        if len == 0 || len > MAX_CID_LEN {
            return Err(Error::frame_encoding(
                ty,
                "NEW_CONNECTION_ID length not in 1..=20",
            ));
        }
        let cid = r
            .bytes(len)
            .ok()
            .and_then(ConnectionId::new)
            .ok_or(Error::frame_encoding(ty, "truncated NEW_CONNECTION_ID"))?;
        let reset_token = r.array().map_err(trunc)?;
        if retire_prior_to > seq {
            return Err(Error::frame_encoding(
                ty,
                "Retire Prior To above Sequence Number",
            ));
        }
        Ok(Self {
            seq,
            retire_prior_to,
            cid,
            reset_token,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + varint::size(self.seq)
            + varint::size(self.retire_prior_to)
            + 1
            + self.cid.len()
            + self.reset_token.len()
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        if self.cid.is_empty() || self.retire_prior_to > self.seq {
            return Err(CodecError::InvalidValue);
        }
        w.varint(FrameType::NEW_CONNECTION_ID.0)?;
        w.varint(self.seq)?;
        w.varint(self.retire_prior_to)?;
        w.u8(self.cid.len() as u8)?;
        w.bytes(&self.cid)?;
        w.bytes(&self.reset_token)
    }
}

/// A CONNECTION_CLOSE frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionClose<'a> {
    /// The error code: a transport error code when `frame_type` is `Some`, an application
    /// error code otherwise.
    pub error_code: u64,
    /// For a transport close (type 0x1c), the type of the frame that caused the error (0 if
    /// unknown); `None` for an application close (type 0x1d).
    pub frame_type: Option<u64>,
    /// Reason phrase (meant to be UTF-8, not checked).
    pub reason: &'a [u8],
}

impl<'a> ConnectionClose<'a> {
    pub(crate) fn parse(r: &mut Reader<'a>, app: bool) -> Result<Self, Error> {
        let ty = if app {
            FrameType::CONNECTION_CLOSE_APP.0
        } else {
            FrameType::CONNECTION_CLOSE.0
        };
        let trunc = |_| Error::frame_encoding(ty, "truncated CONNECTION_CLOSE");
        let error_code = r.varint().map_err(trunc)?;
        let frame_type = if app {
            None
        } else {
            Some(r.varint().map_err(trunc)?)
        };
        let n = r.varint().map_err(trunc)?;
        let reason = r.bytes_u64(n).map_err(trunc)?;
        Ok(Self {
            error_code,
            frame_type,
            reason,
        })
    }

    /// The frame type this frame encodes to.
    pub fn ty(&self) -> FrameType {
        if self.frame_type.is_some() {
            FrameType::CONNECTION_CLOSE
        } else {
            FrameType::CONNECTION_CLOSE_APP
        }
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + varint::size(self.error_code)
            + self.frame_type.map_or(0, varint::size)
            + varint::size(self.reason.len() as u64)
            + self.reason.len()
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.varint(self.ty().0)?;
        w.varint(self.error_code)?;
        if let Some(ft) = self.frame_type {
            w.varint(ft)?;
        }
        w.varint(self.reason.len() as u64)?;
        w.bytes(self.reason)
    }
}
