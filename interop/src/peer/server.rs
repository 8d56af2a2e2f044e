//! The interop server on our engine: one UDP socket, connections routed by Destination
//! Connection ID, new ones accepted (with Retry, Version Negotiation and stateless reset) by the
//! engine's endpoint helper.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use quic::tls::{TlsConfig, TlsSession};
use quic_hostcrypto::{HostCrypto, OsRng};
use quic_proto::cid::ConnectionId;
use quic_proto::conn::{Config, Connection, Event};
use quic_proto::endpoint::{self, Decision};
use quic_proto::recovery::ecn::EcnCodepoint;

use super::session::{ServerApp, TlsDriver};
use super::{engine_config, flush, micros, random_cid, tls_version, MAX_UDP};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (loopback).
    pub listen: SocketAddr,
    /// TLS server configuration (certificate, ALPN, resumption, 0-RTT).
    pub tls: TlsConfig,
    /// Engine settings; `validate_peer_address` makes the server send Retry.
    pub engine: Config,
    /// Stop after this long even if nobody asked.
    pub lifetime: Duration,
}

impl ServerConfig {
    /// A server on a free loopback port.
    pub fn new(tls: TlsConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".parse().expect("literal"),
            tls,
            engine: engine_config(),
            lifetime: Duration::from_secs(300),
        }
    }
}

