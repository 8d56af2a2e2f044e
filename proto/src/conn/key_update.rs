//! 1-RTT keys and key update (RFC 9001 §6).
//!
//! The send key and the receive key each have a key phase. To initiate an update we move the
//! send key to the next generation and flip its phase; the peer answers in the new phase. A
//! packet whose phase differs from the receive phase is opened with the precomputed next
//! receive key, unless its packet number is below the first one received in the current
//! phase: then it is a reordered packet of the previous phase, opened with the previous key,
//! which is kept for three PTOs after the switch. When the peer moves to a new phase first, we
//! follow with our send key at once. A new update is only started once a packet sent in the
//! current phase has been acknowledged.

use crate::crypto::{Crypto, CryptoError, DirectionalKeys, LimitStatus, PacketKey};
use crate::error::{Error, TransportError};
use crate::frame::FrameType;

/// Which receive key opens a 1-RTT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RxKey {
    /// The current key.
    Current,
    /// The previous generation (a reordered packet).
    Previous,
    /// The next generation (the peer updated).
    Next,
}

/// The 1-RTT keys of a connection.
pub(crate) struct AppKeys<C: Crypto> {
    pub(crate) tx: Option<DirectionalKeys<C>>,
    pub(crate) rx: Option<DirectionalKeys<C>>,
    rx_prev: Option<PacketKey<C>>,
    rx_prev_until: Option<u64>,
    rx_next: Option<PacketKey<C>>,
    /// Phase of the send key.
    tx_phase: bool,
    /// Phase of the current receive key.
    rx_phase: bool,
    /// First packet number sent with the current send key.
    first_tx_pn: Option<u64>,
    /// A packet sent with the current send key was acknowledged.
    tx_phase_acked: bool,
    /// First packet number received with the current receive key.
    first_rx_pn: Option<u64>,
    /// The peer may start the next update: we sent an ACK covering a packet of its current
    /// phase, or it has not updated yet (RFC 9001 §6.1).
    rx_phase_acked: bool,
    /// Key updates completed (both directions moved).
    pub(crate) updates: u64,
}

impl<C: Crypto> AppKeys<C> {
    pub(crate) fn new() -> Self {
        Self {
            tx: None,
            rx: None,
            rx_prev: None,
            rx_prev_until: None,
            rx_next: None,
            tx_phase: false,
            rx_phase: false,
            first_tx_pn: None,
            tx_phase_acked: false,
            first_rx_pn: None,
            rx_phase_acked: false,
            updates: 0,
        }
    }

    /// Installs the send key (phase 0).
    pub(crate) fn install_tx(&mut self, keys: DirectionalKeys<C>) {
        self.tx = Some(keys);
        self.tx_phase = false;
        self.first_tx_pn = None;
        self.tx_phase_acked = false;
    }

    /// Installs the receive key (phase 0) and derives the next one.
    pub(crate) fn install_rx(
        &mut self,
        crypto: &C,
        keys: DirectionalKeys<C>,
    ) -> Result<(), CryptoError> {
        self.rx_next = Some(keys.packet.next(crypto)?);
        self.rx = Some(keys);
        self.rx_phase = false;
        self.first_rx_pn = None;
        // The peer's first update only needs a confirmed handshake; only the subsequent ones
        // wait for an acknowledgment (RFC 9001 §6.1).
        self.rx_phase_acked = true;
        Ok(())
    }

    /// The key phase bit to send.
    pub(crate) fn tx_phase(&self) -> bool {
        self.tx_phase
    }

    /// True while our update waits for the peer to answer.
    pub(crate) fn update_in_progress(&self) -> bool {
        self.tx_phase != self.rx_phase
    }

    /// Picks the receive key for a packet with `key_phase` and packet number `pn`.
    pub(crate) fn select_rx(&self, key_phase: bool, pn: u64) -> Option<RxKey> {
        if key_phase == self.rx_phase {
            return Some(RxKey::Current);
        }
        if self.first_rx_pn.is_some_and(|f| pn < f) {
            return self.rx_prev.as_ref().map(|_| RxKey::Previous);
        }
        self.rx_next.as_ref().map(|_| RxKey::Next)
    }

    /// The packet key for `which`.
    pub(crate) fn rx_packet_key(&self, which: RxKey) -> Option<&PacketKey<C>> {
        match which {
            RxKey::Current => self.rx.as_ref().map(|k| &k.packet),
            RxKey::Previous => self.rx_prev.as_ref(),
            RxKey::Next => self.rx_next.as_ref(),
        }
    }

    /// A packet `pn` was opened with `which`. Returns true when a key update completed (both
    /// directions now use the new phase), so the owner reports it. `prev_lifetime` is how long
    /// the previous receive key is kept (three PTOs).
    ///
    /// A peer that starts another update before we acknowledged any packet of the phase its
    /// last update began updated twice without waiting for confirmation: KEY_UPDATE_ERROR
    /// (RFC 9001 §6.1, §6.5).
    pub(crate) fn on_rx(
        &mut self,
        crypto: &C,
        which: RxKey,
        pn: u64,
        now: u64,
        prev_lifetime: u64,
    ) -> Result<bool, Error> {
        let failed = |_| super::internal("key update failed");
        match which {
            RxKey::Current => {
                if crate::none_or(self.first_rx_pn, |f| pn < f) {
                    self.first_rx_pn = Some(pn);
                }
                Ok(false)
            }
            RxKey::Previous => Ok(false),
            RxKey::Next => {
                if !self.update_in_progress() && !self.rx_phase_acked {
                    return Err(Error::new(
                        TransportError::KeyUpdateError,
                        "key update before its previous phase was acknowledged",
                    ));
                }
                let (Some(rx), Some(next)) = (self.rx.as_mut(), self.rx_next.take()) else {
                    return Ok(false);
                };
                let prev = core::mem::replace(&mut rx.packet, next);
                self.rx_prev = Some(prev);
                self.rx_prev_until = Some(now.saturating_add(prev_lifetime));
                self.rx_phase = !self.rx_phase;
                self.first_rx_pn = Some(pn);
                self.rx_phase_acked = false;
                self.rx_next = Some(rx.packet.next(crypto).map_err(failed)?);
                if self.tx_phase != self.rx_phase {
                    // The peer initiated: follow with our send key.
                    self.step_tx(crypto).map_err(failed)?;
                }
                self.updates = self.updates.saturating_add(1);
                Ok(true)
            }
        }
    }

