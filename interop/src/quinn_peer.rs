//! quinn client and server speaking the interop protocol ([`crate::workload`]): used by the
//! integration tests (as the peer our engine and the aioquic programs are checked against) and
//! by the `quinn-peer` binary (the same against `quic.ko` in the VM).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::certs::TestCert;
use crate::workload::{
    datagram_index, datagram_payload, ClientStream, Dir, Job, Pattern, ServerStream, ALPN, HASH_LEN,
};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, TransportConfig, VarInt};
use rustls::pki_types::CertificateDer;
use tokio::sync::oneshot;

/// Any error of the quinn peers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a client saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Connection start to the last stream checked.
    pub elapsed: Duration,
    /// Time to the handshake's completion (zero when 0-RTT was attempted).
    pub handshake: Duration,
    /// Streams whose response checked out.
    pub streams_ok: usize,
    /// Distinct datagrams echoed back.
    pub datagrams_echoed: u32,
    /// `Some(accepted)` when 0-RTT was attempted.
    pub zero_rtt: Option<bool>,
    /// Key updates the client forced.
    pub key_updates_forced: u32,
}

impl Report {
    /// Goodput in Mbit/s over the whole connection (both directions' payload).
    pub fn mbps(&self, job: &Job) -> f64 {
        let bytes = job.bytes() as f64;
        bytes * 8.0 / self.elapsed.as_secs_f64() / 1e6
    }
}

fn transport(max_streams: u32) -> TransportConfig {
    let mut t = TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u32(max_streams))
        .max_idle_timeout(Some(Duration::from_secs(20).try_into().expect("small")))
        .stream_receive_window(VarInt::from_u32(4 << 20))
        .receive_window(VarInt::from_u32(32 << 20))
        .send_window(32 << 20)
        .datagram_receive_buffer_size(Some(1 << 20));
    t
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A quinn server; see [`QuinnServer::start`].
#[derive(Debug)]
pub struct QuinnServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its endpoint (close it to stop serving).
    pub endpoint: Endpoint,
    /// Connections accepted (after address validation).
    pub accepted: Arc<AtomicU64>,
    /// Retry packets sent.
    pub retries: Arc<AtomicU64>,
    /// Streams served completely (request received in full, response and its hash sent).
    pub streams_ok: Arc<AtomicU64>,
    /// Streams that failed (a short or reset request, a lost connection).
    pub streams_failed: Arc<AtomicU64>,
    /// Accepted connections that have ended.
    pub closed: Arc<AtomicU64>,
}

/// Server behaviour.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerOpts {
    /// Send a Retry to every client that has not proven its address.
    pub retry: bool,
    /// Accept 0-RTT.
    pub zero_rtt: bool,
}

impl QuinnServer {
    /// Starts serving on a free loopback port (inside the current tokio runtime).
    pub fn start(cert: &TestCert, opts: ServerOpts) -> Result<Self, BoxError> {
        Self::start_on(cert, opts, "127.0.0.1:0".parse()?)
    }

    /// Starts serving on `listen` (inside the current tokio runtime).
    pub fn start_on(
        cert: &TestCert,
        opts: ServerOpts,
        listen: SocketAddr,
    ) -> Result<Self, BoxError> {
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert_der.clone()], cert.key())?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        tls.max_early_data_size = if opts.zero_rtt { u32::MAX } else { 0 };
        let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
        cfg.transport_config(Arc::new(transport(1000)));
        let endpoint = Endpoint::server(cfg, listen)?;
        let s = Self {
            addr: endpoint.local_addr()?,
            endpoint: endpoint.clone(),
            accepted: Arc::default(),
            retries: Arc::default(),
            streams_ok: Arc::default(),
            streams_failed: Arc::default(),
            closed: Arc::default(),
        };
        let (accepted, retries) = (s.accepted.clone(), s.retries.clone());
        let counters = Counters {
            ok: s.streams_ok.clone(),
            failed: s.streams_failed.clone(),
            closed: s.closed.clone(),
        };
        tokio::spawn(async move {
            while let Some(incoming) = endpoint.accept().await {
                if opts.retry && !incoming.remote_address_validated() {
                    retries.fetch_add(1, Ordering::Relaxed);
                    let _ = incoming.retry();
                    continue;
                }
                accepted.fetch_add(1, Ordering::Relaxed);
                let Ok(connecting) = incoming.accept() else {
                    counters.closed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let counters = counters.clone();
                tokio::spawn(async move {
                    let conn = if opts.zero_rtt {
                        match connecting.into_0rtt() {
                            // A server's 0-RTT conversion always succeeds: it serves 0-RTT
                            // streams (and answers in 0.5-RTT) before the handshake completes.
                            Ok((conn, _)) => conn,
                            Err(connecting) => match connecting.await {
                                Ok(c) => c,
                                Err(e) => return counters.handshake_failed(e),
                            },
                        }
                    } else {
                        match connecting.await {
                            Ok(c) => c,
                            Err(e) => return counters.handshake_failed(e),
                        }
                    };
                    serve_conn(conn, counters).await;
                });
            }
        });
        Ok(s)
    }
}

