//! Client and server hosts over a simulated link with a simulated clock.
//!
//! Each host is a [`Connection`] plus its TLS stack ([`Handshaker`]), pumped the way the kernel glue
//! and the userspace handshake will pump them: CRYPTO bytes read from the connection are fed to
//! TLS, the secrets TLS derives are installed, the bytes TLS writes are queued as CRYPTO data,
//! the transport parameters extension goes both ways, and the end of the handshake is reported.
//! The server host also plays the endpoint: datagrams no connection takes go through
//! [`endpoint::handle`] (accept, Retry, Version Negotiation, stateless reset).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use quic_hostcrypto::HostCrypto;
use quic_proto::cid::ConnectionId;
use quic_proto::conn::{CloseInfo, Config, Connection, Event, Key32, Level};
use quic_proto::endpoint::{self, Decision};
use quic_proto::recovery::ecn::EcnCodepoint;
use quic_proto::stream::{ApiError, StreamId};

use crate::handshaker::{Handshaker, TlsSetup};
use crate::link::{Fate, Link, LinkParams};
use crate::rng::SimRng;

/// The client's address.
pub const CLIENT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 50000);
/// The server's address.
pub const SERVER_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443);

/// Everything a simulation starts from.
pub struct Setup {
    /// Seed of the engines' and the link's randomness.
    pub seed: u64,
    /// Client connection settings.
    pub client: Config,
    /// Server (endpoint and connection) settings.
    pub server: Config,
    /// The TLS stacks.
    pub tls: TlsSetup,
    /// Client to server.
    pub c2s: LinkParams,
    /// Server to client.
    pub s2c: LinkParams,
    /// A token for the client's Initial packets.
    pub token: Option<Vec<u8>>,
}

/// Server endpoint keys shared by the simulations of a test (so tokens carry over).
pub fn server_keys(cfg: &mut Config) {
    cfg.reset_key = Key32([0x5a; 32]);
    cfg.token_key = Key32([0xa5; 32]);
}

impl Setup {
    /// Default settings: QUIC v1, rustls with ALPN "h3" (the fake handshake without the
    /// `rustls` feature), datagrams allowed, a 10 ms lossless link.
    pub fn new(seed: u64) -> Self {
        #[cfg(feature = "rustls")]
        let tls = TlsSetup::Rustls {
            client: crate::pki::pki()
                .client("h3")
                .build()
                .expect("client TLS config"),
            server: crate::pki::pki()
                .server("h3")
                .build()
                .expect("server TLS config"),
        };
        #[cfg(not(feature = "rustls"))]
        let tls = TlsSetup::Fake;
        Self::with_tls(seed, tls)
    }

    /// Default settings with the fake handshake.
    pub fn fake(seed: u64) -> Self {
        Self::with_tls(seed, TlsSetup::Fake)
    }

    /// Default settings with the given TLS stacks.
    pub fn with_tls(seed: u64, tls: TlsSetup) -> Self {
        let mut client = Config::new();
        let mut server = Config::new();
        client.transport_params.max_datagram_frame_size = 1200;
        server.transport_params.max_datagram_frame_size = 1200;
        server_keys(&mut server);
        client.reset_key = Key32([0x11; 32]);
        Self {
            seed,
            client,
            server,
            tls,
            c2s: LinkParams::default(),
            s2c: LinkParams::default(),
            token: None,
        }
    }
}

/// A write the application keeps pushing as the send buffer frees up.
#[derive(Debug, Default)]
struct PendingWrite {
    data: Vec<u8>,
    off: usize,
    fin: bool,
}

