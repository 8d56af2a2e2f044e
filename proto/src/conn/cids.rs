//! Connection IDs (RFC 9000 §5.1): the IDs we issue (NEW_CONNECTION_ID, each with a stateless
//! reset token derived from the endpoint's key) and the peer's IDs we may use
//! (RETIRE_CONNECTION_ID), within the active_connection_id_limit of each side.

use quic_mem::Vec;

use crate::cid::{ConnectionId, ResetToken, MAX_CID_LEN};
use crate::crypto::reset::StatelessResetKey;
use crate::crypto::Crypto;
use crate::error::{Error, TransportError};
use crate::frame::{FrameType, NewConnectionId};

use super::events::Event;
use super::rand::Drbg;
use super::{internal, oom, Config, Connection, Result};

#[derive(Debug, Clone, Copy)]
struct LocalCid {
    seq: u64,
    cid: ConnectionId,
    token: ResetToken,
}

#[derive(Debug, Clone, Copy)]
struct PeerCid {
    seq: u64,
    cid: ConnectionId,
    token: Option<ResetToken>,
    /// Set aside for a path being probed.
    reserved: bool,
    /// We sent packets with it (only then is its stateless reset token checked).
    used: bool,
}

/// Connection ID state of a connection.
pub(crate) struct Cids {
    local: Vec<LocalCid>,
    next_local_seq: u64,
    local_retire_prior_to: u64,
    /// NEW_CONNECTION_ID frames to send (sequence numbers).
    new_cid_queue: Vec<u64>,
    /// How many of our IDs the peer keeps (its limit, capped by ours).
    peer_limit: u64,
    reset_key: StatelessResetKey,
    cid_len: usize,
    peer: Vec<PeerCid>,
    active_peer: u64,
    peer_retire_prior_to: u64,
    /// RETIRE_CONNECTION_ID frames to send.
    retire_queue: Vec<u64>,
    /// Peer IDs retired and not yet acknowledged as such (queued or in flight), at most
    /// [`Cids::max_retire_unacked`].
    retire_unacked: Vec<u64>,
    /// More retirements were due than we track: CONNECTION_ID_LIMIT_ERROR (RFC 9000 §5.1.2).
    retire_overflow: bool,
    /// Sequence numbers of peer IDs we retired individually (not by Retire Prior To), so
    /// that a late copy of their NEW_CONNECTION_ID is not taken as new; the most recent
    /// [`MAX_RETIRED_KEPT`].
    retired: Vec<u64>,
    /// Our active_connection_id_limit.
    local_limit: u64,
}

/// Individually retired peer sequence numbers remembered.
const MAX_RETIRED_KEPT: usize = 32;

fn violation(reason: &'static str, ty: FrameType) -> Error {
    Error::frame(TransportError::ProtocolViolation, ty.0, reason)
}

impl Cids {
    pub(crate) fn new<C: Crypto>(
        crypto: &C,
        config: &Config,
        local_cid: ConnectionId,
        _rng: &mut Drbg,
    ) -> Result<Self> {
        let reset_key = StatelessResetKey::new(config.reset_key.0);
        let token = reset_key
            .token(crypto, &local_cid)
            .map_err(|_| internal("cannot derive a stateless reset token"))?;
        let mut local = Vec::new();
        local
            .push(LocalCid {
                seq: 0,
                cid: local_cid,
                token,
            })
            .map_err(oom)?;
        Ok(Self {
            local,
            next_local_seq: 1,
            local_retire_prior_to: 0,
            new_cid_queue: Vec::new(),
            peer_limit: 0,
            reset_key,
            cid_len: local_cid.len(),
            peer: Vec::new(),
            active_peer: 0,
            peer_retire_prior_to: 0,
            retire_queue: Vec::new(),
            retire_unacked: Vec::new(),
            retire_overflow: false,
            retired: Vec::new(),
            local_limit: config.transport_params.active_connection_id_limit.max(2),
        })
    }

    /// The peer's first ID: the client's chosen DCID, or the client's SCID on a server.
    pub(crate) fn set_initial_peer_cid(&mut self, cid: ConnectionId) {
        self.peer.clear();
        let _ = self.peer.push(PeerCid {
            seq: 0,
            cid,
            token: None,
            reserved: false,
            used: true,
        });
        self.active_peer = 0;
    }

    /// Client: the server chose its own ID (its first Initial's SCID, or a Retry's).
    pub(crate) fn replace_initial_peer_cid(&mut self, cid: ConnectionId) {
        if let Some(p) = self.peer.iter_mut().find(|p| p.seq == 0) {
            p.cid = cid;
        }
    }

