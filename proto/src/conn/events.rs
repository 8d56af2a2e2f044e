//! What the connection tells its owner: [`Event`]s for the socket API (the notifications of
//! abi.md and the readiness the socket layer waits on) and for the endpoint (connection IDs to
//! route).

use quic_mem::Vec;

use crate::cid::ConnectionId;
use crate::stream::{StreamEvent, StreamId};

use super::Level;

/// Longest reason phrase kept from a CONNECTION_CLOSE frame (longer ones are truncated).
pub const MAX_REASON_LEN: usize = 256;

/// Why the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseSource {
    /// We closed it (the application, or a protocol error we detected).
    Local,
    /// The peer sent CONNECTION_CLOSE.
    Peer,
    /// The idle timeout expired.
    IdleTimeout,
    /// The peer sent a stateless reset.
    StatelessReset,
    /// The server does not support our version (Version Negotiation, RFC 9000 §6).
    VersionNegotiation {
        /// A version both sides support that a new connection could use.
        retry_with: Option<u32>,
    },
}

/// How a connection ended: who closed it, with what code, frame type and reason phrase.
#[derive(Debug, PartialEq, Eq)]
pub struct CloseInfo {
    /// Who or what closed the connection.
    pub source: CloseSource,
    /// An application close (CONNECTION_CLOSE type 0x1d) rather than a transport one.
    pub app: bool,
    /// The error code (transport or application).
    pub code: u64,
    /// For transport closes, the frame type that caused the error (0 if none).
    pub frame_type: u64,
    /// The reason phrase (at most [`MAX_REASON_LEN`] bytes kept).
    pub reason: Vec<u8>,
}

impl CloseInfo {
    /// A close with an empty reason.
    pub(crate) fn new(source: CloseSource, app: bool, code: u64, frame_type: u64) -> Self {
        Self {
            source,
            app,
            code,
            frame_type,
            reason: Vec::new(),
        }
    }

    /// A copy (the reason is dropped if it cannot be allocated).
    pub fn duplicate(&self) -> Self {
        Self {
            source: self.source,
            app: self.app,
            code: self.code,
            frame_type: self.frame_type,
            reason: self.reason.try_clone().unwrap_or_default(),
        }
    }
}

/// A notification from the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A stream changed state, or the peer raised a stream's or the stream count's limit
    /// (`QUIC_EVENT_STREAM_UPDATE`, `_MAX_DATA`, `_MAX_STREAM`).
    Stream(StreamEvent),
    /// A stream has data, its end, or a reset to read.
    StreamReadable(StreamId),
    /// Room opened up in the send buffer (or in flow control) after a write was cut short.
    StreamWritable,
    /// CRYPTO bytes are waiting at `level` for the TLS stack ([`super::Connection::crypto_read`]).
    /// At the application level after the handshake they carry a NewSessionTicket
    /// (`QUIC_EVENT_NEW_SESSION_TICKET`).
    CryptoData(Level),
    /// The handshake is confirmed (the client received HANDSHAKE_DONE; the server completed).
    HandshakeConfirmed,
    /// We issued a connection ID: route datagrams carrying it to this connection.
    LocalCidIssued {
        /// Its sequence number.
        seq: u64,
        /// The connection ID.
        cid: ConnectionId,
    },
    /// A connection ID we issued was retired: stop routing it.
    LocalCidRetired {
        /// Its sequence number.
        seq: u64,
        /// The connection ID.
        cid: ConnectionId,
    },
    /// Connection IDs were retired (`QUIC_EVENT_CONNECTION_ID`): `dest` for the peer's
    /// (destination) IDs, else ours; `active` is the sequence number now in use and
    /// `prior_to` the lowest still usable.
    ConnectionId {
        /// Destination (peer-issued) IDs rather than source IDs.
        dest: bool,
        /// Sequence number of the ID in use.
        active: u64,
        /// IDs below this sequence number are retired.
        prior_to: u64,
    },
    /// The path changed (`QUIC_EVENT_CONNECTION_MIGRATION`): `local` when we migrated,
    /// otherwise the peer's address changed.
    Migration {
        /// Our migration (true) or the peer's (false).
        local: bool,
    },
    /// Both sides use new 1-RTT keys (`QUIC_EVENT_KEY_UPDATE`); `phase` is the key phase bit.
    KeyUpdate {
        /// The key phase now in use.
        phase: bool,
    },
    /// The server sent a token for a future connection (`QUIC_EVENT_NEW_TOKEN`).
    NewToken(Vec<u8>),
    /// A DATAGRAM frame arrived ([`super::Connection::datagram_recv`]).
    DatagramReceived,
    /// The connection is closing or closed; nothing more can be sent.
    Closed(CloseInfo),
}
