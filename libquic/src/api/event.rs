//! Connection events: what a `recvmsg` with `MSG_QUIC_NOTIFICATION` in its `msg_flags` carries
//! (the first byte is the `QUIC_EVENT_*` type, the rest its payload), typed.

use std::io;

use quic_uapi::{
    quic_connection_close, quic_connection_id_info, quic_stream_max_data, quic_stream_update,
    QUIC_EVENT_CONNECTION_CLOSE, QUIC_EVENT_CONNECTION_ID, QUIC_EVENT_CONNECTION_MIGRATION,
    QUIC_EVENT_KEY_UPDATE, QUIC_EVENT_NEW_SESSION_TICKET, QUIC_EVENT_NEW_TOKEN,
    QUIC_EVENT_STREAM_MAX_DATA, QUIC_EVENT_STREAM_MAX_STREAM, QUIC_EVENT_STREAM_UPDATE,
};

/// An event type, as enabled or disabled with `QUIC_SOCKOPT_EVENT` (all start disabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `QUIC_EVENT_STREAM_UPDATE`: a stream changed state.
    StreamUpdate,
    /// `QUIC_EVENT_STREAM_MAX_DATA`: the peer raised a stream's flow control limit.
    StreamMaxData,
    /// `QUIC_EVENT_STREAM_MAX_STREAM`: the peer allowed more streams.
    StreamMaxStream,
    /// `QUIC_EVENT_CONNECTION_ID`: the connection ids in use changed.
    ConnectionId,
    /// `QUIC_EVENT_CONNECTION_CLOSE`: the peer (or the kernel) closed the connection.
    ConnectionClose,
    /// `QUIC_EVENT_CONNECTION_MIGRATION`: the path changed.
    ConnectionMigration,
    /// `QUIC_EVENT_KEY_UPDATE`: the 1-RTT keys were updated.
    KeyUpdate,
    /// `QUIC_EVENT_NEW_TOKEN`: the server sent an address validation token.
    NewToken,
    /// `QUIC_EVENT_NEW_SESSION_TICKET`: the server sent a session ticket.
    NewSessionTicket,
}

impl EventKind {
    /// Every event type, in `QUIC_EVENT_*` order.
    pub const ALL: [EventKind; 9] = [
        Self::StreamUpdate,
        Self::StreamMaxData,
        Self::StreamMaxStream,
        Self::ConnectionId,
        Self::ConnectionClose,
        Self::ConnectionMigration,
        Self::KeyUpdate,
        Self::NewToken,
        Self::NewSessionTicket,
    ];

    /// The `QUIC_EVENT_*` value.
    pub fn raw(self) -> u8 {
        match self {
            Self::StreamUpdate => QUIC_EVENT_STREAM_UPDATE,
            Self::StreamMaxData => QUIC_EVENT_STREAM_MAX_DATA,
            Self::StreamMaxStream => QUIC_EVENT_STREAM_MAX_STREAM,
            Self::ConnectionId => QUIC_EVENT_CONNECTION_ID,
            Self::ConnectionClose => QUIC_EVENT_CONNECTION_CLOSE,
            Self::ConnectionMigration => QUIC_EVENT_CONNECTION_MIGRATION,
            Self::KeyUpdate => QUIC_EVENT_KEY_UPDATE,
            Self::NewToken => QUIC_EVENT_NEW_TOKEN,
            Self::NewSessionTicket => QUIC_EVENT_NEW_SESSION_TICKET,
        }
    }

    /// The kind of a `QUIC_EVENT_*` value (`None` for `QUIC_EVENT_NONE` and unknown values).
    pub fn from_raw(ty: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.raw() == ty)
    }

    /// The `QUIC_SOCKOPT_EVENT` option value (`struct quic_event_option`) that turns this event
    /// on or off.
    pub fn option(self, on: bool) -> quic_uapi::quic_event_option {
        quic_uapi::quic_event_option {
            r#type: self.raw(),
            on: u8::from(on),
        }
    }
}

/// A connection event, parsed from a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A stream changed state (`QUIC_STREAM_SEND_STATE_*` / `QUIC_STREAM_RECV_STATE_*`).
    StreamUpdate(quic_stream_update),
    /// The peer's new MAX_STREAM_DATA for a stream.
    StreamMaxData(quic_stream_max_data),
    /// The peer's new stream limit: the stream type in the low 2 bits, the limit above them.
    StreamMaxStream(u64),
    /// The connection ids in use changed.
    ConnectionId(quic_connection_id_info),
    /// The connection was closed: error code, frame type and reason phrase.
    ConnectionClose(quic_connection_close),
    /// The path changed; `local` is true if this end migrated.
    ConnectionMigration {
        /// This end started the migration.
        local: bool,
    },
    /// The 1-RTT keys were updated; `phase` is the new key phase.
    KeyUpdate {
        /// The key phase now in use.
        phase: u8,
    },
    /// A NEW_TOKEN frame's token.
    NewToken(Vec<u8>),
    /// A NewSessionTicket message.
    NewSessionTicket(Vec<u8>),
    /// An event of a type this library does not know.
    Unknown {
        /// The type byte.
        ty: u8,
        /// The payload after it.
        payload: Vec<u8>,
    },
}

fn short(ty: u8, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("event {ty}: payload of {len} bytes is too short"),
    )
}