    pub(crate) fn set_peer_token(&mut self, seq: u64, token: ResetToken) {
        if let Some(p) = self.peer.iter_mut().find(|p| p.seq == seq) {
            p.token = Some(token);
        }
    }

    pub(crate) fn set_peer_limit(&mut self, peer_limit: u64, our_max: u64) {
        self.peer_limit = peer_limit.min(our_max).max(1);
    }

    /// Our ID with sequence number `seq`.
    pub(crate) fn local_cid(&self, seq: u64) -> Option<ConnectionId> {
        self.local.iter().find(|l| l.seq == seq).map(|l| l.cid)
    }

    /// The stateless reset token of our ID `seq`.
    pub(crate) fn local_token(&self, seq: u64) -> Option<ResetToken> {
        self.local.iter().find(|l| l.seq == seq).map(|l| l.token)
    }

    /// Length of the IDs we issue.
    pub(crate) fn local_len(&self) -> usize {
        self.cid_len
    }

    /// True when `dcid` is one of our active IDs.
    pub(crate) fn is_local(&self, dcid: &[u8]) -> bool {
        self.local.iter().any(|l| l.cid.as_slice() == dcid)
    }

    /// The ID we send to.
    pub(crate) fn active_dcid(&self) -> ConnectionId {
        self.peer_cid(self.active_peer).unwrap_or_default()
    }

    /// The peer's ID `seq`.
    pub(crate) fn peer_cid(&self, seq: u64) -> Option<ConnectionId> {
        self.peer.iter().find(|p| p.seq == seq).map(|p| p.cid)
    }

