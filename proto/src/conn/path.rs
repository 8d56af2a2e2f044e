//! Network paths (RFC 9000 §8, §9): address validation with PATH_CHALLENGE/PATH_RESPONSE, the
//! anti-amplification limit, the peer's migrations (including NAT rebinding) and our own.

use crate::crypto::{Crypto, Side};
use crate::error::{Error, TransportError};
use crate::frame::PATH_DATA_LEN;
use crate::recovery::cc::{CcConfig, Controller};

use super::events::Event;
use super::{internal, Addr, Connection, Result};

/// The anti-amplification factor (RFC 9000 §8.1).
const AMPLIFICATION_FACTOR: u64 = 3;

/// One path: a pair of addresses and what we know about it.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) local: Addr,
    pub(crate) remote: Addr,
    /// The peer proved it receives at `remote` (or we are the client and the peer is the
    /// server we chose).
    pub(crate) validated: bool,
    pub(crate) bytes_rx: u64,
    pub(crate) bytes_tx: u64,
    /// The largest datagram we send on this path.
    pub(crate) mtu: u64,
    /// Data of our outstanding PATH_CHALLENGE.
    pub(crate) challenge: Option<[u8; PATH_DATA_LEN]>,
    /// A PATH_CHALLENGE is due (first send or resend).
    pub(crate) challenge_pending: bool,
    /// When to send the challenge again.
    pub(crate) challenge_resend: Option<u64>,
    /// When validation is given up.
    pub(crate) challenge_deadline: Option<u64>,
    /// A PATH_RESPONSE to send on this path.
    pub(crate) response: Option<[u8; PATH_DATA_LEN]>,
    /// Sequence number of the peer connection ID to use on this path (probing paths).
    pub(crate) dcid_seq: Option<u64>,
    /// ECN validation failed on this path: stop marking (RFC 9000 §13.4.2).
    pub(crate) ecn_failed: bool,
}

impl Path {
    pub(crate) fn new(local: Addr, remote: Addr, mtu: u64, validated: bool) -> Self {
        Self {
            local,
            remote,
            validated,
            bytes_rx: 0,
            bytes_tx: 0,
            mtu,
            challenge: None,
            challenge_pending: false,
            challenge_resend: None,
            challenge_deadline: None,
            response: None,
            dcid_seq: None,
            ecn_failed: false,
        }
    }

    /// Bytes we may still send before the peer's address is validated: three times what we
    /// received on the path, minus what we sent (unlimited once validated).
    pub(crate) fn amplification_allowance(&self) -> u64 {
        if self.validated {
            return u64::MAX;
        }
        self.bytes_rx
            .saturating_mul(AMPLIFICATION_FACTOR)
            .saturating_sub(self.bytes_tx)
    }

    fn matches(&self, local: Addr, remote: Addr) -> bool {
        self.local == local && self.remote == remote
    }

    /// True when something must be sent on this path for validation.
    pub(crate) fn has_probe_frames(&self) -> bool {
        self.challenge_pending || self.response.is_some()
    }
}

/// The paths of a connection.
#[derive(Debug)]
pub(crate) struct Paths {
    pub(crate) active: Path,
    /// A path being validated that is not (yet) active: our migration, or a path the peer
    /// probes.
    pub(crate) probe: Option<Path>,
    /// Server: the previous path while the peer's new address is being validated.
    pub(crate) fallback: Option<Path>,
    peer_max_udp: u64,
}

impl Paths {
    pub(crate) fn new(local: Addr, remote: Addr, mtu: u64, validated: bool) -> Self {
        Self {
            active: Path::new(local, remote, mtu, validated),
            probe: None,
            fallback: None,
            peer_max_udp: u64::MAX,
        }
    }

    pub(crate) fn set_peer_max_udp_payload(&mut self, max: u64) {
        self.peer_max_udp = max.max(1200);
        self.active.mtu = self.active.mtu.min(self.peer_max_udp);
    }

