//! Receiving: a datagram is split into its coalesced packets; each is matched to the
//! connection, its header protection and payload protection removed with the keys of its
//! level (packets whose keys are not installed yet are kept for later), checked for
//! duplicates, and its frames processed. Then come the decisions that depend on the whole
//! packet: acknowledgment, key discard, path migration. A datagram that no packet of which
//! could be opened may be a stateless reset.

use quic_mem::Vec;

use crate::cid::ConnectionId;
use crate::crypto::reset::is_stateless_reset;
use crate::crypto::{
    open_payload, read_header, unprotect_header, Crypto, LimitStatus, Side, Version,
};
use crate::error::{Error, TransportError};
use crate::frame::{Frames, PacketSummary};
use crate::packet::{parse, Header, PacketType, RetryHeader, VersionNegotiation};
use crate::recovery::ecn::EcnCodepoint;
use crate::recovery::received::Received;
use crate::recovery::Space;

use super::events::CloseSource;
use super::frames::FrameCtx;
use super::handshake::EarlyData;
use super::key_update::RxKey;
use super::version::compatible;
use super::{oom, Addr, Connection};

/// Packets kept while their keys are missing.
const MAX_BUFFERED_PACKETS: usize = 16;
/// Bytes kept while their keys are missing.
const MAX_BUFFERED_BYTES: usize = 32 * 1024;

/// What the header parser found, copied out of the packet so it can be decrypted in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketMeta {
    pub(crate) ptype: PacketType,
    pub(crate) version: u32,
    pub(crate) dcid: ConnectionId,
    pub(crate) scid: ConnectionId,
    pub(crate) has_token: bool,
    pub(crate) pn_offset: usize,
}

/// A packet waiting for its keys.
#[derive(Debug)]
struct Buffered {
    meta: PacketMeta,
    from: Addr,
    to: Addr,
    ecn: EcnCodepoint,
    bytes: Vec<u8>,
}

/// Application packets processed but deliberately not acknowledged (a STREAM frame could not
/// be stored, so the peer must retransmit): their packet numbers are not in the ACK ranges,
/// yet a replayed copy must still be dropped as a duplicate (RFC 9000 §12.3). The most recent
/// few are remembered; the peer resends the data in new packets anyway.
#[derive(Debug)]
pub(crate) struct SeenUnacked {
    pns: [u64; 16],
    next: usize,
}

impl SeenUnacked {
    pub(crate) const fn new() -> Self {
        Self {
            pns: [u64::MAX; 16],
            next: 0,
        }
    }

    fn contains(&self, pn: u64) -> bool {
        self.pns.contains(&pn)
    }

    fn insert(&mut self, pn: u64) {
        if let Some(slot) = self.pns.get_mut(self.next) {
            *slot = pn;
        }
        self.next = (self.next + 1) % self.pns.len();
    }
}

/// Packets that arrived before their keys (RFC 9001 §5.7).
#[derive(Debug)]
pub(crate) struct Undecryptable {
    items: Vec<Buffered>,
    bytes: usize,
}

impl Undecryptable {
    pub(crate) fn new() -> Self {
        Self {
            items: Vec::new(),
            bytes: 0,
        }
    }

    fn push(&mut self, b: Buffered) {
        if self.items.len() >= MAX_BUFFERED_PACKETS
            || self.bytes.saturating_add(b.bytes.len()) > MAX_BUFFERED_BYTES
        {
            return;
        }
        let n = b.bytes.len();
        if self.items.push(b).is_ok() {
            self.bytes += n;
        }
    }

    fn take(&mut self) -> Vec<Buffered> {
        self.bytes = 0;
        core::mem::take(&mut self.items)
    }

    pub(crate) fn drop_space(&mut self, space: Space) {
        self.items.retain(|b| space_of(b.meta.ptype) != space);
        self.bytes = self.items.iter().map(|b| b.bytes.len()).sum();
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
    }
}

pub(crate) fn space_of(t: PacketType) -> Space {
    match t {
        PacketType::Initial => Space::Initial,
        PacketType::Handshake => Space::Handshake,
        PacketType::ZeroRtt | PacketType::OneRtt => Space::Application,
    }
}

