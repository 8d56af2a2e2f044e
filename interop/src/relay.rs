//! A UDP impairment relay on loopback: clients send to the relay, the relay forwards to the
//! server from a socket of its own per client flow, and forwards the server's answers back.
//!
//! Each direction can drop (always, or only long-header packets, i.e. during the handshake),
//! reorder (hold a packet back), duplicate, and corrupt (flip one byte among the first 50) a
//! configurable per-mille of packets, and add a fixed delay. The relay can also rebind a flow:
//! after a number of client packets it forwards from a new source port, as a NAT rebinding
//! would, so the server sees the client migrate.
//!
//! Decisions are deterministic: each flow and direction draws from its own SplitMix64 stream
//! seeded from [`RelayConfig::seed`], the same number of draws per packet, so the n-th packet of
//! a direction meets the same fate on every run (timing still comes from the real clock).
//!
//! Only loopback addresses (127.0.0.0/8, ::1) are accepted.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle as TaskHandle;

/// Impairments applied to one direction. Rates are per mille (0..=1000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Impairment {
    /// Packets dropped.
    pub drop_permille: u32,
    /// Drop only long-header packets (Initial, 0-RTT, Handshake): loss during the handshake.
    pub drop_handshake_only: bool,
    /// Packets held back by [`Impairment::reorder_delay`] (later ones overtake them).
    pub reorder_permille: u32,
    /// How long a reordered packet is held.
    pub reorder_delay: Duration,
    /// Packets sent twice.
    pub duplicate_permille: u32,
    /// Packets with one byte among the first 50 flipped.
    pub corrupt_permille: u32,
    /// Fixed one-way delay added to every packet.
    pub delay: Duration,
}

impl Impairment {
    /// No impairment.
    pub const NONE: Self = Self {
        drop_permille: 0,
        drop_handshake_only: false,
        reorder_permille: 0,
        reorder_delay: Duration::ZERO,
        duplicate_permille: 0,
        corrupt_permille: 0,
        delay: Duration::ZERO,
    };

    /// Drops `permille` of all packets.
    pub fn drop(permille: u32) -> Self {
        Self {
            drop_permille: permille,
            ..Self::NONE
        }
    }

    /// Drops `permille` of the long-header (handshake) packets only.
    pub fn drop_handshake(permille: u32) -> Self {
        Self {
            drop_permille: permille,
            drop_handshake_only: true,
            ..Self::NONE
        }
    }
}

/// Relay settings.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Where clients send (port 0: any free port; see [`Relay::addr`]).
    pub listen: SocketAddr,
    /// The server.
    pub server: SocketAddr,
    /// Seed of every random decision.
    pub seed: u64,
    /// Client to server.
    pub to_server: Impairment,
    /// Server to client.
    pub to_client: Impairment,
    /// Rebind a flow's server-side port after this many client packets, and again after every
    /// further `rebind_every` packets (0: once).
    pub rebind_after: Option<u64>,
    /// See [`RelayConfig::rebind_after`].
    pub rebind_every: u64,
}

impl RelayConfig {
    /// A relay to `server` on a free loopback port, without impairment.
    pub fn new(server: SocketAddr) -> Self {
        let listen = if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        Self {
            listen: listen.parse().expect("literal address"),
            server,
            seed: 1,
            to_server: Impairment::NONE,
            to_client: Impairment::NONE,
            rebind_after: None,
            rebind_every: 0,
        }
    }

    /// Same impairment both ways.
    pub fn both(mut self, imp: Impairment) -> Self {
        self.to_server = imp;
        self.to_client = imp;
        self
    }
}

/// Counters of one direction.
#[derive(Debug, Default)]
pub struct DirStats {
    /// Datagrams received by the relay.
    pub received: AtomicU64,
    /// Datagrams sent on (duplicates counted).
    pub sent: AtomicU64,
    /// Dropped.
    pub dropped: AtomicU64,
    /// Held back.
    pub reordered: AtomicU64,
    /// Sent twice.
    pub duplicated: AtomicU64,
    /// Corrupted.
    pub corrupted: AtomicU64,
}

/// Counters of a relay.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Client to server.
    pub to_server: DirStats,
    /// Server to client.
    pub to_client: DirStats,
    /// Client flows seen.
    pub flows: AtomicU64,
    /// Rebindings done.
    pub rebinds: AtomicU64,
}

/// A snapshot of [`DirStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirCounts {
    /// Datagrams received by the relay.
    pub received: u64,
    /// Datagrams sent on.
    pub sent: u64,
    /// Dropped.
    pub dropped: u64,
    /// Held back.
    pub reordered: u64,
    /// Sent twice.
    pub duplicated: u64,
    /// Corrupted.
    pub corrupted: u64,
}