    /// The path with these addresses, if known.
    pub(crate) fn find_mut(&mut self, local: Addr, remote: Addr) -> Option<&mut Path> {
        if self.active.matches(local, remote) {
            return Some(&mut self.active);
        }
        if let Some(p) = self.probe.as_mut().filter(|p| p.matches(local, remote)) {
            return Some(p);
        }
        self.fallback.as_mut().filter(|p| p.matches(local, remote))
    }

    /// True when the addresses are the active path's.
    pub(crate) fn is_active(&self, local: Addr, remote: Addr) -> bool {
        self.active.matches(local, remote)
    }
}

/// The address of `pa` in the family of `remote` (RFC 9000 §9.6.1), if the server gave one.
pub(crate) fn preferred_for(
    pa: &crate::transport_params::PreferredAddress,
    remote: Addr,
) -> Option<Addr> {
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match remote {
        Addr::V4(_) if pa.ipv4_port != 0 && pa.ipv4 != [0; 4] => {
            Some(Addr::new(IpAddr::V4(Ipv4Addr::from(pa.ipv4)), pa.ipv4_port))
        }
        Addr::V6(_) if pa.ipv6_port != 0 && pa.ipv6 != [0; 16] => {
            Some(Addr::new(IpAddr::V6(Ipv6Addr::from(pa.ipv6)), pa.ipv6_port))
        }
        _ => None,
    }
}

/// Only the port changed: a NAT rebinding, which keeps the congestion state (RFC 9000 §9.4).
fn same_host(a: Addr, b: Addr) -> bool {
    a.ip() == b.ip()
}

impl<C: Crypto> Connection<C> {
    fn new_challenge(&mut self) -> [u8; PATH_DATA_LEN] {
        let mut d = [0u8; PATH_DATA_LEN];
        self.rng.fill(&self.crypto, &mut d);
        d
    }

    /// Path validation time: three times the larger of the PTO and the PTO with the initial
    /// RTT (RFC 9000 §8.2.4).
    fn validation_timeout(&self) -> u64 {
        let rtt = self.loss.rtt();
        let initial = crate::recovery::rtt::RttEstimator::new(rtt.initial()).pto_base();
        rtt.pto_duration(false, 0).max(initial).saturating_mul(3)
    }

    fn start_challenge(&mut self, probe: bool) {
        let data = self.new_challenge();
        let deadline = self.now.saturating_add(self.validation_timeout());
        let p = if probe {
            match self.paths.probe.as_mut() {
                Some(p) => p,
                None => return,
            }
        } else {
            &mut self.paths.active
        };
        p.challenge = Some(data);
        p.challenge_pending = true;
        p.challenge_resend = None;
        p.challenge_deadline = Some(deadline);
    }

    /// Migrates to a new local address (`QUIC_SOCKOPT_CONNECTION_MIGRATION`, client): the new
    /// path is probed with PATH_CHALLENGE under a fresh connection ID, and becomes the active
    /// path when the PATH_RESPONSE arrives ([`Event::Migration`] with `local`).
    pub fn migrate(&mut self, new_local: Addr) -> Result<()> {
        if !self.close.is_open() {
            return Err(internal("connection closed"));
        }
        if self.side != Side::Client {
            return Err(internal("only clients migrate"));
        }
        if !self.hs.confirmed {
            return Err(internal("migration before the handshake is confirmed"));
        }
        if self.hs.peer_tp.is_some_and(|t| t.disable_active_migration) {
            return Err(internal("the peer disabled active migration"));
        }
        if new_local == self.paths.active.local {
            return Ok(());
        }
        let seq = self
            .cids
            .reserve_spare_peer_cid()
            .ok_or(internal("no spare connection ID for the new path"))?;
        if let Some(old) = self.paths.probe.take() {
            if let Some(s) = old.dcid_seq {
                self.cids.retire_peer_cid(s);
            }
        }
        let mut p = Path::new(new_local, self.paths.active.remote, 1200, true);
        p.dcid_seq = Some(seq);
        self.paths.probe = Some(p);
        self.start_challenge(true);
        Ok(())
    }