/// The server's shared counters.
#[derive(Clone)]
struct Counters {
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
}

impl Counters {
    fn handshake_failed(&self, e: quinn::ConnectionError) {
        eprintln!("quinn server: handshake: {e}");
        self.closed.fetch_add(1, Ordering::Relaxed);
    }
}

async fn serve_conn(conn: quinn::Connection, counters: Counters) {
    let dconn = conn.clone();
    tokio::spawn(async move {
        while let Ok(d) = dconn.read_datagram().await {
            let _ = dconn.send_datagram(d);
        }
    });
    let mut tasks = Vec::new();
    loop {
        let (send, recv) = match conn.accept_bi().await {
            Ok(s) => s,
            Err(_) => break,
        };
        let c = counters.clone();
        tasks.push(tokio::spawn(async move {
            match serve_stream(send, recv).await {
                Ok(()) => {
                    c.ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    c.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("quinn server stream: {e}");
                }
            }
        }));
    }
    // The connection is gone: its streams end at once (their I/O fails); count them first.
    for t in tasks {
        let _ = t.await;
    }
    counters.closed.fetch_add(1, Ordering::Relaxed);
}

async fn serve_stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) -> Result<(), BoxError> {
    let id = u64::from(send.id());
    let mut ss = ServerStream::new(id);
    while ss.lengths().is_none() {
        match recv.read_chunk(64 * 1024, true).await? {
            Some(c) => ss.recv(&c.bytes),
            None => {
                ss.finish()?;
            }
        }
    }
    let (_, resp_len) = ss.lengths().expect("header read");
    let (tx, rx) = oneshot::channel::<Result<[u8; HASH_LEN], String>>();
    let reader = async move {
        loop {
            match recv.read_chunk(256 * 1024, true).await {
                Ok(Some(c)) => ss.recv(&c.bytes),
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
        let _ = tx.send(ss.finish().map_err(|e| e.to_string()));
    };
    let writer = async move {
        let mut p = Pattern::new(id, Dir::Response);
        let mut left = resp_len;
        while left > 0 {
            let n = left.min(64 * 1024) as usize;
            send.write_all(&p.take(n)).await?;
            left -= n as u64;
        }
        let hash = rx.await.map_err(|_| "reader gone")??;
        send.write_all(&hash).await?;
        send.finish()?;
        // Wait until the peer has everything (or gave up) so nothing is cut off.
        let _ = send.stopped().await;
        Ok::<(), BoxError>(())
    };
    let ((), w) = tokio::join!(reader, writer);
    w
}

/// A quinn client; keeps one rustls config (and so its session tickets) across connections.
#[derive(Debug)]
pub struct QuinnClient {
    /// Its endpoint (on an ephemeral loopback port).
    pub endpoint: Endpoint,
    config: quinn::ClientConfig,
}

impl QuinnClient {
    /// A client on `127.0.0.1` trusting `ca`, resuming with 0-RTT if `zero_rtt`.
    pub fn new(ca: &CertificateDer<'static>, zero_rtt: bool) -> Result<Self, BoxError> {
        Self::new_bound(ca, zero_rtt, "127.0.0.1:0".parse()?)
    }

    /// [`QuinnClient::new`] with its endpoint bound to `bind` (e.g. `[::1]:0` for an IPv6
    /// server).
    pub fn new_bound(
        ca: &CertificateDer<'static>,
        zero_rtt: bool,
        bind: SocketAddr,
    ) -> Result<Self, BoxError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone())?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![ALPN.to_vec()];
        tls.enable_early_data = zero_rtt;
        let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
        config.transport_config(Arc::new(transport(1000)));
        let endpoint = Endpoint::client(bind)?;
        Ok(Self { endpoint, config })
    }

    /// Connects to `server` and runs `job`; with `zero_rtt`, sends the requests as 0-RTT when
    /// a ticket allows it.
    pub async fn run(
        &self,
        server: SocketAddr,
        job: Job,
        zero_rtt: bool,
    ) -> Result<Report, BoxError> {
        let start = Instant::now();
        let connecting = self
            .endpoint
            .connect_with(self.config.clone(), server, "localhost")?;
        let mut report = Report::default();
        let (conn, accepted) = if zero_rtt {
            match connecting.into_0rtt() {
                Ok((c, acc)) => (c, Some(acc)),
                Err(connecting) => (connecting.await?, None),
            }
        } else {
            (connecting.await?, None)
        };
        let accepted_task = accepted.map(|a| tokio::spawn(a));
        if accepted_task.is_none() {
            report.handshake = start.elapsed();
        }
        let report = run_job(conn.clone(), job, report).await;
        let mut report = match report {
            Ok(r) => r,
            Err(e) => {
                conn.close(VarInt::from_u32(1), b"check failed");
                return Err(e);
            }
        };
        if let Some(t) = accepted_task {
            report.zero_rtt = Some(t.await?);
        } else if zero_rtt {
            report.zero_rtt = Some(false);
        }
        report.elapsed = start.elapsed();
        conn.close(VarInt::from_u32(0), b"done");
        Ok(report)
    }
}