/// One side: a connection, its TLS session, and what its application saw.
pub struct Host {
    /// The connection (the server's exists once an Initial was accepted).
    pub conn: Option<Connection<HostCrypto>>,
    /// The TLS stack.
    pub tls: Option<Box<dyn Handshaker>>,
    /// Connection settings.
    pub cfg: Config,
    /// True for the client.
    pub is_client: bool,
    tp_set: bool,
    remembered_set: bool,
    completed: bool,
    /// Every event the connection reported, in order.
    pub events: Vec<Event>,
    /// Stream data read, per stream.
    pub received: BTreeMap<u64, Vec<u8>>,
    /// Streams whose end was read.
    pub fins: BTreeSet<u64>,
    /// Streams the peer reset, with the error code.
    pub resets: BTreeMap<u64, u64>,
    /// Datagrams received.
    pub datagrams: Vec<Vec<u8>>,
    /// NEW_TOKEN tokens received.
    pub tokens: Vec<Vec<u8>>,
    /// Read streams as soon as they are readable.
    pub auto_read: bool,
    /// The TLS stack is busy: CRYPTO data waits (a slow userspace handshake).
    pub tls_paused: bool,
    /// TLS finished but the glue has not reported it yet.
    pub defer_complete: bool,
    /// A TLS failure (the alert).
    pub tls_error: Option<u8>,
    /// How the connection ended.
    pub closed: Option<CloseInfo>,
    /// When the handshake completed (µs).
    pub completed_at: Option<u64>,
    writes: BTreeMap<u64, PendingWrite>,
    /// Everything the connection accepted from [`Host::send`], per stream.
    pub sent: BTreeMap<u64, Vec<u8>>,
    /// Bytes and datagrams this host sent / received on the wire.
    pub tx_bytes: u64,
    /// Bytes received on the wire.
    pub rx_bytes: u64,
}

impl Host {
    fn new(cfg: Config, is_client: bool) -> Self {
        Self {
            conn: None,
            tls: None,
            cfg,
            is_client,
            tp_set: false,
            remembered_set: false,
            completed: false,
            events: Vec::new(),
            received: BTreeMap::new(),
            fins: BTreeSet::new(),
            resets: BTreeMap::new(),
            datagrams: Vec::new(),
            tokens: Vec::new(),
            auto_read: true,
            tls_paused: false,
            defer_complete: false,
            tls_error: None,
            closed: None,
            completed_at: None,
            writes: BTreeMap::new(),
            sent: BTreeMap::new(),
            tx_bytes: 0,
            rx_bytes: 0,
        }
    }

    /// The connection.
    pub fn conn(&self) -> &Connection<HostCrypto> {
        self.conn.as_ref().expect("no connection")
    }

    /// The connection, mutably.
    pub fn conn_mut(&mut self) -> &mut Connection<HostCrypto> {
        self.conn.as_mut().expect("no connection")
    }

    /// Queues `data` (then FIN if `fin`) on stream `id`, written as buffer space allows.
    pub fn send(&mut self, id: StreamId, data: &[u8], fin: bool) {
        let w = self.writes.entry(id.raw()).or_default();
        w.data.extend_from_slice(data);
        w.fin |= fin;
    }

    /// True when every queued write was taken by the connection.
    pub fn writes_done(&self) -> bool {
        self.writes.is_empty()
    }

