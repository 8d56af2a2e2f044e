//! Datagram Packetization Layer PMTU Discovery (RFC 8899, as RFC 9000 §14.3 applies it):
//! after the handshake, probe for a larger datagram size with packets of PING and PADDING; an
//! acknowledged probe raises the maximum datagram size, three lost probes of a size lower the
//! search ceiling. Probes are not congestion controlled and their loss is not congestion.

use super::Config;

/// Probes of one size lost before the size is given up.
const MAX_PROBES: u8 = 3;
/// The search stops once the bounds are this close.
const SEARCH_DONE: u64 = 16;

/// DPLPMTUD state of the active path.
#[derive(Debug, Clone)]
pub(crate) struct Pmtud {
    interval: u64,
    /// Largest size confirmed to get through.
    low: u64,
    /// Largest size that might get through.
    high: u64,
    /// The peer's (and our) upper bound.
    max: u64,
    /// Size of the probe in flight.
    in_flight: Option<u64>,
    failures: u8,
    next_probe: Option<u64>,
    /// A probe of this size is due.
    pub(crate) pending: Option<u64>,
}

impl Pmtud {
    pub(crate) fn new(cfg: &Config, mds: u64) -> Self {
        let max = cfg.max_probe_size.max(mds);
        Self {
            interval: cfg.plpmtud_probe_interval,
            low: mds,
            high: max,
            max,
            in_flight: None,
            failures: 0,
            next_probe: None,
            pending: None,
        }
    }

    fn enabled(&self) -> bool {
        self.interval > 0
    }

    pub(crate) fn set_peer_max(&mut self, peer_max: u64) {
        self.max = self.max.min(peer_max.max(1200));
        self.high = self.high.min(self.max);
    }

    /// Probing starts once the handshake is confirmed.
    pub(crate) fn on_confirmed(&mut self, now: u64) {
        if self.enabled() {
            self.next_probe = Some(now);
        }
    }

    /// The path changed: search again from `mds`.
    pub(crate) fn on_path_change(&mut self, now: u64, mds: u64) {
        self.low = mds;
        self.high = self.max;
        self.in_flight = None;
        self.failures = 0;
        self.pending = None;
        if self.enabled() {
            self.next_probe = Some(now);
        }
    }

    pub(crate) fn timer(&self) -> Option<u64> {
        if self.pending.is_some() {
            return None;
        }
        self.next_probe
    }

    fn candidate(&self) -> Option<u64> {
        if self.high <= self.low || self.high - self.low < SEARCH_DONE {
            return None;
        }
        Some(self.low + (self.high - self.low).div_ceil(2))
    }

    pub(crate) fn on_timeout(&mut self, now: u64) {
        if crate::none_or(self.next_probe, |t| now < t) || self.in_flight.is_some() {
            return;
        }
        self.next_probe = None;
        match self.candidate() {
            Some(size) => self.pending = Some(size),
            None => {
                // Search done: look again later, in case the path grew.
                self.high = self.max;
                self.next_probe = Some(now.saturating_add(self.interval.saturating_mul(10)));
            }
        }
    }

    /// A probe of `size` bytes was sent.
    pub(crate) fn on_sent(&mut self, size: u64) {
        self.pending = None;
        self.in_flight = Some(size);
    }

    /// A probe could not be sent now (no 1-RTT keys or room): try later.
    pub(crate) fn postpone(&mut self, now: u64) {
        self.pending = None;
        self.next_probe = Some(now.saturating_add(self.interval));
    }

    /// The probe of `size` was acknowledged: returns the new maximum datagram size.
    pub(crate) fn on_acked(&mut self, now: u64, size: u64) -> Option<u64> {
        if self.in_flight != Some(size) {
            return None;
        }
        self.in_flight = None;
        self.failures = 0;
        self.low = self.low.max(size);
        self.next_probe = Some(now);
        Some(self.low)
    }

    /// The probe of `size` was lost.
    pub(crate) fn on_lost(&mut self, now: u64, size: u64) {
        if self.in_flight != Some(size) {
            return;
        }
        self.in_flight = None;
        self.failures += 1;
        if self.failures >= MAX_PROBES {
            self.failures = 0;
            self.high = size.saturating_sub(1).max(self.low);
        }
        self.next_probe = Some(now.saturating_add(self.interval));
    }
}