    /// Server: advertises `addr` in the preferred_address transport parameter, with a fresh
    /// connection ID (`QUIC_SOCKOPT_CONNECTION_MIGRATION` on a server before the handshake).
    /// Call before [`Connection::local_transport_params_ext`].
    pub fn set_preferred_address(&mut self, addr: Addr) -> Result<()> {
        use crate::transport_params::PreferredAddress;
        if self.side != Side::Server || self.hs.complete {
            return Err(internal(
                "only a server sets a preferred address, before the handshake",
            ));
        }
        let (cid, token) = match self.hs.local_tp.preferred_address {
            Some(p) => (p.cid, p.reset_token),
            None => {
                let (seq, cid, token) = self.cids.new_local(&self.crypto, &mut self.rng, false)?;
                self.emit(Event::LocalCidIssued { seq, cid });
                (cid, token)
            }
        };
        let mut pa = PreferredAddress {
            ipv4: [0; 4],
            ipv4_port: 0,
            ipv6: [0; 16],
            ipv6_port: 0,
            cid,
            reset_token: token,
        };
        match addr {
            Addr::V4(a) => {
                pa.ipv4 = a.ip().octets();
                pa.ipv4_port = a.port();
            }
            Addr::V6(a) => {
                pa.ipv6 = a.ip().octets();
                pa.ipv6_port = a.port();
            }
        }
        self.hs.local_tp.preferred_address = Some(pa);
        Ok(())
    }

    /// Client, handshake confirmed: probe the server's preferred address with its connection
    /// ID and move there once it answers (RFC 9000 §9.6).
    pub(crate) fn migrate_to_preferred(&mut self, remote: Addr) {
        if !self.cids.reserve_peer_cid(1) {
            return;
        }
        let mut p = Path::new(self.paths.active.local, remote, 1200, true);
        p.dcid_seq = Some(1);
        self.paths.probe = Some(p);
        self.start_challenge(true);
    }

    /// A PATH_CHALLENGE arrived on the path `(local, remote)`: answer on the same path.
    pub(crate) fn on_path_challenge(
        &mut self,
        local: Addr,
        remote: Addr,
        data: [u8; PATH_DATA_LEN],
    ) {
        if let Some(p) = self.paths.find_mut(local, remote) {
            p.response = Some(data);
            return;
        }
        // A path the peer probes: remember it to answer there.
        let mut p = Path::new(local, remote, 1200, false);
        p.response = Some(data);
        if let Some(old) = self.paths.probe.take() {
            if let Some(s) = old.dcid_seq {
                self.cids.retire_peer_cid(s);
            }
        }
        self.paths.probe = Some(p);
    }

    /// A PATH_RESPONSE arrived: a path whose challenge it answers is validated.
    pub(crate) fn on_path_response(&mut self, data: [u8; PATH_DATA_LEN]) {
        if self.paths.active.challenge == Some(data) {
            let p = &mut self.paths.active;
            p.validated = true;
            p.challenge = None;
            p.challenge_pending = false;
            p.challenge_deadline = None;
            p.challenge_resend = None;
            self.paths.fallback = None;
            return;
        }
        let Some(probe) = self.paths.probe.as_ref() else {
            return;
        };
        if probe.challenge != Some(data) {
            return;
        }
        // Our migration succeeded: switch paths and connection IDs.
        let Some(mut p) = self.paths.probe.take() else {
            return;
        };
        p.validated = true;
        p.challenge = None;
        p.challenge_pending = false;
        p.challenge_deadline = None;
        p.challenge_resend = None;
        let old = core::mem::replace(&mut self.paths.active, p);
        if let Some(seq) = self.paths.active.dcid_seq.take() {
            self.cids.switch_peer_cid(seq);
        }
        if !same_host(old.local, self.paths.active.local) {
            self.reset_congestion();
        }
        self.pmtud.on_path_change(self.now, self.paths.active.mtu);
        self.emit(Event::Migration { local: true });
    }