impl Event {
    /// Parses a whole notification: the type byte and its payload. Structure payloads shorter
    /// than their C structure are an error; longer ones (a newer kernel) are accepted.
    pub fn parse(bytes: &[u8]) -> io::Result<Self> {
        let (&ty, p) = bytes
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty notification"))?;
        let need = |n: usize| {
            if p.len() < n {
                Err(short(ty, p.len()))
            } else {
                Ok(())
            }
        };
        Ok(match ty {
            QUIC_EVENT_STREAM_UPDATE => {
                need(quic_stream_update::SIZE)?;
                Self::StreamUpdate(quic_stream_update::from_bytes_prefix(p))
            }
            QUIC_EVENT_STREAM_MAX_DATA => {
                need(quic_stream_max_data::SIZE)?;
                Self::StreamMaxData(quic_stream_max_data::from_bytes_prefix(p))
            }
            QUIC_EVENT_STREAM_MAX_STREAM => {
                need(8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&p[..8]);
                Self::StreamMaxStream(u64::from_ne_bytes(b))
            }
            QUIC_EVENT_CONNECTION_ID => {
                need(quic_connection_id_info::SIZE)?;
                Self::ConnectionId(quic_connection_id_info::from_bytes_prefix(p))
            }
            QUIC_EVENT_CONNECTION_CLOSE => {
                // The phrase may be cut short: the code and frame type are what must be there.
                need(5)?;
                Self::ConnectionClose(quic_connection_close::from_bytes_prefix(p))
            }
            QUIC_EVENT_CONNECTION_MIGRATION => {
                need(1)?;
                Self::ConnectionMigration { local: p[0] != 0 }
            }
            QUIC_EVENT_KEY_UPDATE => {
                need(1)?;
                Self::KeyUpdate { phase: p[0] }
            }
            QUIC_EVENT_NEW_TOKEN => Self::NewToken(p.to_vec()),
            QUIC_EVENT_NEW_SESSION_TICKET => Self::NewSessionTicket(p.to_vec()),
            _ => Self::Unknown {
                ty,
                payload: p.to_vec(),
            },
        })
    }

    /// The event's type (`None` for [`Event::Unknown`]).
    pub fn kind(&self) -> Option<EventKind> {
        Some(match self {
            Self::StreamUpdate(_) => EventKind::StreamUpdate,
            Self::StreamMaxData(_) => EventKind::StreamMaxData,
            Self::StreamMaxStream(_) => EventKind::StreamMaxStream,
            Self::ConnectionId(_) => EventKind::ConnectionId,
            Self::ConnectionClose(_) => EventKind::ConnectionClose,
            Self::ConnectionMigration { .. } => EventKind::ConnectionMigration,
            Self::KeyUpdate { .. } => EventKind::KeyUpdate,
            Self::NewToken(_) => EventKind::NewToken,
            Self::NewSessionTicket(_) => EventKind::NewSessionTicket,
            Self::Unknown { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_raw(k.raw()), Some(k));
            assert_eq!(k.option(true).to_bytes(), [k.raw(), 1]);
            assert_eq!(k.option(false).on, 0);
        }
        assert_eq!(EventKind::from_raw(0), None);
        assert_eq!(EventKind::from_raw(quic_uapi::QUIC_EVENT_MAX), None);
    }

    #[test]
    fn parses_structures() {
        let u = quic_stream_update {
            id: 4,
            state: quic_uapi::QUIC_STREAM_SEND_STATE_RECVD,
            errcode: 0,
            finalsz: 99,
            ..Default::default()
        };
        let mut b = vec![QUIC_EVENT_STREAM_UPDATE];
        b.extend_from_slice(&u.to_bytes());
        let e = Event::parse(&b).unwrap();
        assert_eq!(e, Event::StreamUpdate(u));
        assert_eq!(e.kind(), Some(EventKind::StreamUpdate));
        // A newer kernel's longer payload is fine; a truncated one is not.
        b.extend_from_slice(&[0; 8]);
        assert_eq!(Event::parse(&b).unwrap(), Event::StreamUpdate(u));
        assert!(Event::parse(&b[..10]).is_err());

        let mut c = quic_connection_close {
            errcode: 0x1234,
            frame: 0x1c,
            ..Default::default()
        };
        c.set_phrase(b"bye");
        let mut b = vec![QUIC_EVENT_CONNECTION_CLOSE];
        b.extend_from_slice(&c.to_bytes());
        match Event::parse(&b).unwrap() {
            Event::ConnectionClose(got) => {
                assert_eq!(got.errcode, 0x1234);
                assert_eq!(got.frame, 0x1c);
                assert_eq!(got.phrase_bytes(), b"bye");
            }
            e => panic!("{e:?}"),
        }
        let mut b = vec![QUIC_EVENT_STREAM_MAX_STREAM];
        b.extend_from_slice(&((7u64 << 2) | 1).to_ne_bytes());
        assert_eq!(Event::parse(&b).unwrap(), Event::StreamMaxStream(29));
    }

    #[test]
    fn parses_small_payloads() {
        assert_eq!(
            Event::parse(&[QUIC_EVENT_KEY_UPDATE, 1]).unwrap(),
            Event::KeyUpdate { phase: 1 }
        );
        assert_eq!(
            Event::parse(&[QUIC_EVENT_CONNECTION_MIGRATION, 0]).unwrap(),
            Event::ConnectionMigration { local: false }
        );
        assert_eq!(
            Event::parse(&[QUIC_EVENT_NEW_TOKEN, 1, 2, 3]).unwrap(),
            Event::NewToken(vec![1, 2, 3])
        );
        assert_eq!(
            Event::parse(&[200, 5]).unwrap(),
            Event::Unknown {
                ty: 200,
                payload: vec![5]
            }
        );
        assert_eq!(Event::parse(&[200]).unwrap().kind(), None);
        assert!(Event::parse(&[]).is_err());
        assert!(Event::parse(&[QUIC_EVENT_KEY_UPDATE]).is_err());
    }
}