async fn run_job(
    conn: quinn::Connection,
    job: Job,
    mut report: Report,
) -> Result<Report, BoxError> {
    let ku_conn = conn.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ku_done = done.clone();
    let ku = tokio::spawn(async move {
        let mut n = 0u32;
        if !job.key_update {
            return 0;
        }
        while !ku_done.load(Ordering::Relaxed) && n < 50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ku_conn.force_key_update();
            n += 1;
        }
        n
    });
    let mut tasks = Vec::with_capacity(job.streams);
    for _ in 0..job.streams {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let (send, recv) = conn.open_bi().await?;
            client_stream(send, recv, job.up, job.down).await
        }));
    }
    let dgrams = if job.datagrams > 0 {
        Some(tokio::spawn(datagrams(conn.clone(), job.datagrams)))
    } else {
        None
    };
    for t in tasks {
        t.await??;
        report.streams_ok += 1;
    }
    done.store(true, Ordering::Relaxed);
    report.key_updates_forced = ku.await?;
    if let Some(d) = dgrams {
        report.datagrams_echoed = d.await??;
    }
    Ok(report)
}

async fn client_stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    up: u64,
    down: u64,
) -> Result<(), BoxError> {
    let id = u64::from(send.id());
    let writer = async {
        let mut req = ClientStream::new(id, up, down);
        while req.request_left() > 0 {
            send.write_all(&req.next_request(64 * 1024)).await?;
        }
        send.finish()?;
        Ok::<(), BoxError>(())
    };
    let reader = async {
        let mut check = ClientStream::new(id, up, down);
        while let Some(c) = recv.read_chunk(256 * 1024, true).await? {
            check.recv(&c.bytes);
        }
        check.finish()?;
        Ok::<(), BoxError>(())
    };
    let (w, r) = tokio::join!(writer, reader);
    w?;
    r
}

async fn datagrams(conn: quinn::Connection, count: u32) -> Result<u32, BoxError> {
    let mut seen = vec![false; count as usize];
    let mut echoed = 0;
    for i in 0..count {
        conn.send_datagram(datagram_payload(i).into())?;
        if i % 8 == 7 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while echoed < count {
        match tokio::time::timeout_at(deadline, conn.read_datagram()).await {
            Ok(Ok(d)) => {
                if let Some(i) = datagram_index(&d) {
                    if let Some(s) = seen.get_mut(i as usize) {
                        if !*s {
                            *s = true;
                            echoed += 1;
                        }
                    }
                }
            }
            _ => break,
        }
    }
    Ok(echoed)
}