/// Counters of a running server.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Retry packets sent.
    pub retries: AtomicU64,
    /// Version Negotiation packets sent.
    pub version_negotiations: AtomicU64,
    /// Stateless resets sent.
    pub resets: AtomicU64,
    /// Handshakes completed.
    pub handshakes: AtomicU64,
    /// Handshakes that accepted 0-RTT.
    pub zero_rtt_accepted: AtomicU64,
    /// Resumed handshakes.
    pub resumed: AtomicU64,
    /// Streams answered.
    pub streams_done: AtomicU64,
    /// Streams whose request failed its check, plus connections that failed.
    pub errors: AtomicU64,
    /// Datagrams echoed.
    pub datagrams_echoed: AtomicU64,
    /// Key updates completed.
    pub key_updates: AtomicU64,
    /// Peer migrations (address changes) seen.
    pub migrations: AtomicU64,
    /// Connections that ended.
    pub closed: AtomicU64,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Server {
    /// Binds and starts serving on a thread.
    pub fn start(cfg: ServerConfig) -> io::Result<Self> {
        if !cfg.listen.ip().is_loopback() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "loopback only"));
        }
        let sock = UdpSocket::bind(cfg.listen)?;
        let addr = sock.local_addr()?;
        let stats = Arc::new(ServerStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stats.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("kquic-server".into())
            .spawn(move || serve(cfg, sock, addr, st, sp))?;
        Ok(Self {
            addr,
            stats,
            stop,
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Live counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Stops the server and returns its error, if it failed.
    pub fn stop(mut self) -> Result<(), String> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err("server thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

struct Conn {
    conn: Connection<HostCrypto>,
    tls: TlsDriver,
    app: ServerApp,
    cids: Vec<ConnectionId>,
    handshake_counted: bool,
    last_progress: super::ServerProgress,
}

/// The Destination Connection ID of a datagram's first packet (`cid_len` for short headers).
fn dcid_of(pkt: &[u8], cid_len: usize) -> Option<ConnectionId> {
    endpoint::dcid(pkt, cid_len).and_then(ConnectionId::new)
}

/// Counts what kind of packet the endpoint answered with.
fn count_response(stats: &ServerStats, pkt: &[u8]) {
    let Some(&first) = pkt.first() else {
        return;
    };
    let version = pkt
        .get(1..5)
        .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
    let counter = if first & 0x80 == 0 {
        &stats.resets
    } else if version == Some(0) {
        &stats.version_negotiations
    } else {
        // The only other answer is a Retry.
        &stats.retries
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

fn serve(
    cfg: ServerConfig,
    sock: UdpSocket,
    local: SocketAddr,
    stats: Arc<ServerStats>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let epoch = Instant::now();
    let end = epoch + cfg.lifetime;
    let mut conns: HashMap<u64, Conn> = HashMap::new();
    let mut routes: HashMap<ConnectionId, u64> = HashMap::new();
    let mut next_id = 0u64;
    let mut buf = vec![0u8; MAX_UDP];
    let mut out = vec![0u8; MAX_UDP];
    let mut resp = vec![0u8; 2048];
    let cid_len = cfg.engine.cid_len;
    let debug = std::env::var_os("KQUIC_INTEROP_DEBUG").is_some();
    let mut last_debug = Instant::now();
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        if debug && last_debug.elapsed() > Duration::from_secs(1) {
            last_debug = Instant::now();
            for (id, c) in &conns {
                eprintln!(
                    "kquic server debug: conn {id} now {} poll_timeout {:?} complete {} \
                     confirmed {} closed {} stats {:?}",
                    micros(epoch),
                    c.conn.poll_timeout(),
                    c.tls.complete(),
                    c.conn.is_handshake_confirmed(),
                    c.conn.is_closed(),
                    c.conn.stats()
                );
            }
        }
        // Wait for a datagram or the earliest deadline.
        let now = micros(epoch);
        let wake = conns.values().filter_map(|c| c.conn.poll_timeout()).min();
        let wait_us = wake
            .map_or(20_000, |t| t.saturating_sub(now))
            .clamp(1, 20_000);
        sock.set_read_timeout(Some(Duration::from_micros(wait_us)))
            .map_err(|e| e.to_string())?;
        for i in 0..256 {
            if i == 1 {
                sock.set_nonblocking(true).map_err(|e| e.to_string())?;
            }
            let (n, from) = match sock.recv_from(&mut buf) {
                Ok(x) => x,
                Err(_) => break,
            };
            if !from.ip().is_loopback() {
                continue;
            }
            let now = micros(epoch);
            let data = &mut buf[..n];
            let id = dcid_of(data, cid_len).and_then(|c| routes.get(&c).copied());
            let id = match id {
                Some(id) => id,
                None => match endpoint::handle(
                    &HostCrypto,
                    &cfg.engine,
                    now,
                    from,
                    data,
                    &mut resp,
                    &mut OsRng,
                ) {
                    Decision::Accept(accepted) => {
                        let local_cid = random_cid(cid_len);
                        let conn = Connection::server(
                            HostCrypto,
                            &cfg.engine,
                            &accepted,
                            local_cid,
                            local,
                            from,
                            now,
                            &mut OsRng,
                        );
                        let Ok(mut conn) = conn else {
                            continue;
                        };
                        conn.recv_datagram(now, from, local, data, EcnCodepoint::NotEct);
                        let mut tp = [0u8; 1024];
                        let Ok(len) = conn.local_transport_params_ext(&mut tp) else {
                            continue;
                        };
                        let tls = match TlsSession::new(
                            &cfg.tls,
                            tls_version(conn.version()),
                            &tp[..len],
                        ) {
                            Ok(t) => t,
                            Err(e) => return Err(format!("TLS server session: {e}")),
                        };
                        stats.accepted.fetch_add(1, Ordering::Relaxed);
                        let id = next_id;
                        next_id += 1;
                        let cids = vec![accepted.initial_dcid, accepted.original_dcid, local_cid];
                        for c in &cids {
                            routes.insert(*c, id);
                        }
                        conns.insert(
                            id,
                            Conn {
                                conn,
                                tls: TlsDriver::new(tls),
                                app: ServerApp::new(),
                                cids,
                                handshake_counted: false,
                                last_progress: Default::default(),
                            },
                        );
                        continue;
                    }
                    Decision::Respond(len) => {
                        // Retry, Version Negotiation or stateless reset.
                        count_response(&stats, &resp[..len]);
                        let _ = sock.send_to(&resp[..len], from);
                        continue;
                    }
                    Decision::Drop => continue,
                },
            };
            if let Some(c) = conns.get_mut(&id) {
                c.conn
                    .recv_datagram(now, from, local, data, EcnCodepoint::NotEct);
            }
        }
        sock.set_nonblocking(false).map_err(|e| e.to_string())?;
        let now = micros(epoch);
        let mut dead = Vec::new();
        for (&id, c) in conns.iter_mut() {
            if c.conn.poll_timeout().is_some_and(|t| t <= now) {
                c.conn.on_timeout(now);
            }
            if let Err(e) = c.tls.pump(&mut c.conn) {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("kquic server: connection {id}: {e}");
            }
            if !c.handshake_counted && c.tls.complete() {
                c.handshake_counted = true;
                stats.handshakes.fetch_add(1, Ordering::Relaxed);
                if c.tls.tls.early_data_accepted() {
                    stats.zero_rtt_accepted.fetch_add(1, Ordering::Relaxed);
                }
                if c.tls.tls.is_resumed() {
                    stats.resumed.fetch_add(1, Ordering::Relaxed);
                }
            }
            while let Some(ev) = c.conn.poll_event() {
                match &ev {
                    Event::LocalCidIssued { cid, .. } => {
                        routes.insert(*cid, id);
                        c.cids.push(*cid);
                    }
                    Event::LocalCidRetired { cid, .. } => {
                        routes.remove(cid);
                    }
                    _ => {}
                }
                if let Err(e) = c.app.on_event(&mut c.conn, &ev) {
                    eprintln!("kquic server: connection {id}: {e}");
                }
            }
            if let Err(e) = c.app.step(&mut c.conn) {
                eprintln!("kquic server: connection {id}: {e}");
            }
            let p = c.app.progress;
            let lp = c.last_progress;
            stats
                .streams_done
                .fetch_add(p.streams_done - lp.streams_done, Ordering::Relaxed);
            stats
                .errors
                .fetch_add(p.stream_errors - lp.stream_errors, Ordering::Relaxed);
            stats
                .datagrams_echoed
                .fetch_add(p.datagrams_echoed - lp.datagrams_echoed, Ordering::Relaxed);
            stats
                .key_updates
                .fetch_add(p.key_updates - lp.key_updates, Ordering::Relaxed);
            stats
                .migrations
                .fetch_add(p.migrations - lp.migrations, Ordering::Relaxed);
            c.last_progress = p;
            flush(&mut c.conn, &sock, now, &mut out).map_err(|e| e.to_string())?;
            if c.conn.is_drained() {
                dead.push(id);
            }
        }
        for id in dead {
            if let Some(c) = conns.remove(&id) {
                for cid in c.cids {
                    if routes.get(&cid) == Some(&id) {
                        routes.remove(&cid);
                    }
                }
                stats.closed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}