    /// The stateless reset tokens of the peer's IDs we used and did not retire (RFC 9000
    /// §10.3.1).
    pub(crate) fn peer_tokens(&self) -> impl Iterator<Item = &ResetToken> + '_ {
        self.peer
            .iter()
            .filter(|p| p.used || p.reserved)
            .filter_map(|p| p.token.as_ref())
    }

    /// The first NEW_CONNECTION_ID to send, if any.
    pub(crate) fn next_new_cid(&self) -> Option<NewConnectionId> {
        let seq = *self.new_cid_queue.first()?;
        let l = self.local.iter().find(|l| l.seq == seq)?;
        Some(NewConnectionId {
            seq,
            retire_prior_to: self.local_retire_prior_to.min(seq),
            cid: l.cid,
            reset_token: l.token,
        })
    }

    /// The NEW_CONNECTION_ID for `seq` was put in a packet.
    pub(crate) fn pop_new_cid(&mut self) {
        self.new_cid_queue.drain_front(1);
        // Entries for IDs retired meanwhile are skipped.
        while let Some(seq) = self.new_cid_queue.first().copied() {
            if self.local.iter().any(|l| l.seq == seq) {
                break;
            }
            self.new_cid_queue.drain_front(1);
        }
    }

    /// A NEW_CONNECTION_ID frame for `seq` was lost.
    pub(crate) fn on_new_cid_lost(&mut self, seq: u64) -> Result<()> {
        if self.local.iter().any(|l| l.seq == seq) && !self.new_cid_queue.contains(&seq) {
            self.new_cid_queue.push(seq).map_err(oom)?;
        }
        Ok(())
    }

    /// The first RETIRE_CONNECTION_ID to send.
    pub(crate) fn next_retire(&self) -> Option<u64> {
        self.retire_queue.first().copied()
    }

    pub(crate) fn pop_retire(&mut self) {
        self.retire_queue.drain_front(1);
    }

    pub(crate) fn on_retire_lost(&mut self, seq: u64) -> Result<()> {
        if self.retire_unacked.contains(&seq) && !self.retire_queue.contains(&seq) {
            self.retire_queue.push(seq).map_err(oom)?;
        }
        Ok(())
    }

    /// The peer acknowledged our RETIRE_CONNECTION_ID for `seq`.
    pub(crate) fn on_retire_acked(&mut self, seq: u64) {
        self.retire_unacked.retain(|s| *s != seq);
    }

    /// How many retirements we track until acknowledged: RFC 9000 §5.1.2 asks for at least
    /// twice our active_connection_id_limit.
    fn max_retire_unacked(&self) -> usize {
        usize::try_from(self.local_limit.saturating_mul(4))
            .unwrap_or(usize::MAX)
            .max(16)
    }

    /// True (once) when a retirement could not be tracked: the caller closes with
    /// CONNECTION_ID_LIMIT_ERROR.
    pub(crate) fn take_retire_overflow(&mut self) -> bool {
        core::mem::take(&mut self.retire_overflow)
    }

    fn queue_retire(&mut self, seq: u64) {
        if self.retire_unacked.contains(&seq) {
            return;
        }
        if self.retire_unacked.len() >= self.max_retire_unacked() {
            // A peer that keeps retiring IDs (or handing out ones below Retire Prior To)
            // without acknowledging our retirements.
            self.retire_overflow = true;
            return;
        }
        // Without memory the ID stays unretired at the peer; harmless.
        if self.retire_unacked.push(seq).is_ok() && self.retire_queue.push(seq).is_err() {
            self.retire_unacked.retain(|s| *s != seq);
        }
    }

    /// Retires the peer's ID `seq` (RETIRE_CONNECTION_ID).
    pub(crate) fn retire_peer_cid(&mut self, seq: u64) {
        let before = self.peer.len();
        self.peer.retain(|p| p.seq != seq);
        if self.peer.len() != before {
            self.queue_retire(seq);
            if self.retired.len() >= MAX_RETIRED_KEPT {
                self.retired.drain_front(1);
            }
            // Without memory a late duplicate could be taken as new; the limit check
            // still bounds the damage.
            let _ = self.retired.push(seq);
        }
    }

    /// A peer ID not in use nor reserved, set aside for a new path.
    pub(crate) fn reserve_spare_peer_cid(&mut self) -> Option<u64> {
        let active = self.active_peer;
        let p = self
            .peer
            .iter_mut()
            .filter(|p| p.seq != active && !p.reserved)
            .min_by_key(|p| p.seq)?;
        p.reserved = true;
        Some(p.seq)
    }

    /// Starts using the peer's ID `seq`; the one in use before is retired.
    pub(crate) fn switch_peer_cid(&mut self, seq: u64) {
        if seq == self.active_peer || !self.peer.iter().any(|p| p.seq == seq) {
            return;
        }
        let old = self.active_peer;
        self.active_peer = seq;
        if let Some(p) = self.peer.iter_mut().find(|p| p.seq == seq) {
            p.reserved = false;
            p.used = true;
        }
        self.retire_peer_cid(old);
    }

    /// A NEW_CONNECTION_ID frame (RFC 9000 §19.15). Returns true when the ID in use changed
    /// because the peer retired it.
    pub(crate) fn on_new_cid(&mut self, f: &NewConnectionId) -> Result<bool> {
        let ty = FrameType::NEW_CONNECTION_ID;
        if self.peer.iter().any(|p| p.cid.is_empty()) {
            return Err(violation(
                "NEW_CONNECTION_ID with zero-length connection IDs",
                ty,
            ));
        }
        if let Some(p) = self.peer.iter().find(|p| p.seq == f.seq) {
            if p.cid != f.cid || p.token.is_some_and(|t| t != f.reset_token) {
                return Err(violation("NEW_CONNECTION_ID reuses a sequence number", ty));
            }
            return Ok(false);
        }
        if self.peer.iter().any(|p| p.cid == f.cid) {
            return Err(violation("NEW_CONNECTION_ID reuses a connection ID", ty));
        }
        if f.seq < self.peer_retire_prior_to {
            self.queue_retire(f.seq);
            if self.take_retire_overflow() {
                return Err(Error::frame(
                    TransportError::ConnectionIdLimitError,
                    ty.0,
                    "too many connection IDs waiting for retirement",
                ));
            }
            return Ok(false);
        }
        if self.retired.contains(&f.seq) {
            // A late copy of an ID we already retired.
            return Ok(false);
        }
        self.peer
            .push(PeerCid {
                seq: f.seq,
                cid: f.cid,
                token: Some(f.reset_token),
                reserved: false,
                used: false,
            })
            .map_err(oom)?;
        let mut switched = false;
        if f.retire_prior_to > self.peer_retire_prior_to {
            self.peer_retire_prior_to = f.retire_prior_to;
            let rpt = f.retire_prior_to;
            let mut i = 0;
            while i < self.peer.len() {
                let seq = self.peer.get(i).map_or(u64::MAX, |p| p.seq);
                if seq < rpt {
                    self.peer.remove(i);
                    self.queue_retire(seq);
                    if seq == self.active_peer {
                        switched = true;
                    }
                } else {
                    i += 1;
                }
            }
            if switched {
                self.active_peer = self.peer.iter().map(|p| p.seq).min().unwrap_or(0);
                let a = self.active_peer;
                if let Some(p) = self.peer.iter_mut().find(|p| p.seq == a) {
                    p.used = true;
                }
            }
        }
        if self.peer.len() as u64 > self.local_limit {
            return Err(Error::frame(
                TransportError::ConnectionIdLimitError,
                ty.0,
                "too many connection IDs",
            ));
        }
        Ok(switched)
    }

    /// A RETIRE_CONNECTION_ID frame for our ID `seq`, received in a packet sent to
    /// `packet_dcid`. Returns the retired ID.
    pub(crate) fn on_retire(
        &mut self,
        seq: u64,
        packet_dcid: &[u8],
    ) -> Result<Option<ConnectionId>> {
        let ty = FrameType::RETIRE_CONNECTION_ID;
        if seq >= self.next_local_seq {
            return Err(violation("RETIRE_CONNECTION_ID for an ID never issued", ty));
        }
        let Some(i) = self.local.iter().position(|l| l.seq == seq) else {
            return Ok(None);
        };
        let cid = self.local.get(i).map(|l| l.cid).unwrap_or_default();
        if cid.as_slice() == packet_dcid {
            return Err(violation("RETIRE_CONNECTION_ID for the ID in use", ty));
        }
        self.local.remove(i);
        Ok(Some(cid))
    }

    /// Issues IDs until the peer holds as many as it allows. Returns the new ones.
    pub(crate) fn issue<C: Crypto>(
        &mut self,
        crypto: &C,
        rng: &mut Drbg,
        out: &mut Vec<(u64, ConnectionId)>,
    ) -> Result<()> {
        if self.cid_len == 0 || self.peer_limit == 0 {
            return Ok(());
        }
        while self.local_unretired() < self.peer_limit {
            let (seq, cid, _) = self.new_local(crypto, rng, true)?;
            out.push((seq, cid)).map_err(oom)?;
        }
        Ok(())
    }

    /// Makes a new ID of ours (announced with NEW_CONNECTION_ID when `announce`).
    pub(crate) fn new_local<C: Crypto>(
        &mut self,
        crypto: &C,
        rng: &mut Drbg,
        announce: bool,
    ) -> Result<(u64, ConnectionId, ResetToken)> {
        for _ in 0..16 {
            let mut b = [0u8; MAX_CID_LEN];
            let bytes = b
                .get_mut(..self.cid_len)
                .ok_or(internal("bad CID length"))?;
            rng.fill(crypto, bytes);
            let cid = ConnectionId::new(bytes).ok_or(internal("bad CID length"))?;
            if cid.is_empty() || self.is_local(&cid) {
                continue;
            }
            let token = self
                .reset_key
                .token(crypto, &cid)
                .map_err(|_| internal("cannot derive a stateless reset token"))?;
            let seq = self.next_local_seq;
            self.local.push(LocalCid { seq, cid, token }).map_err(oom)?;
            self.next_local_seq += 1;
            if announce {
                self.new_cid_queue.push(seq).map_err(oom)?;
            }
            return Ok((seq, cid, token));
        }
        Err(internal("cannot make a fresh connection ID"))
    }

    /// A peer ID learned outside NEW_CONNECTION_ID (the preferred_address parameter).
    pub(crate) fn add_peer_cid(
        &mut self,
        seq: u64,
        cid: ConnectionId,
        token: ResetToken,
    ) -> Result<()> {
        if self.peer.iter().any(|p| p.seq == seq || p.cid == cid) || self.retired.contains(&seq) {
            return Ok(());
        }
        if seq < self.peer_retire_prior_to {
            // Already retired by a NEW_CONNECTION_ID processed first.
            self.queue_retire(seq);
            return Ok(());
        }
        self.peer
            .push(PeerCid {
                seq,
                cid,
                token: Some(token),
                reserved: false,
                used: false,
            })
            .map_err(oom)
    }

    /// Reserves the peer's ID `seq` for a path being probed.
    pub(crate) fn reserve_peer_cid(&mut self, seq: u64) -> bool {
        match self.peer.iter_mut().find(|p| p.seq == seq) {
            Some(p) => {
                p.reserved = true;
                true
            }
            None => false,
        }
    }

    /// Asks the peer to retire our IDs below `prior_to` (NEW_CONNECTION_ID's Retire Prior To).
    pub(crate) fn retire_local_prior_to(&mut self, prior_to: u64) {
        if prior_to > self.local_retire_prior_to && prior_to <= self.next_local_seq {
            self.local_retire_prior_to = prior_to;
        }
    }

    /// Number of our IDs the peer may still hold beyond the ones below Retire Prior To.
    pub(crate) fn local_unretired(&self) -> u64 {
        self.local
            .iter()
            .filter(|l| l.seq >= self.local_retire_prior_to)
            .count() as u64
    }

    /// (lowest, highest) sequence numbers of our active IDs, and Retire Prior To.
    pub(crate) fn local_info(&self) -> (u64, u64) {
        let lowest = self.local.iter().map(|l| l.seq).min().unwrap_or(0);
        (lowest, self.local_retire_prior_to.max(lowest))
    }

    /// (active, lowest) sequence numbers of the peer's IDs.
    pub(crate) fn peer_info(&self) -> (u64, u64) {
        let lowest = self.peer.iter().map(|p| p.seq).min().unwrap_or(0);
        (self.active_peer, lowest)
    }

    /// Retires the peer's IDs below `prior_to`, switching to `active` (socket API).
    pub(crate) fn set_peer_active(&mut self, active: u64, prior_to: u64) -> bool {
        if !self.peer.iter().any(|p| p.seq == active) || prior_to > active {
            return false;
        }
        self.switch_peer_cid(active);
        let retire: Vec<u64> = {
            let mut v = Vec::new();
            for p in self.peer.iter().filter(|p| p.seq < prior_to) {
                let _ = v.push(p.seq);
            }
            v
        };
        for s in retire.iter() {
            self.retire_peer_cid(*s);
        }
        true
    }

    /// Our IDs (sequence number and ID), for the endpoint's routing table.
    pub(crate) fn local_cids(&self) -> impl Iterator<Item = (u64, ConnectionId)> + '_ {
        self.local.iter().map(|l| (l.seq, l.cid))
    }
}

