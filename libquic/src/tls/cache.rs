//! Client-side session ticket store, shared across connections.
//!
//! rustls keeps a resumable session as a `Tls13ClientSessionValue`, which it does not let
//! callers encode: its resumption secret is private. So tickets cannot be exported as bytes
//! (as `QUIC_SOCKOPT_SESSION_TICKET` would like); they can be moved between stores in-process
//! as [`SessionTicket`] handles.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;

use super::error::TlsError;
use super::types::Cipher;

/// Tickets kept per server; the oldest is dropped beyond this.
pub const MAX_TICKETS_PER_SERVER: usize = 8;

/// An in-memory client session store. Cloning shares the store: give the same cache to every
/// config (or keep one config) whose connections should resume each other's sessions.
///
/// rustls resumes a session only under a config with the same certificate verifier (the same
/// `Arc`) as the one that stored it: keep the [`TlsConfig`](super::TlsConfig), or build the
/// configs sharing a cache around one verifier
/// ([`TlsConfigBuilder::verifier`](super::TlsConfigBuilder::verifier)). Configs verifying
/// with their own CA files each have their own verifier.
#[derive(Clone)]
pub struct SessionCache {
    inner: Arc<Mutex<CacheInner>>,
}

struct CacheInner {
    max_servers: usize,
    /// Insertion order of the servers, oldest first, for eviction.
    order: VecDeque<ServerName<'static>>,
    servers: HashMap<ServerName<'static>, ServerEntry>,
}

#[derive(Default)]
struct ServerEntry {
    kx_hint: Option<NamedGroup>,
    tickets: VecDeque<Tls13ClientSessionValue>,
}

/// One resumable TLS 1.3 session (a NewSessionTicket with its resumption secret), as an opaque
/// in-process handle. Single use: resuming consumes it.
pub struct SessionTicket(Tls13ClientSessionValue);

impl SessionTicket {
    /// The suite the session was established with (0-RTT uses it).
    pub fn cipher(&self) -> Option<Cipher> {
        Cipher::from_suite(self.0.suite().common.suite)
    }

    /// The server's `max_early_data_size` for this ticket: 0 if it allows no 0-RTT.
    pub fn max_early_data_size(&self) -> u32 {
        self.0.max_early_data_size()
    }

    /// The server transport parameters remembered with the ticket (apply them to 0-RTT).
    pub fn transport_params(&self) -> Vec<u8> {
        self.0.quic_params()
    }
}

impl fmt::Debug for SessionTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTicket")
            .field("cipher", &self.cipher())
            .field("max_early_data_size", &self.max_early_data_size())
            .finish_non_exhaustive()
    }
}

pub(crate) fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_owned())
        .map_err(|_| TlsError::Config(format!("invalid server name {name:?}")))
}

impl SessionCache {
    /// A store remembering up to `max_servers` servers (at least one), each with up to
    /// [`MAX_TICKETS_PER_SERVER`] tickets.
    pub fn new(max_servers: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(CacheInner {
                max_servers: max_servers.max(1),
                order: VecDeque::new(),
                servers: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of tickets held for `server_name`.
    pub fn ticket_count(&self, server_name: &str) -> usize {
        let Ok(name) = parse_server_name(server_name) else {
            return 0;
        };
        self.lock()
            .servers
            .get(&name)
            .map_or(0, |e| e.tickets.len())
    }

    /// Removes and returns the newest ticket for `server_name`.
    pub fn take_ticket(&self, server_name: &str) -> Option<SessionTicket> {
        let name = parse_server_name(server_name).ok()?;
        self.lock().take(&name).map(SessionTicket)
    }

    /// Adds a ticket (e.g. one taken from another store) for `server_name`.
    pub fn insert_ticket(&self, server_name: &str, ticket: SessionTicket) -> Result<(), TlsError> {
        let name = parse_server_name(server_name)?;
        self.lock().insert(name, ticket.0);
        Ok(())
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut g = self.lock();
        g.order.clear();
        g.servers.clear();
    }
}

impl CacheInner {
    fn entry(&mut self, name: ServerName<'static>) -> &mut ServerEntry {
        if !self.servers.contains_key(&name) {
            while self.servers.len() >= self.max_servers {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.servers.remove(&old);
            }
            self.order.push_back(name.clone());
        }
        self.servers.entry(name).or_default()
    }

    fn insert(&mut self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        let e = self.entry(name);
        if e.tickets.len() >= MAX_TICKETS_PER_SERVER {
            e.tickets.pop_front();
        }
        e.tickets.push_back(value);
    }

    fn take(&mut self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        // Newest first: it carries the freshest ticket age and transport parameters.
        self.servers.get_mut(name)?.tickets.pop_back()
    }
}

impl ClientSessionStore for SessionCache {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.lock().entry(server_name).kx_hint = Some(group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.lock().servers.get(server_name)?.kx_hint
    }

    // QUIC is TLS 1.3 only: TLS 1.2 sessions are never stored.
    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        None
    }

    fn remove_tls12_session(&self, _: &ServerName<'static>) {}

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.lock().insert(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.lock().take(server_name)
    }
}

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.lock();
        f.debug_struct("SessionCache")
            .field("servers", &g.servers.len())
            .field("max_servers", &g.max_servers)
            .finish()
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new(64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_server() {
        let c = SessionCache::new(2);
        for n in ["a.test", "b.test", "c.test"] {
            c.set_kx_hint(parse_server_name(n).unwrap(), NamedGroup::X25519);
        }
        let a = parse_server_name("a.test").unwrap();
        let c_name = parse_server_name("c.test").unwrap();
        assert_eq!(c.kx_hint(&a), None);
        assert_eq!(c.kx_hint(&c_name), Some(NamedGroup::X25519));
        assert_eq!(c.ticket_count("c.test"), 0);
        assert_eq!(c.ticket_count("not a name!"), 0);
        assert!(c.take_ticket("c.test").is_none());
        c.clear();
        assert_eq!(c.kx_hint(&c_name), None);
    }
}
