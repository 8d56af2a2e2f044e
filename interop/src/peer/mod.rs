//! Our engine (`quic_proto::conn`) with the rustls adapter, over real UDP sockets on loopback:
//! a client ([`run_client`]) and a server ([`Server`]) speaking the interop protocol
//! ([`crate::workload`]). The `kquic-peer` binary is a command line around them; the tests run
//! both ends in-process on threads.

mod server;
pub mod session;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use quic::tls::{Cipher, QuicVersion, TlsConfig, TlsSession};
use quic_hostcrypto::{HostCrypto, OsRng};
use quic_proto::cid::ConnectionId;
use quic_proto::conn::{Config, Connection, Event, VersionList};
use quic_proto::crypto::{Crypto, Rng};
use quic_proto::recovery::ecn::EcnCodepoint;

pub use server::{Server, ServerConfig, ServerStats};
pub use session::{ClientApp, ClientProgress, ServerApp, ServerProgress, TlsDriver};

use crate::workload::Job;

/// Largest UDP payload we receive.
pub const MAX_UDP: usize = 65536;

/// Microseconds since `epoch`: the engine's clock.
pub fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// The engine settings every interop endpoint starts from: random keys, room for 1,000
/// concurrent streams each way, datagrams on, windows large enough for loopback speed.
pub fn engine_config() -> Config {
    let mut cfg = Config::new();
    let mut rng = OsRng;
    rng.fill(&mut cfg.reset_key.0);
    rng.fill(&mut cfg.token_key.0);
    let tp = &mut cfg.transport_params;
    tp.initial_max_streams_bidi = 1000;
    tp.initial_max_streams_uni = 100;
    tp.initial_max_data = 32 << 20;
    tp.initial_max_stream_data_bidi_local = 8 << 20;
    tp.initial_max_stream_data_bidi_remote = 8 << 20;
    tp.initial_max_stream_data_uni = 8 << 20;
    tp.max_datagram_frame_size = 65535;
    tp.max_idle_timeout = 30_000;
    cfg.max_conn_window = cfg.max_conn_window.max(64 << 20);
    cfg.max_stream_window = cfg.max_stream_window.max(16 << 20);
    cfg.send_buffer = cfg.send_buffer.max(32 << 20);
    cfg.max_datagram_size = 1452;
    cfg.datagram_recv_queue = 1024;
    cfg.datagram_send_queue = 1024;
    cfg
}

/// A random connection ID of `len` bytes.
pub fn random_cid(len: usize) -> ConnectionId {
    let mut b = [0u8; 20];
    OsRng.fill(&mut b[..len]);
    ConnectionId::new(&b[..len]).expect("length at most 20")
}

/// Maps a wire version to the TLS adapter's.
pub fn tls_version(wire: u32) -> QuicVersion {
    QuicVersion::from_wire(wire).unwrap_or_default()
}

/// Sends everything the engine has to send from `sock` (splitting GSO batches).
pub fn flush<C: Crypto>(
    conn: &mut Connection<C>,
    sock: &UdpSocket,
    now: u64,
    buf: &mut [u8],
) -> io::Result<usize> {
    flush_with(conn, now, buf, |_, to, d| sock.send_to(d, to).map(|_| ()))
}

