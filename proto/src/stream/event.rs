//! Notifications for the socket API (`QUIC_EVENT_STREAM_*`).
//!
//! The stream layer queues a [`StreamEvent`] for each change the application may want to hear
//! about; the kernel glue turns them into `quic_stream_update`, `quic_stream_max_data` and the
//! `max_stream` payload. Each kind is off until enabled, as the ABI asks.

use quic_uapi as uapi;

use super::id::{Dir, StreamId};
use super::state::StreamState;

/// The kinds of stream event, with their ABI event numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `QUIC_EVENT_STREAM_UPDATE`.
    Update,
    /// `QUIC_EVENT_STREAM_MAX_DATA`.
    MaxData,
    /// `QUIC_EVENT_STREAM_MAX_STREAM`.
    MaxStreams,
}

impl EventKind {
    /// The ABI event number (the notification's first byte).
    pub const fn abi(self) -> u8 {
        match self {
            Self::Update => uapi::QUIC_EVENT_STREAM_UPDATE,
            Self::MaxData => uapi::QUIC_EVENT_STREAM_MAX_DATA,
            Self::MaxStreams => uapi::QUIC_EVENT_STREAM_MAX_STREAM,
        }
    }

    pub(crate) const fn bit(self) -> u8 {
        match self {
            Self::Update => 1,
            Self::MaxData => 2,
            Self::MaxStreams => 4,
        }
    }
}

/// A stream notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent {
    /// A part of a stream changed state (`quic_stream_update`). Reported states: receiving
    /// `Recv` (first data arrived), `SizeKnown` (FIN arrived out of order), `Recvd` (all data
    /// arrived), `ResetRecvd` (the peer reset the stream); sending `Recvd` (all data
    /// acknowledged), `ResetSent` (reset because the peer sent STOP_SENDING) and `ResetRecvd`
    /// (our RESET_STREAM was acknowledged).
    Update {
        /// The stream.
        id: StreamId,
        /// Its new state.
        state: StreamState,
        /// The application error code: of the peer's STOP_SENDING for sending `ResetSent`, of
        /// our RESET_STREAM for sending `ResetRecvd`, of the peer's RESET_STREAM for receiving
        /// `ResetRecvd`; 0 otherwise.
        errcode: u64,
        /// The final size for receiving `SizeKnown`, `Recvd` and `ResetRecvd`; 0 otherwise.
        final_size: u64,
    },
    /// The peer raised a stream's MAX_STREAM_DATA (`quic_stream_max_data`).
    MaxData {
        /// The stream.
        id: StreamId,
        /// The new limit: the total bytes we may send on it.
        max_data: u64,
    },
    /// The peer raised MAX_STREAMS for our streams of one direction.
    MaxStreams {
        /// The direction.
        dir: Dir,
        /// The new limit, a count of streams.
        max: u64,
        /// The last stream ID that the new limit lets us open (the ABI's `max_stream` value).
        last_id: StreamId,
    },
}

impl StreamEvent {
    /// The kind of the event.
    pub const fn kind(&self) -> EventKind {
        match self {
            Self::Update { .. } => EventKind::Update,
            Self::MaxData { .. } => EventKind::MaxData,
            Self::MaxStreams { .. } => EventKind::MaxStreams,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_numbers() {
        assert_eq!(EventKind::Update.abi(), 1);
        assert_eq!(EventKind::MaxData.abi(), 2);
        assert_eq!(EventKind::MaxStreams.abi(), 3);
        let bits = EventKind::Update.bit() | EventKind::MaxData.bit() | EventKind::MaxStreams.bit();
        assert_eq!(bits, 7);
        let e = StreamEvent::MaxData {
            id: StreamId::new(4),
            max_data: 9,
        };
        assert_eq!(e.kind(), EventKind::MaxData);
    }
}