impl core::fmt::Debug for Cids {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cids")
            .field("local", &self.local.len())
            .field("peer", &self.peer.len())
            .field("active_peer", &self.active_peer)
            .finish_non_exhaustive()
    }
}

impl<C: Crypto> Connection<C> {
    /// Issues connection IDs up to the peer's limit (after the handshake is confirmed).
    pub(crate) fn issue_cids(&mut self) -> Result<()> {
        if !self.hs.confirmed {
            return Ok(());
        }
        let mut fresh = Vec::new();
        self.cids.issue(&self.crypto, &mut self.rng, &mut fresh)?;
        for (seq, cid) in fresh.iter() {
            self.emit(Event::LocalCidIssued {
                seq: *seq,
                cid: *cid,
            });
        }
        Ok(())
    }

    /// Our connection IDs in use (sequence number, ID): route them to this connection.
    pub fn local_cids(&self) -> impl Iterator<Item = (u64, ConnectionId)> + '_ {
        self.cids.local_cids()
    }

    /// The connection ID we send to (the peer's).
    pub fn remote_cid(&self) -> ConnectionId {
        self.cids.active_dcid()
    }

    /// `QUIC_SOCKOPT_CONNECTION_ID` get: `(active, prior_to)` sequence numbers for the
    /// peer's IDs (`dest`) or ours.
    pub fn connection_id_info(&self, dest: bool) -> (u64, u64) {
        if dest {
            self.cids.peer_info()
        } else {
            self.cids.local_info()
        }
    }

    /// `QUIC_SOCKOPT_CONNECTION_ID` set. For the peer's IDs (`dest`): use ID `active` from
    /// now on and retire those below `prior_to` (RETIRE_CONNECTION_ID). For ours: ask the
    /// peer to retire those below `prior_to` (NEW_CONNECTION_ID with Retire Prior To), with
    /// new IDs issued in their place.
    pub fn set_connection_id(&mut self, dest: bool, active: u64, prior_to: u64) -> Result<()> {
        if !self.hs.confirmed {
            return Err(internal("connection IDs change after the handshake"));
        }
        if dest {
            if !self.cids.set_peer_active(active, prior_to) {
                return Err(internal("no such connection ID"));
            }
            let (a, p) = self.cids.peer_info();
            self.emit(Event::ConnectionId {
                dest: true,
                active: a,
                prior_to: p,
            });
            return Ok(());
        }
        self.cids.retire_local_prior_to(prior_to);
        // Replacements carry the new Retire Prior To; the peer retires the old ones.
        self.issue_cids()?;
        let (a, p) = self.cids.local_info();
        self.emit(Event::ConnectionId {
            dest: false,
            active: a,
            prior_to: p,
        });
        Ok(())
    }

    /// A RETIRE_CONNECTION_ID from the peer.
    pub(crate) fn on_retire_cid_frame(&mut self, seq: u64, packet_dcid: &[u8]) -> Result<()> {
        if let Some(cid) = self.cids.on_retire(seq, packet_dcid)? {
            self.emit(Event::LocalCidRetired { seq, cid });
            let (a, p) = self.cids.local_info();
            self.emit(Event::ConnectionId {
                dest: false,
                active: a,
                prior_to: p,
            });
            self.issue_cids()?;
        }
        Ok(())
    }
}