    /// A non-probing packet with the highest packet number so far came from a new address of
    /// the peer (RFC 9000 §9.3): send there from now on and validate the new address.
    pub(crate) fn on_peer_migrated(&mut self, local: Addr, remote: Addr) {
        let mut p = match self.paths.probe.take() {
            Some(p) if p.matches(local, remote) => p,
            other => {
                self.paths.probe = other;
                Path::new(local, remote, 1200, false)
            }
        };
        let nat_rebinding = same_host(p.remote, self.paths.active.remote);
        p.mtu = if nat_rebinding {
            self.paths.active.mtu
        } else {
            1200
        };
        let old = core::mem::replace(&mut self.paths.active, p);
        if old.validated {
            self.paths.fallback = Some(old);
        }
        if !nat_rebinding {
            self.reset_congestion();
            self.pmtud.on_path_change(self.now, self.paths.active.mtu);
        }
        // Use a fresh connection ID towards the new address when the peer gave us one.
        if let Some(seq) = self.cids.reserve_spare_peer_cid() {
            self.cids.switch_peer_cid(seq);
        }
        if !self.paths.active.validated {
            self.start_challenge(false);
        }
        self.emit(Event::Migration { local: false });
    }

    fn reset_congestion(&mut self) {
        let mds = self.paths.active.mtu;
        let mut cc = Controller::new(
            self.cfg.congestion,
            CcConfig {
                max_datagram_size: mds,
                initial_window: None,
                hystart: self.cfg.hystart,
            },
        );
        // Bytes in flight stay with the detector; the new controller starts from what is
        // outstanding so that acknowledgments balance.
        let in_flight = self.loss.bytes_in_flight();
        if in_flight > 0 {
            use crate::recovery::cc::CongestionControl;
            cc.on_packet_sent(self.now, in_flight);
        }
        *self.cc = cc;
        self.pacer.set_max_datagram_size(mds);
    }

    /// The earliest path timer.
    pub(crate) fn path_timer(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        for p in [Some(&self.paths.active), self.paths.probe.as_ref()]
            .into_iter()
            .flatten()
        {
            for x in [p.challenge_resend, p.challenge_deadline]
                .into_iter()
                .flatten()
            {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        }
        t
    }

    /// Resends challenges and gives up on paths that did not validate.
    pub(crate) fn path_on_timeout(&mut self, now: u64) -> core::result::Result<(), Error> {
        let failed_probe = self
            .paths
            .probe
            .as_ref()
            .is_some_and(|p| p.challenge_deadline.is_some_and(|d| now >= d));
        if failed_probe {
            if let Some(p) = self.paths.probe.take() {
                if let Some(s) = p.dcid_seq {
                    self.cids.retire_peer_cid(s);
                }
            }
        }
        let active_failed = self
            .paths
            .active
            .challenge_deadline
            .is_some_and(|d| now >= d);
        if active_failed {
            match self.paths.fallback.take() {
                Some(old) => {
                    self.paths.active = old;
                    self.emit(Event::Migration { local: false });
                }
                None => {
                    return Err(Error::new(
                        TransportError::NoViablePath,
                        "path validation failed",
                    ));
                }
            }
        }
        let paths = &mut *self.paths;
        for p in [Some(&mut paths.active), paths.probe.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.challenge.is_some() && p.challenge_resend.is_some_and(|t| now >= t) {
                p.challenge_pending = true;
                p.challenge_resend = None;
            }
        }
        Ok(())
    }

    /// A PATH_CHALLENGE was sent on a path: schedule its retransmission.
    pub(crate) fn on_challenge_sent(&mut self, probe: bool) {
        let again = self
            .now
            .saturating_add(self.loss.rtt().pto_duration(false, 0));
        let p = if probe {
            match self.paths.probe.as_mut() {
                Some(p) => p,
                None => return,
            }
        } else {
            &mut self.paths.active
        };
        p.challenge_pending = false;
        p.challenge_resend = Some(again);
    }
}