/// What became of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Opened and processed.
    Processed,
    /// Kept until its keys arrive.
    Buffered,
    /// Dropped (not ours, undecryptable, duplicate).
    Dropped,
}

impl<C: Crypto> Connection<C> {
    /// Processes a UDP datagram received at `now` from `from` on local address `to`, with the
    /// ECN codepoint of its IP header. `data` is decrypted in place.
    pub fn recv_datagram(
        &mut self,
        now: u64,
        from: Addr,
        to: Addr,
        data: &mut [u8],
        ecn: EcnCodepoint,
    ) {
        self.now = now.max(self.now);
        if !self.close.is_open() {
            if self.close.is_closing() {
                self.close.on_packet_while_closing();
            }
            return;
        }
        self.stats.datagrams_received += 1;
        self.stats.bytes_received = self.stats.bytes_received.saturating_add(data.len() as u64);
        // Unprotected 1-RTT packets always "open", and with zero-length connection IDs every
        // short header matches: a stateless reset would be read as frames. Look for one first
        // (RFC 9000 §10.3.1 allows checking any datagram).
        if self.hs.plain_1rtt && self.check_stateless_reset(data) {
            self.close_with(CloseSource::StatelessReset, false, 0, 0, b"stateless reset");
            return;
        }
        let total = data.len();
        let mut off = 0usize;
        let mut any = false;
        let grease = self.hs.local_tp.grease_quic_bit;
        while off < total && self.close.is_open() {
            let Some(rest) = data.get_mut(off..) else {
                break;
            };
            let (meta, len) = {
                let parsed = match parse(rest, self.cids.local_len(), grease) {
                    Ok(p) => p,
                    Err(_) => break,
                };
                let len = parsed.len.max(1);
                let meta = match parsed.header {
                    Header::VersionNegotiation(vn) => {
                        self.on_version_negotiation(&vn);
                        break;
                    }
                    Header::Retry(r) => {
                        let bytes = rest.get(..len).unwrap_or(&[]);
                        self.on_retry(&r, bytes);
                        break;
                    }
                    Header::UnknownVersion { .. } => break,
                    Header::Initial(h) | Header::ZeroRtt(h) | Header::Handshake(h) => PacketMeta {
                        ptype: parsed.header.packet_type().unwrap_or(PacketType::Initial),
                        version: h.version,
                        dcid: h.dcid,
                        scid: h.scid,
                        has_token: !h.token.is_empty(),
                        pn_offset: parsed.pn_offset,
                    },
                    Header::Short(h) => PacketMeta {
                        ptype: PacketType::OneRtt,
                        version: self.version,
                        dcid: h.dcid,
                        scid: ConnectionId::EMPTY,
                        has_token: false,
                        pn_offset: parsed.pn_offset,
                    },
                };
                (meta, len)
            };
            let Some(pkt) = rest.get_mut(..len) else {
                break;
            };
            match self.process_packet(meta, from, to, pkt, ecn) {
                Outcome::Processed => any = true,
                Outcome::Buffered => {}
                Outcome::Dropped => self.stats.packets_dropped += 1,
            }
            off = off.saturating_add(len);
        }
        if any {
            if let Some(p) = self.paths.find_mut(to, from) {
                p.bytes_rx = p.bytes_rx.saturating_add(total as u64);
            }
            self.rearm_loss_timer();
        } else if self.close.is_open() && self.check_stateless_reset(data) {
            self.close_with(CloseSource::StatelessReset, false, 0, 0, b"stateless reset");
        } else if self.side == Side::Server && !self.paths.active.validated {
            // Bytes the peer sent count towards the amplification budget even when we
            // could not use them (e.g. packets waiting for keys).
            if let Some(p) = self.paths.find_mut(to, from) {
                p.bytes_rx = p.bytes_rx.saturating_add(total as u64);
            }
        }
    }

    fn check_stateless_reset(&self, data: &[u8]) -> bool {
        // Only a datagram that looks like a short header packet can be a reset.
        data.first().is_some_and(|b| b & 0x80 == 0)
            && is_stateless_reset(data, self.cids.peer_tokens())
    }