impl DirStats {
    /// Current values.
    pub fn snapshot(&self) -> DirCounts {
        DirCounts {
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            reordered: self.reordered.load(Ordering::Relaxed),
            duplicated: self.duplicated.load(Ordering::Relaxed),
            corrupted: self.corrupted.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for DirCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rx {} tx {} dropped {} reordered {} duplicated {} corrupted {}",
            self.received, self.sent, self.dropped, self.reordered, self.duplicated, self.corrupted
        )
    }
}

/// SplitMix64: small, fast, and good enough to decide packet fates.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `permille`/1000.
    pub fn chance(&mut self, permille: u32) -> bool {
        self.next_u64() % 1000 < u64::from(permille)
    }
}

/// What happens to one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fate {
    /// Not forwarded.
    pub drop: bool,
    /// Flip `corrupt.1` into byte `corrupt.0`.
    pub corrupt: Option<(usize, u8)>,
    /// Sent twice.
    pub duplicate: bool,
    /// Held back.
    pub reorder: bool,
}

/// Decides packet fates for one direction (deterministic given the seed and packet sequence).
#[derive(Clone, Debug)]
pub struct Impairer {
    imp: Impairment,
    rng: SplitMix64,
}

impl Impairer {
    /// A decider for `imp` seeded with `seed`.
    pub fn new(imp: Impairment, seed: u64) -> Self {
        Self {
            imp,
            rng: SplitMix64::new(seed),
        }
    }

    /// The fate of the next packet, whose bytes are `pkt`. Always draws five numbers.
    pub fn decide(&mut self, pkt: &[u8]) -> Fate {
        let d = self.rng.chance(self.imp.drop_permille);
        let c = self.rng.chance(self.imp.corrupt_permille);
        let cpos = self.rng.next_u64();
        let dup = self.rng.chance(self.imp.duplicate_permille);
        let r = self.rng.chance(self.imp.reorder_permille);
        let long = pkt.first().is_some_and(|b| b & 0x80 != 0);
        let drop = d && (!self.imp.drop_handshake_only || long);
        let corrupt = (c && !pkt.is_empty()).then(|| {
            let pos = (cpos % pkt.len().min(50) as u64) as usize;
            // A non-zero XOR mask from other bits of the same draw.
            let mask = ((cpos >> 32) % 255) as u8 + 1;
            (pos, mask)
        });
        Fate {
            drop,
            corrupt,
            duplicate: dup,
            reorder: r,
        }
    }
}

fn check_loopback(a: &SocketAddr) -> io::Result<()> {
    if a.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{a}: the relay works on loopback addresses only"),
        ))
    }
}

