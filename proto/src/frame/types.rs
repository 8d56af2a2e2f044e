//! Frame type codes and their properties: which packet types may carry them (RFC 9000 §12.4,
//! Table 3) and how they count for acknowledgement, congestion control and path probing
//! (RFC 9000 §9.1, §13.2; RFC 9002 §2).

use crate::packet::PacketType;

/// A frame type code (RFC 9000 §19, RFC 9221 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameType(pub u64);

impl FrameType {
    /// PADDING.
    pub const PADDING: Self = Self(0x00);
    /// PING.
    pub const PING: Self = Self(0x01);
    /// ACK.
    pub const ACK: Self = Self(0x02);
    /// ACK with ECN counts.
    pub const ACK_ECN: Self = Self(0x03);
    /// RESET_STREAM.
    pub const RESET_STREAM: Self = Self(0x04);
    /// STOP_SENDING.
    pub const STOP_SENDING: Self = Self(0x05);
    /// CRYPTO.
    pub const CRYPTO: Self = Self(0x06);
    /// NEW_TOKEN.
    pub const NEW_TOKEN: Self = Self(0x07);
    /// STREAM without OFF, LEN and FIN bits (the STREAM types are 0x08..=0x0f).
    pub const STREAM: Self = Self(0x08);
    /// MAX_DATA.
    pub const MAX_DATA: Self = Self(0x10);
    /// MAX_STREAM_DATA.
    pub const MAX_STREAM_DATA: Self = Self(0x11);
    /// MAX_STREAMS for bidirectional streams.
    pub const MAX_STREAMS_BIDI: Self = Self(0x12);
    /// MAX_STREAMS for unidirectional streams.
    pub const MAX_STREAMS_UNI: Self = Self(0x13);
    /// DATA_BLOCKED.
    pub const DATA_BLOCKED: Self = Self(0x14);
    /// STREAM_DATA_BLOCKED.
    pub const STREAM_DATA_BLOCKED: Self = Self(0x15);
    /// STREAMS_BLOCKED for bidirectional streams.
    pub const STREAMS_BLOCKED_BIDI: Self = Self(0x16);
    /// STREAMS_BLOCKED for unidirectional streams.
    pub const STREAMS_BLOCKED_UNI: Self = Self(0x17);
    /// NEW_CONNECTION_ID.
    pub const NEW_CONNECTION_ID: Self = Self(0x18);
    /// RETIRE_CONNECTION_ID.
    pub const RETIRE_CONNECTION_ID: Self = Self(0x19);
    /// PATH_CHALLENGE.
    pub const PATH_CHALLENGE: Self = Self(0x1a);
    /// PATH_RESPONSE.
    pub const PATH_RESPONSE: Self = Self(0x1b);
    /// CONNECTION_CLOSE carrying a transport error.
    pub const CONNECTION_CLOSE: Self = Self(0x1c);
    /// CONNECTION_CLOSE carrying an application error.
    pub const CONNECTION_CLOSE_APP: Self = Self(0x1d);
    /// HANDSHAKE_DONE.
    pub const HANDSHAKE_DONE: Self = Self(0x1e);
    /// DATAGRAM without a Length field (RFC 9221).
    pub const DATAGRAM: Self = Self(0x30);
    /// DATAGRAM with a Length field (RFC 9221).
    pub const DATAGRAM_LEN: Self = Self(0x31);

    /// STREAM type bit: an Offset field is present.
    pub const STREAM_OFF_BIT: u64 = 0x04;
    /// STREAM type bit: a Length field is present.
    pub const STREAM_LEN_BIT: u64 = 0x02;
    /// STREAM type bit: this frame ends the stream.
    pub const STREAM_FIN_BIT: u64 = 0x01;

    /// True for types this crate decodes.
    pub const fn is_known(self) -> bool {
        matches!(self.0, 0x00..=0x1e | 0x30 | 0x31)
    }

    /// True for the STREAM types 0x08..=0x0f.
    pub const fn is_stream(self) -> bool {
        matches!(self.0, 0x08..=0x0f)
    }

    /// Whether a frame of this type may appear in a packet of type `pkt` (RFC 9000 §12.4,
    /// Table 3; RFC 9221 §4 for DATAGRAM). Unknown types are never allowed.
    pub const fn allowed_in(self, pkt: PacketType) -> bool {
        use PacketType::*;
        match self.0 {
            // PADDING, PING, CONNECTION_CLOSE (transport): all packet types.
            0x00 | 0x01 | 0x1c => true,
            // ACK, ACK_ECN, CRYPTO: not in 0-RTT.
            0x02 | 0x03 | 0x06 => !matches!(pkt, ZeroRtt),
            // NEW_TOKEN, RETIRE_CONNECTION_ID, PATH_RESPONSE, HANDSHAKE_DONE: 1-RTT only.
            0x07 | 0x19 | 0x1b | 0x1e => matches!(pkt, OneRtt),
            // Everything else: application data packets (0-RTT and 1-RTT).
            0x04 | 0x05 | 0x08..=0x18 | 0x1a | 0x1d | 0x30 | 0x31 => {
                matches!(pkt, ZeroRtt | OneRtt)
            }
            _ => false,
        }
    }

    /// Whether receiving this frame obliges the peer to send an ACK (every frame but ACK,
    /// PADDING and CONNECTION_CLOSE; RFC 9000 §13.2.1).
    pub const fn is_ack_eliciting(self) -> bool {
        !matches!(self.0, 0x00 | 0x02 | 0x03 | 0x1c | 0x1d)
    }