    /// Retries the packets that were waiting for keys.
    pub(crate) fn process_undecryptable(&mut self) {
        let mut items = self.undecryptable.take();
        for b in items.iter_mut() {
            if !self.close.is_open() {
                break;
            }
            // Its bytes already counted towards the anti-amplification budget on arrival.
            let _ = self.process_packet(b.meta, b.from, b.to, &mut b.bytes, b.ecn);
        }
        self.rearm_loss_timer();
    }

    fn dcid_ok(&self, meta: &PacketMeta) -> bool {
        if self.cids.is_local(&meta.dcid) {
            return true;
        }
        // Until the client switches to our ID, its long header packets carry the DCID it
        // chose.
        self.side == Side::Server
            && meta.ptype != PacketType::OneRtt
            && !self.hs.confirmed
            && (meta.dcid == self.hs.initial_dcid || meta.dcid == self.hs.odcid)
    }

    fn process_packet(
        &mut self,
        meta: PacketMeta,
        from: Addr,
        to: Addr,
        pkt: &mut [u8],
        ecn: EcnCodepoint,
    ) -> Outcome {
        if !self.dcid_ok(&meta) {
            return Outcome::Dropped;
        }
        // A client accepts packets from the server's address only (servers do not migrate).
        if self.side == Side::Client
            && from != self.paths.active.remote
            && crate::none_or(self.paths.probe.as_ref(), |p| p.remote != from)
        {
            return Outcome::Dropped;
        }
        let space = space_of(meta.ptype);
        if self.space(space).discarded {
            return Outcome::Dropped;
        }
        let mut old_version_rx = false;
        if meta.ptype != PacketType::OneRtt && meta.version != self.version {
            match self.side {
                Side::Client => {
                    if !self.client_switch_version(&meta) {
                        return Outcome::Dropped;
                    }
                }
                Side::Server => {
                    if meta.version != self.hs.original_version
                        || self.keys.initial_old_rx.is_none()
                    {
                        return Outcome::Dropped;
                    }
                    old_version_rx = meta.ptype == PacketType::Initial;
                    if !old_version_rx && meta.ptype != PacketType::ZeroRtt {
                        return Outcome::Dropped;
                    }
                }
            }
        }
        if self.side == Side::Client && meta.ptype == PacketType::Initial && meta.has_token {
            return Outcome::Dropped;
        }
        if self.side == Side::Client && meta.ptype == PacketType::ZeroRtt {
            return Outcome::Dropped;
        }
        // Keys: missing ones mean "later" while they may still come.
        let missing = match meta.ptype {
            PacketType::Initial => self.keys.initial.is_none(),
            PacketType::Handshake => self.keys.handshake_rx.is_none(),
            PacketType::ZeroRtt => {
                if self.keys.early_rx.is_none() {
                    if self.hs.complete || self.hs.early == EarlyData::Rejected {
                        return Outcome::Dropped;
                    }
                    true
                } else {
                    false
                }
            }
            PacketType::OneRtt => {
                self.keys.app.rx.is_none() || (self.side == Side::Server && !self.hs.complete)
            }
        };
        if missing {
            if meta.ptype == PacketType::Initial {
                return Outcome::Dropped;
            }
            let mut bytes = Vec::new();
            if bytes.extend_from_slice(pkt).is_ok() {
                self.undecryptable.push(Buffered {
                    meta,
                    from,
                    to,
                    ecn,
                    bytes,
                });
            }
            return Outcome::Buffered;
        }
        let largest = self.space(space).received.largest();
        let opened = self.open(meta.ptype, old_version_rx, pkt, meta.pn_offset, largest);
        let (hdr, payload, rx_key) = match opened {
            Some(x) => x,
            None => {
                if self.keys.integrity.record_failure() == LimitStatus::Exhausted {
                    self.close_on_error(Error::new(
                        TransportError::AeadLimitReached,
                        "too many forged packets",
                    ));
                }
                return Outcome::Dropped;
            }
        };
        let pn = hdr.packet_number;
        if hdr.reserved_bits != 0 {
            self.close_on_error(Error::new(
                TransportError::ProtocolViolation,
                "reserved bits set",
            ));
            return Outcome::Dropped;
        }
        if self.space(space).received.is_duplicate(pn)
            || (space == Space::Application && self.seen_unacked.contains(pn))
        {
            return Outcome::Dropped;
        }
        if let Some(which) = rx_key {
            let lifetime = self.loss.rtt().pto_duration(false, 0).saturating_mul(3);
            match self
                .keys
                .app
                .on_rx(&self.crypto, which, pn, self.now, lifetime)
            {
                Ok(true) => {
                    let phase = self.keys.app.tx_phase();
                    self.emit(super::events::Event::KeyUpdate { phase });
                }
                Ok(false) => {}
                Err(e) => {
                    self.close_on_error(e);
                    return Outcome::Dropped;
                }
            }
        }
        if self.side == Side::Client
            && !self.hs.heard_from_peer
            && meta.ptype == PacketType::Initial
        {
            self.hs.heard_from_peer = true;
            self.hs.peer_initial_scid = Some(meta.scid);
            self.cids.replace_initial_peer_cid(meta.scid);
        }
        let Some(payload) = pkt.get(payload.clone()) else {
            return Outcome::Dropped;
        };
        let largest_before = self.space(space).received.largest();
        let mut ctx = FrameCtx {
            space,
            local: to,
            remote: from,
            dcid: meta.dcid,
            summary: PacketSummary::default(),
            dont_ack: false,
            old_keys: rx_key.is_some_and(|w| self.keys.app.is_older_than_tx(w)),
        };
        for frame in Frames::new(payload, meta.ptype) {
            let r = frame.and_then(|f| self.on_frame(&mut ctx, f));
            if let Err(e) = r {
                self.close_on_error(e);
                return Outcome::Processed;
            }
            if !self.close.is_open() {
                return Outcome::Processed;
            }
        }
        if self.cids.take_retire_overflow() {
            self.close_on_error(Error::new(
                TransportError::ConnectionIdLimitError,
                "too many connection IDs waiting for retirement",
            ));
            return Outcome::Processed;
        }
        self.stats.packets_received += 1;
        if ctx.dont_ack {
            self.seen_unacked.insert(pn);
        } else {
            let now = self.now;
            match self.space_mut(space).received.on_packet_received(
                pn,
                now,
                ctx.summary.ack_eliciting,
                ecn,
            ) {
                Ok(Received::New) | Ok(Received::Duplicate) => {}
                Err(e) => {
                    self.close_on_error(oom(e));
                    return Outcome::Processed;
                }
            }
        }
        // The idle timer restarts with every packet processed (RFC 9000 §10.1).
        self.timers.idle_start = self.now;
        self.timers.ae_sent_since_rx = false;
        if meta.ptype == PacketType::Handshake && self.side == Side::Server {
            // The client proved its address, and will not send Initials any more.
            self.paths.active.validated = true;
            self.discard_space(Space::Initial);
        }
        if meta.ptype == PacketType::OneRtt && !self.paths.is_active(to, from) {
            let newest = crate::none_or(largest_before, |l| pn > l);
            // NAT rebinding cannot be refused, and a peer that migrates although we sent
            // disable_active_migration may be followed after path validation (RFC 9000 §9,
            // §18.2); the parameter the peer sent only restricts our own addresses.
            if self.side == Side::Server && self.hs.confirmed && newest && !ctx.summary.is_probing()
            {
                self.on_peer_migrated(to, from);
            }
        }
        Outcome::Processed
    }

