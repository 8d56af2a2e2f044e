//! Per-connection capture of the raw TLS 1.3 traffic secrets.
//!
//! rustls's QUIC API hands out derived packet keys only; the raw secrets the kernel needs are
//! visible through the `KeyLog` hook alone. Each session installs its own [`SecretSink`] in a
//! private copy of the rustls config, so secrets of concurrent connections never mix.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use rustls::KeyLog;
use zeroize::Zeroizing;

use super::types::Level;

/// Which traffic secret a key log label names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SecretKind {
    pub(crate) level: Level,
    /// The secret protects what the client sends.
    pub(crate) client: bool,
}

impl SecretKind {
    pub(crate) fn from_label(label: &str) -> Option<Self> {
        let (level, client) = match label {
            "CLIENT_EARLY_TRAFFIC_SECRET" => (Level::Early, true),
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => (Level::Handshake, true),
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => (Level::Handshake, false),
            "CLIENT_TRAFFIC_SECRET_0" => (Level::App, true),
            "SERVER_TRAFFIC_SECRET_0" => (Level::App, false),
            _ => return None,
        };
        Some(Self { level, client })
    }
}

/// Secrets logged by rustls for one connection, in the order rustls derived them.
#[derive(Default)]
pub(crate) struct SecretSink {
    logged: Mutex<Vec<(SecretKind, Zeroizing<Vec<u8>>)>>,
}

impl SecretSink {
    fn lock(&self) -> MutexGuard<'_, Vec<(SecretKind, Zeroizing<Vec<u8>>)>> {
        // A poisoned lock only means another thread panicked mid-push; the data is still sound.
        self.logged.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes everything logged since the last call.
    pub(crate) fn take(&self) -> Vec<(SecretKind, Zeroizing<Vec<u8>>)> {
        std::mem::take(&mut *self.lock())
    }
}

impl KeyLog for SecretSink {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        if let Some(kind) = SecretKind::from_label(label) {
            self.lock().push((kind, Zeroizing::new(secret.to_vec())));
        }
    }

    fn will_log(&self, label: &str) -> bool {
        SecretKind::from_label(label).is_some()
    }
}

impl fmt::Debug for SecretSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSink")
            .field("pending", &self.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let k = SecretKind::from_label("SERVER_HANDSHAKE_TRAFFIC_SECRET").unwrap();
        assert_eq!(k.level, Level::Handshake);
        assert!(!k.client);
        assert!(SecretKind::from_label("EXPORTER_SECRET").is_none());
        let sink = SecretSink::default();
        assert!(!sink.will_log("EXPORTER_SECRET"));
        sink.log("EXPORTER_SECRET", &[0; 32], &[1; 32]);
        sink.log("CLIENT_TRAFFIC_SECRET_0", &[0; 32], &[2; 32]);
        let got = sink.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.level, Level::App);
        assert_eq!(&got[0].1[..], &[2; 32]);
        assert!(sink.take().is_empty());
    }
}
