//! QUIC transport error codes (RFC 9000 §20.1, RFC 9368) and the error that decoders return.

use core::fmt;

/// A transport error code, as carried in a CONNECTION_CLOSE frame of type 0x1c.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportError {
    /// 0x00: the connection is being closed abruptly without an error.
    NoError,
    /// 0x01: an internal error in the endpoint.
    InternalError,
    /// 0x02: the server refused the connection.
    ConnectionRefused,
    /// 0x03: more data was received than advertised limits permit.
    FlowControlError,
    /// 0x04: a stream was opened beyond the advertised stream limit.
    StreamLimitError,
    /// 0x05: a frame arrived for a stream in a state that does not allow it.
    StreamStateError,
    /// 0x06: a final size was changed or exceeded.
    FinalSizeError,
    /// 0x07: a frame was badly formatted.
    FrameEncodingError,
    /// 0x08: transport parameters were malformed, invalid or missing.
    TransportParameterError,
    /// 0x09: more connection IDs were supplied than active_connection_id_limit allows.
    ConnectionIdLimitError,
    /// 0x0a: a protocol rule was broken that has no more specific code.
    ProtocolViolation,
    /// 0x0b: a Retry or NEW_TOKEN token was invalid.
    InvalidToken,
    /// 0x0c: the application or application protocol caused the close.
    ApplicationError,
    /// 0x0d: more CRYPTO data was received than can be buffered.
    CryptoBufferExceeded,
    /// 0x0e: an error in key update.
    KeyUpdateError,
    /// 0x0f: the AEAD confidentiality or integrity limit was reached.
    AeadLimitReached,
    /// 0x10: no viable network path exists.
    NoViablePath,
    /// 0x11: compatible version negotiation failed (RFC 9368).
    VersionNegotiationError,
    /// 0x0100 + alert: the TLS handshake failed with the given TLS alert.
    Crypto(u8),
}

impl TransportError {
    /// The code as it goes on the wire.
    pub const fn code(self) -> u64 {
        match self {
            Self::NoError => 0x00,
            Self::InternalError => 0x01,
            Self::ConnectionRefused => 0x02,
            Self::FlowControlError => 0x03,
            Self::StreamLimitError => 0x04,
            Self::StreamStateError => 0x05,
            Self::FinalSizeError => 0x06,
            Self::FrameEncodingError => 0x07,
            Self::TransportParameterError => 0x08,
            Self::ConnectionIdLimitError => 0x09,
            Self::ProtocolViolation => 0x0a,
            Self::InvalidToken => 0x0b,
            Self::ApplicationError => 0x0c,
            Self::CryptoBufferExceeded => 0x0d,
            Self::KeyUpdateError => 0x0e,
            Self::AeadLimitReached => 0x0f,
            Self::NoViablePath => 0x10,
            Self::VersionNegotiationError => 0x11,
            Self::Crypto(alert) => 0x100 | alert as u64,
        }
    }

    /// The error for a wire code, or `None` for codes this crate does not know.
    pub const fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0x00 => Self::NoError,
            0x01 => Self::InternalError,
            0x02 => Self::ConnectionRefused,
            0x03 => Self::FlowControlError,
            0x04 => Self::StreamLimitError,
            0x05 => Self::StreamStateError,
            0x06 => Self::FinalSizeError,
            0x07 => Self::FrameEncodingError,
            0x08 => Self::TransportParameterError,
            0x09 => Self::ConnectionIdLimitError,
            0x0a => Self::ProtocolViolation,
            0x0b => Self::InvalidToken,
            0x0c => Self::ApplicationError,
            0x0d => Self::CryptoBufferExceeded,
            0x0e => Self::KeyUpdateError,
            0x0f => Self::AeadLimitReached,
            0x10 => Self::NoViablePath,
            0x11 => Self::VersionNegotiationError,
            0x100..=0x1ff => Self::Crypto((code & 0xff) as u8),
            _ => return None,
        })
    }

    /// The RFC name of the code.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoError => "NO_ERROR",
            Self::InternalError => "INTERNAL_ERROR",
            Self::ConnectionRefused => "CONNECTION_REFUSED",
            Self::FlowControlError => "FLOW_CONTROL_ERROR",
            Self::StreamLimitError => "STREAM_LIMIT_ERROR",
            Self::StreamStateError => "STREAM_STATE_ERROR",
            Self::FinalSizeError => "FINAL_SIZE_ERROR",
            Self::FrameEncodingError => "FRAME_ENCODING_ERROR",
            Self::TransportParameterError => "TRANSPORT_PARAMETER_ERROR",
            Self::ConnectionIdLimitError => "CONNECTION_ID_LIMIT_ERROR",
            Self::ProtocolViolation => "PROTOCOL_VIOLATION",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::ApplicationError => "APPLICATION_ERROR",
            Self::CryptoBufferExceeded => "CRYPTO_BUFFER_EXCEEDED",
            Self::KeyUpdateError => "KEY_UPDATE_ERROR",
            Self::AeadLimitReached => "AEAD_LIMIT_REACHED",
            Self::NoViablePath => "NO_VIABLE_PATH",
            Self::VersionNegotiationError => "VERSION_NEGOTIATION_ERROR",
            Self::Crypto(_) => "CRYPTO_ERROR",
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crypto(alert) => write!(f, "CRYPTO_ERROR(alert {alert})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A connection error found while decoding peer data: the code to close the connection with,
/// the frame type to report in CONNECTION_CLOSE (0 when no frame is involved, as RFC 9000
/// §19.19 asks) and a static reason for logs and the reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// The transport error code.
    pub code: TransportError,
    /// The type of the frame that triggered the error, or 0.
    pub frame_type: u64,
    /// A short human-readable explanation.
    pub reason: &'static str,
}

impl Error {
    /// An error not tied to a frame.
    pub const fn new(code: TransportError, reason: &'static str) -> Self {
        Self {
            code,
            frame_type: 0,
            reason,
        }
    }

    /// An error triggered by a frame of type `frame_type`.
    pub const fn frame(code: TransportError, frame_type: u64, reason: &'static str) -> Self {
        Self {
            code,
            frame_type,
            reason,
        }
    }

    /// FRAME_ENCODING_ERROR for a frame of type `frame_type`.
    pub const fn frame_encoding(frame_type: u64, reason: &'static str) -> Self {
        Self::frame(TransportError::FrameEncodingError, frame_type, reason)
    }

    /// PROTOCOL_VIOLATION for a frame of type `frame_type`.
    pub const fn protocol_violation(frame_type: u64, reason: &'static str) -> Self {
        Self::frame(TransportError::ProtocolViolation, frame_type, reason)
    }

    /// TRANSPORT_PARAMETER_ERROR.
    pub const fn transport_parameter(reason: &'static str) -> Self {
        Self::new(TransportError::TransportParameterError, reason)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (frame 0x{:x}): {}",
            self.code, self.frame_type, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_roundtrip() {
        for code in 0..=0x11u64 {
            let e = TransportError::from_code(code).unwrap();
            assert_eq!(e.code(), code);
        }
        assert_eq!(TransportError::from_code(0x12), None);
        assert_eq!(TransportError::from_code(0xff), None);
        assert_eq!(TransportError::from_code(0x200), None);
        assert_eq!(TransportError::Crypto(0x28).code(), 0x128);
        assert_eq!(
            TransportError::from_code(0x128),
            Some(TransportError::Crypto(0x28))
        );
        assert_eq!(TransportError::VersionNegotiationError.code(), 0x11);
        assert_eq!(
            TransportError::ProtocolViolation.name(),
            "PROTOCOL_VIOLATION"
        );
    }
}
