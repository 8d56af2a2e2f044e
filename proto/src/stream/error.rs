//! Errors of the stream layer.
//!
//! [`StreamError`] is what the peer's frames can cause: a connection error with an RFC 9000
//! transport error code (or a local allocation failure). [`ApiError`] is what the application's
//! calls can get back; the kernel glue maps it to an errno.

use core::fmt;

use quic_mem::AllocError;

use crate::error::{Error, TransportError};

/// A connection error found while processing the peer's stream frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// FLOW_CONTROL_ERROR (0x03): data beyond the advertised MAX_DATA or MAX_STREAM_DATA.
    FlowControl,
    /// STREAM_LIMIT_ERROR (0x04): a stream beyond the advertised MAX_STREAMS.
    StreamLimit,
    /// STREAM_STATE_ERROR (0x05): a frame that the stream's type or state does not allow.
    StreamState,
    /// FINAL_SIZE_ERROR (0x06): data beyond, or a change of, a stream's final size.
    FinalSize,
    /// FRAME_ENCODING_ERROR (0x07): a stream count above 2^60 (RFC 9000 §19.11, §19.14).
    FrameEncoding,
    /// An allocation failed; the connection is closed with INTERNAL_ERROR (0x01).
    OutOfMemory,
}

impl StreamError {
    /// The transport error to close the connection with.
    pub const fn transport_error(self) -> TransportError {
        match self {
            Self::FlowControl => TransportError::FlowControlError,
            Self::StreamLimit => TransportError::StreamLimitError,
            Self::StreamState => TransportError::StreamStateError,
            Self::FinalSize => TransportError::FinalSizeError,
            Self::FrameEncoding => TransportError::FrameEncodingError,
            Self::OutOfMemory => TransportError::InternalError,
        }
    }

    /// The wire code of [`transport_error`](Self::transport_error).
    pub const fn code(self) -> u64 {
        self.transport_error().code()
    }

    /// A short explanation for logs and the CONNECTION_CLOSE reason phrase.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::FlowControl => "stream data beyond flow control limit",
            Self::StreamLimit => "stream beyond stream limit",
            Self::StreamState => "frame not allowed in stream state",
            Self::FinalSize => "stream final size violated",
            Self::FrameEncoding => "stream count above 2^60",
            Self::OutOfMemory => "out of memory",
        }
    }

    /// The connection error for a frame of type `frame_type` that caused this error.
    pub const fn into_error(self, frame_type: u64) -> Error {
        Error::frame(self.transport_error(), frame_type, self.reason())
    }
}

impl From<AllocError> for StreamError {
    fn from(_: AllocError) -> Self {
        Self::OutOfMemory
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.transport_error(), self.reason())
    }
}

/// Why an application call on a stream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiError {
    /// No such stream: never opened, or already closed and forgotten, or opened by the peer
    /// when only a local stream makes sense.
    UnknownStream,
    /// The stream does not go that way: writing to a receive-only stream or reading from a
    /// send-only one.
    WrongDirection,
    /// The peer's MAX_STREAMS does not allow opening the stream yet.
    StreamLimit,
    /// Nothing more can be done in this direction: writing after FIN, or reading after the end
    /// of the stream was already reported (or after asking the peer to stop sending).
    Closed,
    /// The sending part was reset (by the application, or because the peer sent
    /// STOP_SENDING): carries the application error code.
    Stopped(u64),
    /// The peer reset the stream (RESET_STREAM): carries its application error code.
    Reset(u64),
    /// An allocation failed.
    OutOfMemory,
}

impl From<AllocError> for ApiError {
    fn from(_: AllocError) -> Self {
        Self::OutOfMemory
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownStream => f.write_str("unknown stream"),
            Self::WrongDirection => f.write_str("wrong stream direction"),
            Self::StreamLimit => f.write_str("stream limit reached"),
            Self::Closed => f.write_str("stream closed"),
            Self::Stopped(code) => write!(f, "stream stopped (code {code})"),
            Self::Reset(code) => write!(f, "stream reset by peer (code {code})"),
            Self::OutOfMemory => f.write_str("out of memory"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(StreamError::FlowControl.code(), 0x03);
        assert_eq!(StreamError::StreamLimit.code(), 0x04);
        assert_eq!(StreamError::StreamState.code(), 0x05);
        assert_eq!(StreamError::FinalSize.code(), 0x06);
        assert_eq!(StreamError::FrameEncoding.code(), 0x07);
        assert_eq!(StreamError::OutOfMemory.code(), 0x01);
        assert_eq!(StreamError::from(AllocError), StreamError::OutOfMemory);
        assert_eq!(ApiError::from(AllocError), ApiError::OutOfMemory);
        let e = StreamError::FinalSize.into_error(0x0a);
        assert_eq!(e.code, TransportError::FinalSizeError);
        assert_eq!(e.frame_type, 0x0a);
    }
}
