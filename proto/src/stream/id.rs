//! Stream identifiers (RFC 9000 §2.1).
//!
//! The two low bits of a stream ID give its type: bit 0 is the initiator (0 client, 1 server) and
//! bit 1 the direction (0 bidirectional, 1 unidirectional). The remaining bits count the streams
//! of that type: the n-th stream of a type (from 0) has ID `n << 2 | type`.

use core::fmt;

/// The number of streams of one type that can ever exist: 2^60 (RFC 9000 §4.6).
pub const MAX_STREAMS: u64 = 1 << 60;

/// The largest stream ID that can be encoded: 2^62 - 1.
pub const MAX_STREAM_ID: u64 = (1 << 62) - 1;

/// An endpoint role: which side initiated a stream, or which side we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client (stream ID bit 0 clear).
    Client,
    /// The server (stream ID bit 0 set).
    Server,
}

impl Side {
    /// The other side.
    pub const fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// The value of stream ID bit 0 for streams this side initiates.
    pub const fn bit(self) -> u64 {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// The direction of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Bidirectional: both endpoints send (stream ID bit 1 clear).
    Bidi,
    /// Unidirectional: only the initiator sends (stream ID bit 1 set).
    Uni,
}

impl Dir {
    /// Both directions, `Bidi` first (the order of [`Dir::index`]).
    pub const ALL: [Dir; 2] = [Dir::Bidi, Dir::Uni];

    /// The value of stream ID bit 1 for this direction.
    pub const fn bit(self) -> u64 {
        match self {
            Dir::Bidi => 0,
            Dir::Uni => 2,
        }
    }

    /// `0` for `Bidi`, `1` for `Uni`: an index for per-direction arrays.
    pub const fn index(self) -> usize {
        match self {
            Dir::Bidi => 0,
            Dir::Uni => 1,
        }
    }
}

/// A stream ID.
///
/// Any `u64` is accepted, so that a value decoded from a frame can be wrapped without a check;
/// IDs above [`MAX_STREAM_ID`] have an index of at least 2^60 and so are always beyond every
/// stream limit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u64);

impl StreamId {
    /// Wraps a raw stream ID.
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The `index`-th stream (counting from 0) that `initiator` opens in direction `dir`, or
    /// `None` when `index` is at least 2^60.
    pub const fn from_index(initiator: Side, dir: Dir, index: u64) -> Option<Self> {
        if index >= MAX_STREAMS {
            return None;
        }
        Some(Self((index << 2) | dir.bit() | initiator.bit()))
    }

    /// The last stream ID of a type that a limit of `count` streams allows (the ID of stream
    /// `count - 1`), or `None` when `count` is 0 or above 2^60.
    pub const fn last_allowed(initiator: Side, dir: Dir, count: u64) -> Option<Self> {
        if count == 0 {
            return None;
        }
        Self::from_index(initiator, dir, count - 1)
    }

    /// The raw value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Which side opened the stream.
    pub const fn initiator(self) -> Side {
        if self.0 & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// The stream's direction.
    pub const fn dir(self) -> Dir {
        if self.0 & 2 == 0 {
            Dir::Bidi
        } else {
            Dir::Uni
        }
    }

    /// The position of the stream among the streams of its type, from 0.
    pub const fn index(self) -> u64 {
        self.0 >> 2
    }

    /// True when the endpoint playing `us` opened the stream.
    pub const fn is_local(self, us: Side) -> bool {
        self.initiator().bit() == us.bit()
    }

    /// True when the endpoint playing `us` may send on the stream: bidirectional streams, and
    /// unidirectional streams it opened.
    pub const fn can_send(self, us: Side) -> bool {
        matches!(self.dir(), Dir::Bidi) || self.is_local(us)
    }

    /// True when the endpoint playing `us` may receive on the stream: bidirectional streams,
    /// and unidirectional streams its peer opened.
    pub const fn can_recv(self, us: Side) -> bool {
        matches!(self.dir(), Dir::Bidi) || !self.is_local(us)
    }
}

impl From<u64> for StreamId {
    fn from(raw: u64) -> Self {
        Self(raw)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn type_bits() {
        // RFC 9000 Table 1.
        let cases = [
            (0u64, Side::Client, Dir::Bidi),
            (1, Side::Server, Dir::Bidi),
            (2, Side::Client, Dir::Uni),
            (3, Side::Server, Dir::Uni),
        ];
        for (raw, side, dir) in cases {
            let id = StreamId::new(raw);
            assert_eq!(id.initiator(), side);
            assert_eq!(id.dir(), dir);
            assert_eq!(id.index(), 0);
            assert_eq!(StreamId::from_index(side, dir, 0), Some(id));
            assert_eq!(StreamId::from_index(side, dir, 5).unwrap().raw(), 20 + raw);
        }
    }

    #[test]
    fn local_and_directions() {
        let client_uni = StreamId::new(2);
        assert!(client_uni.is_local(Side::Client));
        assert!(!client_uni.is_local(Side::Server));
        assert!(client_uni.can_send(Side::Client));
        assert!(!client_uni.can_recv(Side::Client));
        assert!(!client_uni.can_send(Side::Server));
        assert!(client_uni.can_recv(Side::Server));
        let server_bidi = StreamId::new(5);
        for side in [Side::Client, Side::Server] {
            assert!(server_bidi.can_send(side));
            assert!(server_bidi.can_recv(side));
        }
        assert!(server_bidi.is_local(Side::Server));
        assert_eq!(Side::Client.peer(), Side::Server);
        assert_eq!(Side::Server.peer(), Side::Client);
    }

    #[test]
    fn limits() {
        assert_eq!(
            StreamId::from_index(Side::Client, Dir::Bidi, MAX_STREAMS),
            None
        );
        let last = StreamId::from_index(Side::Server, Dir::Uni, MAX_STREAMS - 1).unwrap();
        assert_eq!(last.raw(), MAX_STREAM_ID);
        assert_eq!(StreamId::last_allowed(Side::Client, Dir::Uni, 0), None);
        assert_eq!(
            StreamId::last_allowed(Side::Client, Dir::Uni, 3)
                .unwrap()
                .raw(),
            (2 << 2) | 2
        );
        // Out-of-range raw IDs wrap without panicking and sit beyond any limit.
        assert!(StreamId::new(u64::MAX).index() >= MAX_STREAMS);
    }

    proptest! {
        #[test]
        fn index_roundtrip(index in 0u64..MAX_STREAMS, server: bool, uni: bool) {
            let side = if server { Side::Server } else { Side::Client };
            let dir = if uni { Dir::Uni } else { Dir::Bidi };
            let id = StreamId::from_index(side, dir, index).unwrap();
            prop_assert!(id.raw() <= MAX_STREAM_ID);
            prop_assert_eq!(id.index(), index);
            prop_assert_eq!(id.initiator(), side);
            prop_assert_eq!(id.dir(), dir);
            prop_assert_eq!(StreamId::new(id.raw()), id);
        }
    }
}
