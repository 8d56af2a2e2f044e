//! The packet protection keys a connection holds, per level and direction.

use crate::crypto::{CipherSuite, Crypto, DirectionalKeys, InitialKeys, IntegrityCounter};
use crate::recovery::Space;

use super::key_update::AppKeys;

/// Every key of a connection.
pub(crate) struct Keys<C: Crypto> {
    /// Initial keys (both directions), for the version in use.
    pub(crate) initial: Option<InitialKeys<C>>,
    /// Server after compatible version negotiation: receive keys of the client's original
    /// version, for its Initials sent before it saw ours.
    pub(crate) initial_old_rx: Option<DirectionalKeys<C>>,
    pub(crate) handshake_tx: Option<DirectionalKeys<C>>,
    pub(crate) handshake_rx: Option<DirectionalKeys<C>>,
    pub(crate) early_tx: Option<DirectionalKeys<C>>,
    pub(crate) early_rx: Option<DirectionalKeys<C>>,
    pub(crate) app: AppKeys<C>,
    /// Packets that failed authentication (RFC 9001 §6.6).
    pub(crate) integrity: IntegrityCounter,
}

impl<C: Crypto> Keys<C> {
    pub(crate) fn new() -> Self {
        Self {
            initial: None,
            initial_old_rx: None,
            handshake_tx: None,
            handshake_rx: None,
            early_tx: None,
            early_rx: None,
            app: AppKeys::new(),
            integrity: IntegrityCounter::new(CipherSuite::Aes128Gcm),
        }
    }

    /// True when we can send in `space` (0-RTT counts for the application space).
    pub(crate) fn can_send(&self, space: Space) -> bool {
        match space {
            Space::Initial => self.initial.is_some(),
            Space::Handshake => self.handshake_tx.is_some(),
            Space::Application => self.app.tx.is_some() || self.early_tx.is_some(),
        }
    }

    /// True when we can send 1-RTT packets.
    pub(crate) fn has_1rtt_tx(&self) -> bool {
        self.app.tx.is_some()
    }
}

impl<C: Crypto> core::fmt::Debug for Keys<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keys")
            .field("initial", &self.initial.is_some())
            .field("handshake_tx", &self.handshake_tx.is_some())
            .field("handshake_rx", &self.handshake_rx.is_some())
            .field("early_tx", &self.early_tx.is_some())
            .field("early_rx", &self.early_rx.is_some())
            .field("app", &self.app)
            .finish()
    }
}