/// A running relay; stops when dropped.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    stats: Arc<RelayStats>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Binds the client-facing socket and starts relaying on a thread of its own.
    pub fn start(cfg: RelayConfig) -> io::Result<Self> {
        check_loopback(&cfg.listen)?;
        check_loopback(&cfg.server)?;
        let std_sock = std::net::UdpSocket::bind(cfg.listen)?;
        std_sock.set_nonblocking(true)?;
        let addr = std_sock.local_addr()?;
        let stats = Arc::new(RelayStats::default());
        let (tx, rx) = oneshot::channel();
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("kquic-relay".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("relay: runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    let front = match UdpSocket::from_std(std_sock) {
                        Ok(s) => Arc::new(s),
                        Err(e) => {
                            eprintln!("relay: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        r = run(cfg, front, st) => if let Err(e) = r { eprintln!("relay: {e}") },
                        _ = rx => {}
                    }
                });
            })?;
        Ok(Self {
            addr,
            stats,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Where clients must send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Live counters.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// Stops the relay and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Flow {
    upstream: Arc<UdpSocket>,
    reader: TaskHandle<()>,
    to_server: Impairer,
    packets: u64,
    next_rebind: Option<u64>,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Sends `pkt` from `sock` to `to` after applying `fate` and the direction's delays.
async fn forward(
    sock: &Arc<UdpSocket>,
    to: SocketAddr,
    mut pkt: Vec<u8>,
    fate: Fate,
    imp: &Impairment,
    all: &Arc<RelayStats>,
    to_server: bool,
) {
    let stats = if to_server {
        &all.to_server
    } else {
        &all.to_client
    };
    stats.received.fetch_add(1, Ordering::Relaxed);
    if fate.drop {
        stats.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if let Some((pos, mask)) = fate.corrupt {
        pkt[pos] ^= mask;
        stats.corrupted.fetch_add(1, Ordering::Relaxed);
    }
    let copies = if fate.duplicate {
        stats.duplicated.fetch_add(1, Ordering::Relaxed);
        2
    } else {
        1
    };
    let mut delay = imp.delay;
    if fate.reorder {
        stats.reordered.fetch_add(1, Ordering::Relaxed);
        delay += imp.reorder_delay;
    }
    if delay.is_zero() {
        for _ in 0..copies {
            // A send error (full buffer) is loss, as on a real path.
            if sock.send_to(&pkt, to).await.is_ok() {
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    } else {
        let sock = sock.clone();
        let all = all.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let st = if to_server {
                &all.to_server
            } else {
                &all.to_client
            };
            for _ in 0..copies {
                if sock.send_to(&pkt, to).await.is_ok() {
                    st.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

/// Reads the server's packets for one flow and sends them to the client through `front`.
fn spawn_reader(
    upstream: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    server: SocketAddr,
    mut imp: Impairer,
    stats: Arc<RelayStats>,
) -> TaskHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = match upstream.recv_from(&mut buf).await {
                Ok(x) => x,
                // ICMP errors (e.g. the server is gone) surface here: keep going.
                Err(_) => continue,
            };
            if from != server {
                continue;
            }
            let pkt = buf[..n].to_vec();
            let fate = imp.decide(&pkt);
            let cfg = imp.imp;
            forward(&front, client, pkt, fate, &cfg, &stats, false).await;
        }
    })
}

async fn bind_upstream(server: SocketAddr) -> io::Result<Arc<UdpSocket>> {
    let local: SocketAddr = if server.is_ipv6() {
        "[::1]:0".parse().expect("literal")
    } else {
        "127.0.0.1:0".parse().expect("literal")
    };
    Ok(Arc::new(UdpSocket::bind(local).await?))
}

async fn run(cfg: RelayConfig, front: Arc<UdpSocket>, stats: Arc<RelayStats>) -> io::Result<()> {
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, client) = match front.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => continue,
        };
        if !client.ip().is_loopback() {
            continue;
        }
        let pkt = buf[..n].to_vec();
        if let std::collections::hash_map::Entry::Vacant(slot) = flows.entry(client) {
            let idx = stats.flows.fetch_add(1, Ordering::Relaxed);
            let seed = cfg.seed ^ idx.wrapping_mul(0x2545_f491_4f6c_dd1d);
            let upstream = bind_upstream(cfg.server).await?;
            let reader = spawn_reader(
                upstream.clone(),
                front.clone(),
                client,
                cfg.server,
                Impairer::new(cfg.to_client, seed ^ 0x5555),
                stats.clone(),
            );
            slot.insert(Flow {
                upstream,
                reader,
                to_server: Impairer::new(cfg.to_server, seed ^ 0xaaaa),
                packets: 0,
                next_rebind: cfg.rebind_after,
            });
        }
        let Some(flow) = flows.get_mut(&client) else {
            continue;
        };
        flow.packets += 1;
        if flow.next_rebind.is_some_and(|n| flow.packets > n) {
            // NAT rebinding: from now on the server sees this client at a new port. The old
            // mapping is gone, so its late answers are lost.
            let upstream = bind_upstream(cfg.server).await?;
            let seed = cfg.seed ^ stats.rebinds.load(Ordering::Relaxed) ^ 0x7777;
            let reader = spawn_reader(
                upstream.clone(),
                front.clone(),
                client,
                cfg.server,
                Impairer::new(cfg.to_client, seed),
                stats.clone(),
            );
            flow.reader.abort();
            flow.reader = reader;
            flow.upstream = upstream;
            stats.rebinds.fetch_add(1, Ordering::Relaxed);
            flow.next_rebind = (cfg.rebind_every > 0).then(|| flow.packets + cfg.rebind_every);
        }
        let fate = flow.to_server.decide(&pkt);
        forward(
            &flow.upstream,
            cfg.server,
            pkt,
            fate,
            &cfg.to_server,
            &stats,
            true,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_are_deterministic() {
        let imp = Impairment {
            drop_permille: 300,
            corrupt_permille: 100,
            duplicate_permille: 100,
            reorder_permille: 100,
            ..Impairment::NONE
        };
        let pkts: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; 60]).collect();
        let run = |seed| {
            let mut d = Impairer::new(imp, seed);
            pkts.iter().map(|p| d.decide(p)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let drops = run(7).iter().filter(|f| f.drop).count();
        assert!((30..=90).contains(&drops), "{drops}");
        for f in run(9) {
            if let Some((pos, mask)) = f.corrupt {
                assert!(pos < 50 && mask != 0);
            }
        }
    }

    #[test]
    fn handshake_only_spares_short_headers() {
        let mut d = Impairer::new(Impairment::drop_handshake(1000), 1);
        assert!(d.decide(&[0xc0, 0, 0]).drop);
        assert!(!d.decide(&[0x40, 0, 0]).drop);
    }

    #[test]
    fn refuses_non_loopback() {
        let cfg = RelayConfig::new("192.0.2.1:443".parse().unwrap());
        assert!(Relay::start(cfg).is_err());
    }
}