    /// Whether a packet carrying this frame counts as in flight for congestion control and
    /// loss recovery: ack-eliciting frames and PADDING (RFC 9002 §2).
    pub const fn counts_in_flight(self) -> bool {
        self.is_ack_eliciting() || self.0 == 0x00
    }

    /// Whether this is a probing frame (PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID,
    /// PADDING; RFC 9000 §9.1). A packet with only probing frames does not migrate the
    /// connection.
    pub const fn is_probing(self) -> bool {
        matches!(self.0, 0x00 | 0x18 | 0x1a | 0x1b)
    }

    /// Whether the frame's data counts against flow control (STREAM frames).
    pub const fn is_flow_controlled(self) -> bool {
        self.is_stream()
    }

    /// The RFC name of the type.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "PADDING",
            0x01 => "PING",
            0x02 => "ACK",
            0x03 => "ACK_ECN",
            0x04 => "RESET_STREAM",
            0x05 => "STOP_SENDING",
            0x06 => "CRYPTO",
            0x07 => "NEW_TOKEN",
            0x08..=0x0f => "STREAM",
            0x10 => "MAX_DATA",
            0x11 => "MAX_STREAM_DATA",
            0x12 | 0x13 => "MAX_STREAMS",
            0x14 => "DATA_BLOCKED",
            0x15 => "STREAM_DATA_BLOCKED",
            0x16 | 0x17 => "STREAMS_BLOCKED",
            0x18 => "NEW_CONNECTION_ID",
            0x19 => "RETIRE_CONNECTION_ID",
            0x1a => "PATH_CHALLENGE",
            0x1b => "PATH_RESPONSE",
            0x1c | 0x1d => "CONNECTION_CLOSE",
            0x1e => "HANDSHAKE_DONE",
            0x30 | 0x31 => "DATAGRAM",
            _ => "UNKNOWN",
        }
    }
}

/// What the frames of one packet add up to, for loss recovery and migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketSummary {
    /// The packet has at least one ack-eliciting frame.
    pub ack_eliciting: bool,
    /// The packet counts as in flight (ack-eliciting or padded).
    pub in_flight: bool,
    /// The packet has at least one non-probing frame (so it is not a probing packet).
    pub non_probing: bool,
}

impl PacketSummary {
    /// Accounts for one frame of type `ty`.
    pub fn add(&mut self, ty: FrameType) {
        self.ack_eliciting |= ty.is_ack_eliciting();
        self.in_flight |= ty.counts_in_flight();
        self.non_probing |= !ty.is_probing();
    }

    /// True when every frame so far was a probing frame (RFC 9000 §9.1).
    pub const fn is_probing(&self) -> bool {
        !self.non_probing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PacketType::*;

    /// RFC 9000 Table 3 as letters: I, H, 0, 1 for the packet types a frame may be in.
    const TABLE3: &[(u64, &str)] = &[
        (0x00, "IH01"),
        (0x01, "IH01"),
        (0x02, "IH1"),
        (0x03, "IH1"),
        (0x04, "01"),
        (0x05, "01"),
        (0x06, "IH1"),
        (0x07, "1"),
        (0x08, "01"),
        (0x0f, "01"),
        (0x10, "01"),
        (0x11, "01"),
        (0x12, "01"),
        (0x13, "01"),
        (0x14, "01"),
        (0x15, "01"),
        (0x16, "01"),
        (0x17, "01"),
        (0x18, "01"),
        (0x19, "1"),
        (0x1a, "01"),
        (0x1b, "1"),
        (0x1c, "IH01"),
        (0x1d, "01"),
        (0x1e, "1"),
        (0x30, "01"),
        (0x31, "01"),
        (0x1f, ""),
        (0x21, ""),
        (0x40, ""),
    ];

    #[test]
    fn table3() {
        for (ty, allowed) in TABLE3 {
            let t = FrameType(*ty);
            for (pkt, c) in [
                (Initial, 'I'),
                (Handshake, 'H'),
                (ZeroRtt, '0'),
                (OneRtt, '1'),
            ] {
                assert_eq!(t.allowed_in(pkt), allowed.contains(c), "{ty:#x} in {pkt:?}");
            }
        }
    }

    #[test]
    fn properties() {
        let non_eliciting = [0x00, 0x02, 0x03, 0x1c, 0x1d];
        for ty in (0..=0x1e).chain([0x30, 0x31]) {
            let t = FrameType(ty);
            assert!(t.is_known());
            assert_eq!(t.is_ack_eliciting(), !non_eliciting.contains(&ty));
            assert_eq!(
                t.counts_in_flight(),
                !matches!(ty, 0x02 | 0x03 | 0x1c | 0x1d)
            );
            assert_eq!(t.is_probing(), matches!(ty, 0x00 | 0x18 | 0x1a | 0x1b));
            assert_ne!(t.name(), "UNKNOWN");
        }
        assert!(!FrameType(0x1f).is_known());
        assert_eq!(FrameType(0x1f).name(), "UNKNOWN");

        let mut s = PacketSummary::default();
        s.add(FrameType::PADDING);
        assert!(s.in_flight && !s.ack_eliciting && s.is_probing());
        s.add(FrameType::PATH_CHALLENGE);
        assert!(s.ack_eliciting && s.is_probing());
        s.add(FrameType::ACK);
        assert!(!s.is_probing());
        let mut s = PacketSummary::default();
        s.add(FrameType::ACK);
        assert!(!s.in_flight && !s.ack_eliciting);
    }
}