    /// Removes header and payload protection. Returns the header, the payload range and,
    /// for 1-RTT, which key generation opened it.
    #[allow(clippy::type_complexity)]
    fn open(
        &self,
        ptype: PacketType,
        old_version: bool,
        pkt: &mut [u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Option<(
        crate::crypto::UnprotectedHeader,
        core::ops::Range<usize>,
        Option<RxKey>,
    )> {
        let keys = match ptype {
            PacketType::Initial if old_version => self.keys.initial_old_rx.as_ref(),
            PacketType::Initial => self.keys.initial.as_ref().map(|k| &k.remote),
            PacketType::Handshake => self.keys.handshake_rx.as_ref(),
            PacketType::ZeroRtt => self.keys.early_rx.as_ref(),
            PacketType::OneRtt => {
                let rx = self.keys.app.rx.as_ref()?;
                if self.hs.plain_1rtt {
                    let hdr = read_header(pkt, pn_offset, largest).ok()?;
                    let range = hdr.header_len..pkt.len();
                    return Some((hdr, range, None));
                }
                let hdr = unprotect_header(&rx.header, pkt, pn_offset, largest).ok()?;
                let which = self.keys.app.select_rx(hdr.key_phase, hdr.packet_number)?;
                let key = self.keys.app.rx_packet_key(which)?;
                let range = open_payload(key, pkt, &hdr).ok()?;
                return Some((hdr, range, Some(which)));
            }
        }?;
        let hdr = unprotect_header(&keys.header, pkt, pn_offset, largest).ok()?;
        let range = open_payload(&keys.packet, pkt, &hdr).ok()?;
        Some((hdr, range, None))
    }

    /// Client: the server answered with a compatible version (RFC 9368 §2.3).
    fn client_switch_version(&mut self, meta: &PacketMeta) -> bool {
        if self.hs.heard_from_peer
            || meta.ptype != PacketType::Initial
            || !self.cfg.versions.contains(meta.version)
            || !compatible(self.version, meta.version)
            || self.cfg.disable_compatible_version
            || Version::from_wire(meta.version).is_none()
        {
            return false;
        }
        let old = self.version;
        self.version = meta.version;
        if self.install_initial_keys().is_err() {
            self.version = old;
            return false;
        }
        true
    }

    /// A Version Negotiation packet (client, before hearing from the server).
    fn on_version_negotiation(&mut self, vn: &VersionNegotiation<'_>) {
        if self.side != Side::Client || self.hs.heard_from_peer {
            return;
        }
        // It must echo our connection IDs and not list the version we use (RFC 9000 §6.2).
        let ours = self.cids.local_cid(0).unwrap_or_default();
        if vn.dcid != ours.as_slice()
            || vn.scid != self.hs.odcid.as_slice()
            || vn.contains(self.version)
        {
            return;
        }
        let retry_with = self
            .cfg
            .versions
            .as_slice()
            .iter()
            .copied()
            .find(|v| vn.contains(*v) && crate::packet::is_supported_version(*v));
        self.close_with(
            CloseSource::VersionNegotiation { retry_with },
            false,
            TransportError::VersionNegotiationError.code(),
            0,
            b"version negotiation",
        );
    }

    /// A Retry packet (client, once, before hearing from the server; RFC 9000 §17.2.5.2).
    fn on_retry(&mut self, r: &RetryHeader<'_>, packet: &[u8]) {
        if self.side != Side::Client || self.hs.heard_from_peer || self.hs.retried {
            return;
        }
        let ours = self.cids.local_cid(0).unwrap_or_default();
        if r.dcid != ours || r.version != self.version || r.scid == self.hs.initial_dcid {
            return;
        }
        let Some(v) = Version::from_wire(r.version) else {
            return;
        };
        let Ok(integrity) = crate::crypto::retry::RetryIntegrity::new(&self.crypto, v) else {
            return;
        };
        let mut scratch = Vec::new();
        let need =
            crate::crypto::retry::RetryIntegrity::<C>::scratch_len(&self.hs.odcid, packet.len());
        if scratch.resize(need, 0u8).is_err() {
            return;
        }
        if integrity
            .verify(&self.hs.odcid, packet, &mut scratch)
            .is_err()
        {
            return;
        }
        if self.set_token(r.token).is_err() {
            return;
        }
        self.hs.retried = true;
        self.hs.retry_scid = Some(r.scid);
        self.hs.initial_dcid = r.scid;
        self.cids.replace_initial_peer_cid(r.scid);
        if let Err(e) = self.install_initial_keys() {
            self.close_on_error(e);
            return;
        }
        // Everything sent so far is sent again under the new keys (packet numbers go on).
        self.drop_loss_space(Space::Initial, true);
        if let Err(e) = self.space_mut(Space::Initial).crypto.requeue_unacked() {
            self.close_on_error(e);
            return;
        }
        if !self.keys.has_1rtt_tx() {
            self.drop_loss_space(Space::Application, true);
        }
    }
}
