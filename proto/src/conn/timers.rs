//! The connection's deadlines: one [`Connection::poll_timeout`] for the owner's timer, and
//! [`Connection::on_timeout`] to act on whatever is due.

use quic_mem::Vec;

use crate::crypto::Crypto;
use crate::recovery::loss::Timeout;
use crate::recovery::Space;

use super::Connection;

/// Timer state that does not belong to a sub-module.
#[derive(Debug, Default, Clone)]
pub(crate) struct Timers {
    /// When the idle period started (last packet received, or first ack-eliciting packet
    /// sent after it).
    pub(crate) idle_start: u64,
    /// An ack-eliciting packet was sent since the last packet was received.
    pub(crate) ae_sent_since_rx: bool,
    /// When the last ack-eliciting packet was sent.
    pub(crate) last_ae_sent: Option<u64>,
    /// Sending waits for the pacer until then.
    pub(crate) pacing: Option<u64>,
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl<C: Crypto> Connection<C> {
    fn idle_deadline(&self) -> Option<u64> {
        // Nothing sent or received yet (a client whose ClientHello has not been written, for
        // example while a kernel consumer's handshake request waits for the agent): there is
        // no connection to time out; the first packet starts the timer.
        if self.stats.packets_sent == 0 && self.stats.datagrams_received == 0 {
            return None;
        }
        let t = self.idle_timeout();
        (t > 0).then(|| self.timers.idle_start.saturating_add(t))
    }

    fn keepalive_deadline(&self) -> Option<u64> {
        let iv = self.cfg.keepalive_interval;
        if iv == 0 || !self.hs.confirmed {
            return None;
        }
        let last = self.timers.last_ae_sent.unwrap_or(self.timers.idle_start);
        Some(last.max(self.timers.idle_start).saturating_add(iv))
    }

    /// When [`Connection::on_timeout`] should be called next, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.close.is_finished() {
            return None;
        }
        if !self.close.is_open() {
            return self.close.timer();
        }
        let mut t = self.loss.timer();
        t = earliest(t, self.idle_deadline());
        for s in Space::ALL {
            // Only deadlines we can act on: an ACK needs a packet type that carries one.
            if self.can_send_ack(s) {
                t = earliest(t, self.space(s).received.ack_deadline());
            }
        }
        t = earliest(t, self.keys.app.timer());
        t = earliest(t, self.path_timer());
        t = earliest(t, self.keepalive_deadline());
        t = earliest(t, self.pmtud.timer());
        t = earliest(t, self.timers.pacing);
        t
    }

    /// Handles every timer due at `now`.
    pub fn on_timeout(&mut self, now: u64) {
        self.now = now.max(self.now);
        let now = self.now;
        if !self.close.is_open() {
            self.close_on_timeout(now);
            return;
        }
        if self.idle_deadline().is_some_and(|d| now >= d) {
            self.on_idle_timeout();
            return;
        }
        if self.timers.pacing.is_some_and(|t| now >= t) {
            self.timers.pacing = None;
        }
        self.keys.app.on_timeout(now);
        if let Err(e) = self.path_on_timeout(now) {
            self.close_on_error(e);
            return;
        }
        if self.keepalive_deadline().is_some_and(|d| now >= d) {
            self.space_mut(Space::Application).ping = true;
            self.timers.last_ae_sent = Some(now);
        }
        self.pmtud.on_timeout(now);
        self.loss_on_timeout(now);
    }

    fn loss_on_timeout(&mut self, now: u64) {
        if crate::none_or(self.loss.timer(), |t| now < t) {
            return;
        }
        let path = self.path_state();
        let mut handed = Vec::new();
        let mut failed = false;
        let action = self.loss.on_timeout(now, &path, &mut *self.cc, |s, f, p| {
            if handed.push((s, f, p)).is_err() {
                failed = true;
            }
        });
        if failed {
            self.close_on_error(super::oom(quic_mem::AllocError));
            return;
        }
        for (s, f, p) in handed.iter_mut() {
            if let Err(e) = self.on_packet_fate(*s, *f, p) {
                self.close_on_error(e);
                return;
            }
        }
        match action {
            Timeout::Probe { space } => self.arm_probe(space, 2),
            Timeout::AntiDeadlock { space } => self.arm_probe(space, 1),
            Timeout::Lost { .. } | Timeout::NotDue => {}
        }
    }

    /// PTO: send `count` ack-eliciting packets in `space`, retransmitting its unacknowledged
    /// CRYPTO data (RFC 9002 §6.2.4).
    fn arm_probe(&mut self, space: Space, count: u8) {
        let usable = |c: &Self, s: Space| !c.space(s).discarded && c.keys.can_send(s);
        let target = if usable(self, space) {
            Some(space)
        } else {
            // Probe in a space we can still send in.
            [Space::Handshake, Space::Initial, Space::Application]
                .into_iter()
                .find(|s| usable(self, *s))
        };
        let Some(space) = target else {
            return;
        };
        let sp = self.space_mut(space);
        sp.probes = sp.probes.max(count);
        if let Err(e) = sp.crypto.requeue_unacked() {
            self.close_on_error(e);
        }
    }
}