/// Sends everything the engine has to send through `send(from, to, datagram)`.
pub fn flush_with<C: Crypto>(
    conn: &mut Connection<C>,
    now: u64,
    buf: &mut [u8],
    mut send: impl FnMut(SocketAddr, SocketAddr, &[u8]) -> io::Result<()>,
) -> io::Result<usize> {
    let mut n = 0;
    // Bounded: congestion control and pacing stop the engine long before.
    for _ in 0..4096 {
        let Some(t) = conn.poll_transmit(now, buf) else {
            break;
        };
        let seg = t.segment_size.unwrap_or(t.len).max(1);
        for chunk in buf[..t.len].chunks(seg) {
            match send(t.from, t.to, chunk) {
                Ok(()) => n += 1,
                // A full socket buffer is loss; the engine recovers.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// The client's sockets: more than one while a migration probes a new path.
struct Sockets {
    list: Vec<(SocketAddr, UdpSocket)>,
}

impl Sockets {
    fn send(&self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> io::Result<()> {
        let s = self
            .list
            .iter()
            .find(|(a, _)| *a == from)
            .or(self.list.last())
            .map(|(_, s)| s)
            .ok_or_else(|| io::Error::other("no socket"))?;
        s.send_to(data, to).map(|_| ())
    }

    /// Waits up to `wait` on the newest socket, then drains every socket.
    fn recv(
        &self,
        wait: Duration,
        buf: &mut [u8],
        mut f: impl FnMut(SocketAddr, SocketAddr, &mut [u8]),
    ) -> io::Result<()> {
        let Some((_, newest)) = self.list.last() else {
            return Ok(());
        };
        newest.set_nonblocking(false)?;
        newest.set_read_timeout(Some(wait.max(Duration::from_micros(1))))?;
        // Blocks until something arrives (or the timeout); the loop below reads it.
        let _ = newest.peek_from(buf);
        for (local, s) in &self.list {
            s.set_nonblocking(true)?;
            for _ in 0..256 {
                match s.recv_from(buf) {
                    Ok((n, from)) => f(*local, from, &mut buf[..n]),
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server (or the relay in front of it).
    pub server: SocketAddr,
    /// Name sent as SNI and checked against the certificate.
    pub server_name: String,
    /// TLS client configuration; keep it across connections to resume.
    pub tls: TlsConfig,
    /// What to ask of the server.
    pub job: Job,
    /// Wire version to start with.
    pub version: u32,
    /// Versions we support, preferred first.
    pub versions: Vec<u32>,
    /// Send the requests as 0-RTT when TLS has early keys (a resumable ticket).
    pub zero_rtt: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// Move to a new local port (active migration) once this many response bytes arrived.
    pub migrate_after: Option<u64>,
    /// A token from an earlier connection (NEW_TOKEN) for the Initial.
    pub token: Option<Vec<u8>>,
    /// Engine settings (see [`engine_config`]).
    pub engine: Config,
}

impl ClientConfig {
    /// A client of `server` running `job` with default settings.
    pub fn new(server: SocketAddr, tls: TlsConfig, job: Job) -> Self {
        Self {
            server,
            server_name: "localhost".into(),
            tls,
            job,
            version: quic::tls::QUIC_VERSION_V1,
            versions: vec![quic::tls::QUIC_VERSION_V1, quic::tls::QUIC_VERSION_V2],
            zero_rtt: false,
            timeout: Duration::from_secs(60),
            migrate_after: None,
            token: None,
            engine: engine_config(),
        }
    }
}

/// What a client saw.
#[derive(Debug, Clone)]
pub struct ClientReport {
    /// Time to handshake completion.
    pub handshake: Option<Duration>,
    /// Time from the first packet to the last check.
    pub elapsed: Duration,
    /// Application progress.
    pub progress: ClientProgress,
    /// `Some(accepted)` when 0-RTT was offered.
    pub zero_rtt: Option<bool>,
    /// The TLS session resumed an earlier one.
    pub resumed: bool,
    /// The version in use at the end.
    pub version: u32,
    /// The negotiated cipher.
    pub cipher: Option<Cipher>,
    /// Engine statistics at the end.
    pub stats: String,
}

impl ClientReport {
    /// Goodput over the whole connection (payload of both directions), Mbit/s.
    pub fn mbps(&self, job: &Job) -> f64 {
        job.bytes() as f64 * 8.0 / self.elapsed.as_secs_f64() / 1e6
    }
}

fn bind_like(peer: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if peer.is_ipv6() {
        "[::1]:0".parse().expect("literal")
    } else {
        "127.0.0.1:0".parse().expect("literal")
    };
    let s = UdpSocket::bind(local)?;
    Ok(s)
}

/// Runs one client connection to completion: handshake, the job, close. Fails on timeout, on
/// any check failure, or if the connection dies.
pub fn run_client(cfg: &ClientConfig) -> Result<ClientReport, String> {
    if !cfg.server.ip().is_loopback() {
        return Err("loopback only".into());
    }
    let epoch = Instant::now();
    let first = bind_like(cfg.server).map_err(|e| e.to_string())?;
    let local = first.local_addr().map_err(|e| e.to_string())?;
    let mut socks = Sockets {
        list: vec![(local, first)],
    };
    let mut engine = cfg.engine.clone();
    engine.version = cfg.version;
    engine.versions = VersionList::new(&cfg.versions).ok_or("bad version list")?;
    let mut conn = Connection::client(
        HostCrypto,
        &engine,
        random_cid(engine.cid_len),
        random_cid(8),
        local,
        cfg.server,
        micros(epoch),
        &mut OsRng,
    )
    .map_err(|e| format!("Connection::client: {e:?}"))?;
    if let Some(t) = &cfg.token {
        conn.set_token(t).map_err(|e| format!("{e:?}"))?;
    }
    let mut tp = [0u8; 1024];
    let n = conn
        .local_transport_params_ext(&mut tp)
        .map_err(|e| format!("{e:?}"))?;
    let tls = TlsSession::new_client(
        &cfg.tls,
        tls_version(cfg.version),
        &tp[..n],
        &cfg.server_name,
    )
    .map_err(|e| format!("TLS: {e}"))?;
    let early = tls.early_data_offered();
    if early {
        if let Some(p) = tls.peer_transport_params() {
            let p = p.to_vec();
            conn.set_remembered_transport_params_ext(&p)
                .map_err(|e| format!("remembered parameters: {e:?}"))?;
        }
    }
    let mut driver = TlsDriver::new(tls);
    let mut app = ClientApp::new(cfg.job);
    let mut buf = vec![0u8; MAX_UDP];
    let mut out = vec![0u8; MAX_UDP];
    let deadline = epoch + cfg.timeout;
    let mut handshake = None;
    let mut migrated = false;
    let mut streams_done_at: Option<Instant> = None;
    let mut closing_since: Option<Instant> = None;
    let mut failure: Option<String> = None;
    let debug = std::env::var_os("KQUIC_INTEROP_DEBUG").is_some();
    let mut last_debug = Instant::now();

    loop {
        let now = micros(epoch);
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.on_timeout(now);
        }
        driver.pump(&mut conn)?;
        if handshake.is_none() && driver.complete() {
            handshake = Some(epoch.elapsed());
        }
        // 0-RTT: requests go out as soon as early keys exist.
        let can_send = driver.complete() || (cfg.zero_rtt && early && conn.early_data_active());
        while let Some(ev) = conn.poll_event() {
            match &ev {
                Event::Closed(info) if closing_since.is_none() => {
                    failure.get_or_insert(format!("connection closed: {info:?}"));
                }
                // The new path works: the old socket can go.
                Event::Migration { local: true } if socks.list.len() > 1 => {
                    socks.list.drain(..socks.list.len() - 1);
                }
                _ => {}
            }
            app.on_event(&mut conn, &ev)?;
        }
        if conn.is_handshake_confirmed() {
            app.step_confirmed(&mut conn);
        }
        app.step(&mut conn, can_send)?;
        if !app.progress.errors.is_empty() && closing_since.is_none() {
            failure = Some(app.progress.errors.join("; "));
            conn.close(true, 1, 0, b"check failed");
            closing_since = Some(Instant::now());
        }
        if let (Some(after), false) = (cfg.migrate_after, migrated) {
            if app.progress.bytes_received >= after && conn.is_handshake_confirmed() {
                let s = bind_like(cfg.server).map_err(|e| e.to_string())?;
                let l = s.local_addr().map_err(|e| e.to_string())?;
                conn.migrate(l).map_err(|e| format!("migrate: {e:?}"))?;
                socks.list.push((l, s));
                migrated = true;
            }
        }
        if app.streams_done() && streams_done_at.is_none() {
            streams_done_at = Some(Instant::now());
        }
        // Datagrams are unreliable: wait for missing echoes a little, not forever.
        let done = app.streams_done()
            && (app.datagrams_done()
                || streams_done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(1)))
            && conn.is_handshake_confirmed();
        if done && closing_since.is_none() {
            conn.close(true, 0, 0, b"done");
            closing_since = Some(Instant::now());
        }
        flush_with(&mut conn, now, &mut out, |from, to, d| {
            socks.send(from, to, d)
        })
        .map_err(|e| e.to_string())?;
        if let Some(since) = closing_since {
            // Give the CONNECTION_CLOSE a moment to leave, then stop.
            if conn.is_drained() || since.elapsed() > Duration::from_millis(50) {
                break;
            }
        } else if conn.is_closed() {
            break;
        }
        if Instant::now() > deadline {
            failure = Some(format!(
                "timed out after {:?}: {} of {} streams done, {} bytes received",
                cfg.timeout, app.progress.streams_ok, cfg.job.streams, app.progress.bytes_received
            ));
            break;
        }
        if debug && last_debug.elapsed() > Duration::from_secs(1) {
            last_debug = Instant::now();
            eprintln!(
                "kquic client debug: now {} poll_timeout {:?} confirmed {} stats {:?}",
                micros(epoch),
                conn.poll_timeout(),
                conn.is_handshake_confirmed(),
                conn.stats()
            );
        }
        // Wait for a datagram or the engine's next deadline.
        let now = micros(epoch);
        let wait_us = conn
            .poll_timeout()
            .map_or(50_000, |t| t.saturating_sub(now))
            .clamp(1, 50_000);
        socks
            .recv(
                Duration::from_micros(wait_us),
                &mut buf,
                |local, from, d| {
                    conn.recv_datagram(micros(epoch), from, local, d, EcnCodepoint::NotEct);
                },
            )
            .map_err(|e| e.to_string())?;
    }
    let tls = &driver.tls;
    let report = ClientReport {
        handshake,
        elapsed: epoch.elapsed(),
        progress: app.progress.clone(),
        zero_rtt: early.then(|| tls.early_data_accepted()),
        resumed: tls.is_resumed(),
        version: conn.version(),
        cipher: tls.cipher(),
        stats: format!("{:?}", conn.stats()),
    };
    match failure {
        Some(f) => Err(format!("{f}; report: {report:?}")),
        _ if app.progress.streams_ok != cfg.job.streams => Err(format!(
            "only {} streams checked out: {report:?}",
            app.progress.streams_ok
        )),
        _ => Ok(report),
    }
}
