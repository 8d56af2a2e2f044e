//! Packet number spaces (RFC 9000 §12.3): per space, the next packet number, what we received
//! and must acknowledge, the CRYPTO stream, and pending probes; plus the record of what each
//! sent packet carried, which loss recovery hands back when the packet is acknowledged or lost.

use quic_mem::Vec;

use crate::recovery::received::{AckPolicy, ReceivedPackets};
use crate::recovery::Space;
use crate::stream::{ControlFrame, StreamId};

use super::crypto_stream::CryptoStream;

/// A frame in a sent packet that matters once the packet's fate is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SentFrame {
    /// An ACK frame acknowledging up to `largest`.
    Ack {
        /// Its Largest Acknowledged.
        largest: u64,
    },
    /// CRYPTO data of this space's level.
    Crypto {
        /// Offset in the CRYPTO stream.
        offset: u64,
        /// Bytes.
        len: u32,
    },
    /// STREAM data.
    Stream {
        /// The stream.
        id: StreamId,
        /// Offset of the data.
        offset: u64,
        /// Bytes.
        len: u32,
        /// The frame carried FIN.
        fin: bool,
    },
    /// A flow-control or stream-state frame from the stream layer.
    Control(ControlFrame),
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// NEW_TOKEN.
    NewToken,
    /// NEW_CONNECTION_ID for our connection ID `seq`.
    NewCid {
        /// Sequence number.
        seq: u64,
    },
    /// RETIRE_CONNECTION_ID for the peer's connection ID `seq`.
    RetireCid {
        /// Sequence number.
        seq: u64,
    },
}

/// What a sent packet carried.
#[derive(Debug, Default)]
pub(crate) struct SentMeta {
    /// The frames to act on when the packet is acknowledged or lost.
    pub(crate) frames: Vec<SentFrame>,
    /// A DPLPMTUD probe of this many bytes (0: not a probe).
    pub(crate) pmtu_probe: u16,
    /// Sent in a 0-RTT packet.
    pub(crate) zero_rtt: bool,
}

/// The state of one packet number space.
#[derive(Debug)]
pub(crate) struct PacketSpace {
    /// The packet number of the next packet sent.
    pub(crate) next_pn: u64,
    /// Packets received, and ACK scheduling.
    pub(crate) received: ReceivedPackets,
    /// The CRYPTO stream of the space's level (Initial, Handshake, 1-RTT).
    pub(crate) crypto: CryptoStream,
    /// Ack-eliciting probe packets to send (PTO).
    pub(crate) probes: u8,
    /// Send an ack-eliciting packet (a PING if nothing else) soon.
    pub(crate) ping: bool,
    /// The keys of this space were discarded; nothing is sent or received in it any more.
    pub(crate) discarded: bool,
}

impl PacketSpace {
    pub(crate) fn new(space: Space, ack_eliciting_threshold: u32, max_ack_delay: u64) -> Self {
        let policy = match space {
            Space::Application => AckPolicy {
                ack_eliciting_threshold: ack_eliciting_threshold.max(1),
                max_ack_delay,
                ..AckPolicy::application()
            },
            _ => AckPolicy::handshake(),
        };
        Self {
            next_pn: 0,
            received: ReceivedPackets::new(policy),
            crypto: CryptoStream::new(),
            probes: 0,
            ping: false,
            discarded: false,
        }
    }

    /// Takes the next packet number.
    pub(crate) fn take_pn(&mut self) -> u64 {
        let pn = self.next_pn;
        self.next_pn = self.next_pn.saturating_add(1);
        pn
    }
}