    /// True once the handshake is confirmed.
    pub fn confirmed(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.is_handshake_confirmed())
    }

    /// Number of events matching `f`.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    fn flush_writes(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let ids: Vec<u64> = self.writes.keys().copied().collect();
        for id in ids {
            let Some(w) = self.writes.get_mut(&id) else {
                continue;
            };
            let sid = StreamId::new(id);
            loop {
                let rest = &w.data[w.off..];
                match conn.stream_write(sid, rest, w.fin) {
                    Ok(n) => {
                        self.sent
                            .entry(id)
                            .or_default()
                            .extend_from_slice(&rest[..n]);
                        w.off += n;
                        if n == rest.len() {
                            self.writes.remove(&id);
                            break;
                        }
                        if n == 0 {
                            break;
                        }
                    }
                    Err(ApiError::UnknownStream) => {
                        if conn.stream_open_id(sid).is_err() {
                            break;
                        }
                    }
                    Err(_) => {
                        self.writes.remove(&id);
                        break;
                    }
                }
            }
        }
    }

    fn read_stream(&mut self, id: StreamId) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut buf = vec![0u8; 65536];
        loop {
            match conn.stream_read(id, &mut buf) {
                Ok(o) => {
                    self.received
                        .entry(id.raw())
                        .or_default()
                        .extend_from_slice(&buf[..o.len]);
                    if o.fin {
                        self.fins.insert(id.raw());
                    }
                    if o.len == 0 || o.fin {
                        break;
                    }
                }
                Err(ApiError::Reset(code)) => {
                    self.resets.insert(id.raw(), code);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    /// Reads every readable stream now (for hosts with `auto_read` off).
    pub fn read_all(&mut self) {
        let ids: Vec<StreamId> = self
            .conn
            .as_ref()
            .map(|c| c.streams().iter().map(|s| s.id()).collect())
            .unwrap_or_default();
        for id in ids {
            self.read_stream(id);
        }
    }

    /// Runs TLS and the application side until nothing changes.
    fn pump(&mut self, now: u64) {
        for _ in 0..64 {
            if !self.pump_once(now) {
                break;
            }
        }
        self.flush_writes();
    }

    fn pump_once(&mut self, now: u64) -> bool {
        let mut again = false;
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if let Some(tls) = self.tls.as_mut().filter(|_| !self.tls_paused) {
            let mut buf = vec![0u8; 65536];
            for level in [Level::Initial, Level::Handshake, Level::App] {
                loop {
                    let n = conn.crypto_read(level, &mut buf);
                    if n == 0 {
                        break;
                    }
                    if let Err(alert) = tls.feed(level, &buf[..n]) {
                        conn.tls_error(alert);
                        self.tls_error = Some(alert);
                        break;
                    }
                    again = true;
                }
            }
            while let Some(s) = tls.poll_secret() {
                // Fails only once the connection is closed.
                let _ = conn.install_secret(s.level, s.send, s.cipher, &s.secret);
            }
            if self.is_client && tls.early_data_offered() && !self.remembered_set {
                self.remembered_set = true;
                if let Some(tp) = tls.peer_transport_params() {
                    conn.set_remembered_transport_params_ext(&tp)
                        .expect("remembered transport parameters");
                }
            }
            if !self.is_client && !self.tp_set {
                if let Some(tp) = tls.peer_transport_params() {
                    self.tp_set = true;
                    let _ = conn.set_peer_transport_params_ext(&tp);
                }
            }
            while let Some((level, data)) = tls.poll_output() {
                let _ = conn.crypto_write(level, &data);
            }
            if !self.completed && !self.defer_complete && !tls.is_handshaking() && !tls.failed() {
                if self.is_client && !self.tp_set {
                    self.tp_set = true;
                    if let Some(tp) = tls.peer_transport_params() {
                        let _ = conn.set_peer_transport_params_ext(&tp);
                    }
                    if tls.early_data_offered() && !tls.early_data_accepted() {
                        let _ = conn.early_data_rejected();
                    }
                }
                self.completed = true;
                if conn.handshake_complete().is_ok() {
                    self.completed_at = Some(now);
                }
                again = true;
            }
        }
        while let Some(ev) = conn.poll_event() {
            match &ev {
                Event::CryptoData(_) => again = true,
                Event::StreamReadable(_) => again = true,
                Event::Closed(info) => self.closed = Some(info.duplicate()),
                Event::NewToken(t) => self.tokens.push(t.to_vec()),
                Event::DatagramReceived => {
                    let mut buf = vec![0u8; 65536];
                    while let Some(n) = conn.datagram_recv(&mut buf) {
                        self.datagrams.push(buf[..n].to_vec());
                    }
                }
                _ => {}
            }
            if let Event::StreamReadable(id) = ev {
                if self.auto_read {
                    self.events.push(ev);
                    self.read_stream(id);
                    return true;
                }
            }
            self.events.push(ev);
        }
        again
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: u64,
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
    ecn: u8,
}

/// Which host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The client.
    Client,
    /// The server.
    Server,
}

/// A client and a server over a simulated link.
pub struct Sim {
    /// Simulated time (µs).
    pub now: u64,
    /// The client host.
    pub client: Host,
    /// The server host.
    pub server: Host,
    /// Client to server.
    pub c2s: Link,
    /// Server to client.
    pub s2c: Link,
    queue: BinaryHeap<Reverse<InFlight>>,
    tls: TlsSetup,
    /// Steps in a row that did not move the clock.
    stalled_steps: u32,
    seq: u64,
    link_rng: SimRng,
    engine_rng: SimRng,
    /// NAT in front of the client: (real address, public address).
    pub nat: Option<(SocketAddr, SocketAddr)>,
    /// The server has no connection state (it forgot, e.g. after a reboot).
    pub server_forgot: bool,
    /// Endpoint responses sent: Retry, Version Negotiation, stateless reset.
    pub retries: u64,
    /// Version Negotiation packets sent.
    pub version_negotiations: u64,
    /// Stateless resets sent.
    pub stateless_resets: u64,
    /// Stateless refusals sent (an Initial with CONNECTION_CLOSE, e.g. INVALID_TOKEN).
    pub refusals: u64,
    /// Transmits that carried several datagrams (GSO).
    pub gso_batches: u64,
    /// Print every datagram (set `QUIC_SIM_TRACE=1`).
    pub trace: bool,
    /// Drops a datagram before it reaches the link when it returns true; called with
    /// (sent by the client, datagram).
    pub drop_filter: Option<DropFilter>,
}

/// See [`Sim::drop_filter`].
pub type DropFilter = Box<dyn FnMut(bool, &[u8]) -> bool>;

fn random_cid(rng: &mut SimRng, len: usize) -> ConnectionId {
    let mut b = vec![0u8; len];
    quic_proto::crypto::Rng::fill(rng, &mut b);
    ConnectionId::new(&b).expect("cid")
}

impl Sim {
    /// A client connection (not yet sending: its ClientHello is queued) and a listening server.
    pub fn new(setup: Setup) -> Self {
        let mut engine_rng = SimRng::new(setup.seed.wrapping_mul(7919).wrapping_add(1));
        let mut client = Host::new(setup.client, true);
        let server = Host::new(setup.server, false);
        let scid = random_cid(&mut engine_rng, client.cfg.cid_len);
        let dcid = random_cid(&mut engine_rng, 8);
        let mut conn = Connection::client(
            HostCrypto,
            &client.cfg,
            scid,
            dcid,
            CLIENT_ADDR,
            SERVER_ADDR,
            0,
            &mut engine_rng,
        )
        .expect("client connection");
        if let Some(t) = &setup.token {
            conn.set_token(t).expect("token");
        }
        let mut tp = [0u8; 512];
        let n = conn.local_transport_params_ext(&mut tp).expect("tp");
        client.tls = Some(setup.tls.start(true, conn.version(), &tp[..n], setup.seed));
        client.conn = Some(conn);
        let mut sim = Self {
            now: 0,
            client,
            server,
            c2s: Link::new(setup.c2s),
            s2c: Link::new(setup.s2c),
            queue: BinaryHeap::new(),
            tls: setup.tls,
            stalled_steps: 0,
            seq: 0,
            link_rng: SimRng::new(setup.seed),
            engine_rng,
            nat: None,
            server_forgot: false,
            retries: 0,
            version_negotiations: 0,
            stateless_resets: 0,
            refusals: 0,
            gso_batches: 0,
            trace: std::env::var("QUIC_SIM_TRACE").is_ok_and(|v| v == "1"),
            drop_filter: None,
        };
        sim.client.pump(0);
        sim
    }

    /// The host `who`.
    pub fn host(&mut self, who: Who) -> &mut Host {
        match who {
            Who::Client => &mut self.client,
            Who::Server => &mut self.server,
        }
    }

    fn send_datagram(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
        from_client: bool,
        ecn: EcnCodepoint,
    ) {
        let mut from = from;
        if from_client {
            if let Some((real, public)) = self.nat {
                if from == real {
                    from = public;
                }
            }
        }
        let link = if from_client {
            &mut self.c2s
        } else {
            &mut self.s2c
        };
        let filtered = self
            .drop_filter
            .as_mut()
            .is_some_and(|f| f(from_client, data));
        let fate = if filtered {
            link.sent += 1;
            link.dropped += 1;
            Fate::Drop
        } else {
            link.offer(self.now, data.len(), ecn, &mut self.link_rng)
        };
        if ecn != EcnCodepoint::NotEct {
            link.ecn_marked += 1;
        }
        if self.trace {
            println!(
                "{:>10} {} {} bytes {:?}",
                self.now,
                if from_client { "C->S" } else { "S->C" },
                data.len(),
                match &fate {
                    Fate::Drop => "DROP",
                    Fate::Deliver { .. } => "",
                }
            );
        }
        if let Fate::Deliver {
            at,
            corrupt_bit,
            ecn,
        } = fate
        {
            let mut data = data.to_vec();
            if let Some(bit) = corrupt_bit {
                if let Some(b) = data.get_mut(bit / 8) {
                    *b ^= 1 << (bit % 8);
                }
            }
            for t in at {
                self.seq += 1;
                self.queue.push(Reverse(InFlight {
                    at: t,
                    seq: self.seq,
                    from,
                    to,
                    data: data.clone(),
                    ecn: ecn as u8,
                }));
            }
        }
    }

    fn flush(&mut self, who: Who) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..100_000 {
            let now = self.now;
            let host = self.host(who);
            let Some(conn) = host.conn.as_mut() else {
                return;
            };
            let Some(t) = conn.poll_transmit(now, &mut buf) else {
                return;
            };
            host.tx_bytes += t.len as u64;
            let data = buf[..t.len].to_vec();
            // A GSO buffer is split into its datagrams, as the kernel's UDP_SEGMENT would.
            let seg = t.segment_size.unwrap_or(t.len).max(1);
            if t.segment_size.is_some() {
                self.gso_batches += 1;
            }
            for d in data.chunks(seg) {
                self.send_datagram(t.from, t.to, d, who == Who::Client, t.ecn);
            }
        }
        panic!("poll_transmit never returned None");
    }

    fn deliver(&mut self, mut p: InFlight) {
        if p.to.ip() == SERVER_ADDR.ip() {
            self.deliver_to_server(p);
            return;
        }
        if let Some((real, public)) = self.nat {
            if p.to == public {
                p.to = real;
            }
        }
        let now = self.now;
        self.client.rx_bytes += p.data.len() as u64;
        let ecn = EcnCodepoint::from_tos(p.ecn);
        if let Some(conn) = self.client.conn.as_mut() {
            conn.recv_datagram(now, p.from, p.to, &mut p.data, ecn);
        }
    }

    fn deliver_to_server(&mut self, mut p: InFlight) {
        let now = self.now;
        self.server.rx_bytes += p.data.len() as u64;
        if self.server_forgot {
            self.server.conn = None;
            self.server.tls = None;
        }
        let ecn = EcnCodepoint::from_tos(p.ecn);
        if let Some(conn) = self.server.conn.as_mut() {
            conn.recv_datagram(now, p.from, p.to, &mut p.data, ecn);
            return;
        }
        let mut out = vec![0u8; 1500];
        let d = endpoint::handle(
            &HostCrypto,
            &self.server.cfg,
            now,
            p.from,
            &p.data,
            &mut out,
            &mut self.engine_rng,
        );
        match d {
            Decision::Drop => {}
            Decision::Respond(n) => {
                let first = out[0];
                if first & 0x80 == 0 {
                    self.stateless_resets += 1;
                } else if out[1..5] == [0, 0, 0, 0] {
                    self.version_negotiations += 1;
                } else if matches!(
                    quic_proto::packet::parse(&out[..n], 0, false).map(|p| p.header),
                    Ok(quic_proto::packet::Header::Retry(_))
                ) {
                    self.retries += 1;
                } else {
                    self.refusals += 1;
                }
                self.server.tx_bytes += n as u64;
                let data = out[..n].to_vec();
                self.send_datagram(p.to, p.from, &data, false, EcnCodepoint::NotEct);
            }
            Decision::Accept(a) => {
                let cid = random_cid(&mut self.engine_rng, self.server.cfg.cid_len);
                let mut conn = Connection::server(
                    HostCrypto,
                    &self.server.cfg,
                    &a,
                    cid,
                    p.to,
                    p.from,
                    now,
                    &mut self.engine_rng,
                )
                .expect("server connection");
                conn.recv_datagram(now, p.from, p.to, &mut p.data, ecn);
                if !conn.peer_authenticated() {
                    // A corrupted Initial header: no state for it.
                    return;
                }
                let mut tp = [0u8; 512];
                let n = conn.local_transport_params_ext(&mut tp).expect("tp");
                let seed = self.engine_rng.next_u64();
                self.server.tls = Some(self.tls.start(false, conn.version(), &tp[..n], seed));
                self.server.conn = Some(conn);
            }
        }
    }

    fn next_time(&self) -> Option<u64> {
        let mut t = self.queue.peek().map(|Reverse(p)| p.at);
        for h in [&self.client, &self.server] {
            if let Some(x) = h.conn.as_ref().and_then(|c| c.poll_timeout()) {
                t = Some(t.map_or(x, |y: u64| y.min(x)));
            }
        }
        t
    }

    /// One round: pump both hosts, send what they have, then move the clock to the next
    /// event and deliver / fire it. False when nothing is scheduled any more.
    pub fn step(&mut self) -> bool {
        self.step_until(u64::MAX)
    }

    /// [`Sim::step`], without moving the clock past `cap`.
    pub fn step_until(&mut self, cap: u64) -> bool {
        let now = self.now;
        self.client.pump(now);
        self.server.pump(now);
        self.flush(Who::Client);
        self.flush(Who::Server);
        let Some(t) = self.next_time() else {
            self.now = self.now.max(cap.min(self.now.saturating_add(1)));
            return false;
        };
        if t > cap {
            self.now = self.now.max(cap);
            self.stalled_steps = 0;
            return true;
        }
        if t <= self.now {
            // A deadline in the past that acting on does not clear would spin forever.
            self.stalled_steps += 1;
            assert!(
                self.stalled_steps < 10_000,
                "simulation stuck at {}: client timeout {:?}, server timeout {:?}",
                self.now,
                self.client.conn.as_ref().and_then(|c| c.poll_timeout()),
                self.server.conn.as_ref().and_then(|c| c.poll_timeout()),
            );
        } else {
            self.stalled_steps = 0;
        }
        self.now = self.now.max(t);
        let now = self.now;
        while self.queue.peek().is_some_and(|Reverse(p)| p.at <= now) {
            let Some(Reverse(p)) = self.queue.pop() else {
                break;
            };
            self.deliver(p);
        }
        for who in [Who::Client, Who::Server] {
            if let Some(conn) = self.host(who).conn.as_mut() {
                if conn.poll_timeout().is_some_and(|x| x <= now) {
                    conn.on_timeout(now);
                }
            }
        }
        true
    }

    /// Steps until `done` holds (true) or simulated time passes `until` µs (false).
    pub fn run_until(&mut self, until: u64, mut done: impl FnMut(&mut Sim) -> bool) -> bool {
        loop {
            let now = self.now;
            self.client.pump(now);
            self.server.pump(now);
            if done(self) {
                return true;
            }
            if self.now >= until {
                return done(self);
            }
            if !self.step_until(until) {
                return done(self);
            }
        }
    }

    /// Delivers `data` now to the server (`to_server`) or the client, as if sent by the other
    /// side from its current address.
    pub fn inject(&mut self, to_server: bool, data: Vec<u8>) {
        let (from, to) = if to_server {
            let from = self
                .client
                .conn
                .as_ref()
                .map_or(CLIENT_ADDR, |c| c.local_addr());
            (from, SERVER_ADDR)
        } else {
            let to = self
                .client
                .conn
                .as_ref()
                .map_or(CLIENT_ADDR, |c| c.local_addr());
            (SERVER_ADDR, to)
        };
        self.seq += 1;
        self.queue.push(Reverse(InFlight {
            at: self.now,
            seq: self.seq,
            from,
            to,
            data,
            ecn: 0,
        }));
    }

    /// Runs the handshake until both sides confirmed it, within `limit` µs of simulated time.
    pub fn handshake(&mut self, limit: u64) -> bool {
        let until = self.now + limit;
        self.run_until(until, |s| s.client.confirmed() && s.server.confirmed())
    }

    /// Runs for `duration` µs of simulated time.
    pub fn run_for(&mut self, duration: u64) {
        let until = self.now + duration;
        self.run_until(until, |s| s.now >= until);
    }
}
