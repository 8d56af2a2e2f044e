//! Splitting a UDP datagram into its coalesced QUIC packets (RFC 9000 §12.2).
//!
//! Initial, 0-RTT and Handshake packets end where their Length field says; a short header
//! packet, a Retry, a Version Negotiation packet or a packet of an unknown version takes the
//! rest of the datagram. A packet that fails to parse ends the iteration: the rest of the
//! datagram cannot be delimited and is dropped.
//!
//! The iterator borrows the datagram immutably. To decrypt in place, call [`super::parse`]
//! on `&datagram[offset..]` yourself, copy out what is needed and advance `offset` by
//! [`super::ParsedPacket::len`].

use super::header::{parse, ParsedPacket};
use super::PacketError;

/// Iterator over the packets of a datagram, yielding `(offset, packet)`.
#[derive(Debug, Clone)]
pub struct Coalesced<'a> {
    datagram: &'a [u8],
    offset: usize,
    short_dcid_len: usize,
    allow_zero_fixed_bit: bool,
    done: bool,
}

impl<'a> Coalesced<'a> {
    /// Iterates over the packets of `datagram`; see [`super::parse`] for the arguments.
    pub fn new(datagram: &'a [u8], short_dcid_len: usize, allow_zero_fixed_bit: bool) -> Self {
        Self {
            datagram,
            offset: 0,
            short_dcid_len,
            allow_zero_fixed_bit,
            done: false,
        }
    }

    /// Offset of the next packet in the datagram.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for Coalesced<'a> {
    type Item = Result<(usize, ParsedPacket<'a>), PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.datagram.get(self.offset..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        match parse(rest, self.short_dcid_len, self.allow_zero_fixed_bit) {
            Ok(p) => {
                let at = self.offset;
                // `len` is at least 1 and at most `rest.len()`, so this always progresses.
                self.offset = self.offset.saturating_add(p.len.max(1));
                Some(Ok((at, p)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cid::ConnectionId;
    use crate::codec::Writer;
    use crate::packet::{write_long, write_short, Header, LongHeader, LongType, ShortHeader};
    use crate::packet::{PacketType, VERSION_1};

    #[test]
    fn initial_handshake_short() {
        let dcid = ConnectionId::new(&[5; 8]).unwrap();
        let scid = ConnectionId::new(&[6; 4]).unwrap();
        let mut out = [0u8; 300];
        let mut w = Writer::new(&mut out);
        let mut ends = std::vec::Vec::new();
        for (ty, token) in [
            (LongType::Initial, &b"tk"[..]),
            (LongType::Handshake, &b""[..]),
        ] {
            let h = LongHeader {
                version: VERSION_1,
                dcid,
                scid,
                token,
            };
            let l = write_long(&mut w, ty, &h, 3, 2, 2, true).unwrap();
            w.zeros(40).unwrap();
            let end = w.position();
            l.set_length(w.buffer_mut(), end).unwrap();
            ends.push(end);
        }
        let sh = ShortHeader { dcid, spin: false };
        write_short(&mut w, &sh, false, 9, 1, true).unwrap();
        w.zeros(25).unwrap();
        let total = w.position();

        let pkts: std::vec::Vec<_> = Coalesced::new(&out[..total], 8, false)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(pkts.len(), 3);
        assert_eq!(pkts[0].0, 0);
        assert_eq!(pkts[0].1.header.packet_type(), Some(PacketType::Initial));
        assert_eq!(pkts[1].0, ends[0]);
        assert_eq!(pkts[1].1.header.packet_type(), Some(PacketType::Handshake));
        assert_eq!(pkts[2].0, ends[1]);
        assert_eq!(pkts[2].1.header, Header::Short(sh));
        assert_eq!(pkts[2].0 + pkts[2].1.len, total);

        // Garbage after the Handshake packet stops the iteration with an error.
        let mut bad = out;
        bad[ends[1]] = 0x00;
        let mut it = Coalesced::new(&bad[..total], 8, false);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next(), Some(Err(PacketError::FixedBitZero)));
        assert_eq!(it.next(), None);
        assert_eq!(Coalesced::new(&[], 8, false).next(), None);
    }
}