    fn step_tx(&mut self, crypto: &C) -> Result<(), CryptoError> {
        if let Some(tx) = self.tx.as_mut() {
            tx.packet = tx.packet.next(crypto)?;
            self.tx_phase = !self.tx_phase;
            self.first_tx_pn = None;
            self.tx_phase_acked = false;
        }
        Ok(())
    }

    /// True when a new key update may start now.
    pub(crate) fn can_initiate(&self) -> bool {
        self.tx.is_some()
            && self.rx.is_some()
            && !self.update_in_progress()
            && self.tx_phase_acked
            && self.rx_next.is_some()
    }

    /// Starts a key update: the next packets are sent in the new phase.
    pub(crate) fn initiate(&mut self, crypto: &C) -> Result<(), CryptoError> {
        self.step_tx(crypto)
    }

    /// A 1-RTT packet `pn` was sent with the current send key.
    pub(crate) fn on_sent(&mut self, pn: u64) {
        if self.first_tx_pn.is_none() {
            self.first_tx_pn = Some(pn);
        }
    }

    /// We sent an ACK frame whose largest acknowledged packet is `largest`.
    pub(crate) fn on_ack_sent(&mut self, largest: u64) {
        if self.first_rx_pn.is_some_and(|f| largest >= f) {
            self.rx_phase_acked = true;
        }
    }

    /// True when a packet opened with `which` is protected with older keys than our current
    /// send keys: a reordered packet of the previous phase, or any packet of the peer's phase
    /// while our own update waits for its answer.
    pub(crate) fn is_older_than_tx(&self, which: RxKey) -> bool {
        match which {
            RxKey::Previous => true,
            RxKey::Current => self.update_in_progress(),
            RxKey::Next => false,
        }
    }

    /// An ACK frame with largest acknowledged `largest` came in a packet protected with older
    /// keys than our send keys: it must not acknowledge a packet sent with the newer keys
    /// (RFC 9001 §6.2).
    pub(crate) fn check_ack_in_old_phase(&self, largest: u64) -> Result<(), Error> {
        if self.first_tx_pn.is_some_and(|f| largest >= f) {
            return Err(Error::frame(
                TransportError::KeyUpdateError,
                FrameType::ACK.0,
                "packet with old keys acknowledges a packet with newer keys",
            ));
        }
        Ok(())
    }

    /// A 1-RTT packet `pn` was acknowledged.
    pub(crate) fn on_acked(&mut self, pn: u64) {
        if self.first_tx_pn.is_some_and(|f| pn >= f) {
            self.tx_phase_acked = true;
        }
    }

    /// True when the send key nears its confidentiality limit: update now.
    pub(crate) fn needs_update(&self) -> bool {
        self.tx
            .as_ref()
            .is_some_and(|t| t.packet.usage().status() != LimitStatus::Ok)
    }

    /// When the previous receive key is due to be dropped.
    pub(crate) fn timer(&self) -> Option<u64> {
        self.rx_prev_until
    }

    /// Drops the previous receive key once its time is up.
    pub(crate) fn on_timeout(&mut self, now: u64) {
        if self.rx_prev_until.is_some_and(|t| now >= t) {
            self.rx_prev = None;
            self.rx_prev_until = None;
        }
    }
}

impl<C: Crypto> core::fmt::Debug for AppKeys<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppKeys")
            .field("tx", &self.tx.is_some())
            .field("rx", &self.rx.is_some())
            .field("tx_phase", &self.tx_phase)
            .field("rx_phase", &self.rx_phase)
            .field("updates", &self.updates)
            .field("first_rx_pn", &self.first_rx_pn)
            .field("first_tx_pn", &self.first_tx_pn)
            .field("acked", &self.tx_phase_acked)
            .field("prev", &self.rx_prev.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: Crypto> super::Connection<C> {
    /// Starts a 1-RTT key update (`QUIC_SOCKOPT_KEY_UPDATE`). Fails while the handshake is
    /// not confirmed, the previous update is not finished (no packet of the current phase
    /// acknowledged yet), or 1-RTT packets are unprotected (disable_1rtt_encryption); [`super::Event::KeyUpdate`] reports when the peer follows.
    pub fn key_update(&mut self) -> super::Result<()> {
        if !self.close.is_open() {
            return Err(super::internal("connection closed"));
        }
        if !self.hs.confirmed {
            return Err(super::internal(
                "key update before the handshake is confirmed",
            ));
        }
        if self.hs.plain_1rtt {
            return Err(super::internal(
                "no 1-RTT keys to update: disable_1rtt_encryption",
            ));
        }
        if !self.keys.app.can_initiate() {
            return Err(super::internal("previous key update not finished"));
        }
        self.keys
            .app
            .initiate(&self.crypto)
            .map_err(|_| super::internal("key update failed"))?;
        // Make sure a packet in the new phase goes out.
        self.space_mut(crate::recovery::Space::Application).ping = true;
        Ok(())
    }
}
