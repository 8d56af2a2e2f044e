//! quic_impair: kquic transfers through impaired links, run in the VM with quic.ko loaded.
//!
//! Each case makes two network namespaces joined by veth (client 192.0.2.1, server 192.0.2.2),
//! impairs both directions with netem or a TBF rate limit, and moves a pseudo-random pattern
//! both ways at once over one stream (client thread in one namespace, server thread in the
//! other, each end's socket made in its own namespace). Both ends compare every byte and the
//! SHA-256 with what was sent. The address change case moves the client to another address in
//! the middle of the transfer: the transfer must then complete intact or fail on both ends with
//! an errno within the idle timeout.
//!
//! Every case runs in its own process under a watchdog (see `kquic_impair::runner`), so a hang
//! is reported (with the tasks' kernel stacks) and killed; each case prints its duration and
//! throughput. `KQUIC_TESTS=a,b` runs only the named cases.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use kquic_impair::netns::{self, Pair, Side, CLIENT_DEV, CLIENT_IP, CLIENT_IP2};
use kquic_impair::runner::{self, Case, Outcome};
use kquic_impair::sys;
use kquic_impair::{
    connect_to, describe_err, errno_name, listener_on, mb_per_s, note, panic_message, pattern,
    read_to_fin, recv_retry, send_all, sha256_hex, slowdown, tls_configs, Context, Failed, Tls,
    CHUNK,
};
use quic::ksock::{client_handshake, server_handshake, Socket};
use quic_uapi::MSG_QUIC_STREAM_NEW;

/// The max_idle_timeout both ends offer.
const IDLE: Duration = Duration::from_secs(10);
/// SO_RCVTIMEO / SO_SNDTIMEO: longer than the idle timeout, which must end a dead connection
/// first.
const SOCK_TIMEOUT: Duration = Duration::from_secs(45);
/// How long after the address change an end may take to report the failure: the idle timeout
/// (the effective one is at least three PTOs, RFC 9000 section 10.1) and some slack: the PTO
/// grows when the host is busy (17.4 s after the change was seen with three VMs on two cores),
/// still well under `SOCK_TIMEOUT`, so a hang fails.
const FAIL_SLACK: Duration = Duration::from_secs(15);

const KB: usize = 1024;
const MB: usize = 1024 * 1024;

/// One impaired-transfer case.
struct Spec {
    /// Bytes each way.
    bytes: usize,
    /// TBF rate on both egresses (`None`: none).
    rate: Option<&'static str>,
    /// netem parameters on both egresses (`None`: none).
    netem: Option<&'static str>,
    /// Move the client to another address once a quarter of the data has arrived.
    change_address: bool,
}

const fn spec(bytes: usize, rate: Option<&'static str>, netem: Option<&'static str>) -> Spec {
    Spec {
        bytes,
        rate,
        netem,
        change_address: false,
    }
}

/// Defines a case function per spec.
macro_rules! cases {
    ($($name:ident = $spec:expr;)*) => {
        $(fn $name() -> Outcome { transfer(stringify!($name), &$spec) })*
    };
}

cases! {
    clean = spec(4 * MB, None, None);
    delay_10ms = spec(2 * MB, None, Some("delay 10ms"));
    delay_100ms = spec(2 * MB, None, Some("delay 100ms"));
    loss_1pct = spec(2 * MB, None, Some("loss 1%"));
    loss_5pct = spec(MB, None, Some("loss 5%"));
    loss_30pct = spec(128 * KB, None, Some("loss 30%"));
    reorder = spec(MB, None, Some("delay 10ms reorder 25% 50%"));
    duplicate = spec(2 * MB, None, Some("duplicate 5%"));
    corrupt = spec(MB, None, Some("corrupt 5%"));
    rate_16mbit = spec(MB, Some("16mbit"), None);
    loss_1pct_delay_50ms = spec(MB, None, Some("delay 50ms loss 1%"));
    address_change = Spec {
        bytes: 4 * MB,
        rate: Some("24mbit"),
        netem: Some("delay 5ms"),
        change_address: true,
    };
}

const CASES: &[Case] = &[
    Case {
        name: "clean",
        deadline: Duration::from_secs(60),
        run: clean,
    },
    Case {
        name: "delay_10ms",
        deadline: Duration::from_secs(60),
        run: delay_10ms,
    },
    Case {
        name: "delay_100ms",
        deadline: Duration::from_secs(60),
        run: delay_100ms,
    },
    Case {
        name: "loss_1pct",
        deadline: Duration::from_secs(60),
        run: loss_1pct,
    },
    Case {
        name: "loss_5pct",
        deadline: Duration::from_secs(60),
        run: loss_5pct,
    },
    Case {
        name: "loss_30pct",
        deadline: Duration::from_secs(90),
        run: loss_30pct,
    },
    Case {
        name: "reorder",
        deadline: Duration::from_secs(60),
        run: reorder,
    },
    Case {
        name: "duplicate",
        deadline: Duration::from_secs(60),
        run: duplicate,
    },
    Case {
        name: "corrupt",
        deadline: Duration::from_secs(60),
        run: corrupt,
    },
    Case {
        name: "rate_16mbit",
        deadline: Duration::from_secs(60),
        run: rate_16mbit,
    },
    Case {
        name: "loss_1pct_delay_50ms",
        deadline: Duration::from_secs(60),
        run: loss_1pct_delay_50ms,
    },
    Case {
        name: "address_change",
        deadline: Duration::from_secs(60),
        run: address_change,
    },
];

/// What one end did, in time since the start of the case's connect.
#[derive(Default)]
struct End {
    /// Handshake done.
    handshake: Option<Duration>,
    /// The last byte (and FIN) of the peer's data read and checked.
    received: Option<Duration>,
    /// sendmsg took the last byte (and FIN).
    sent: Option<Duration>,
    /// Where and when it failed.
    error: Option<EndError>,
    /// The namespace's /proc/net/quic/snmp counters when it was done.
    snmp: String,
}

struct EndError {
    what: String,
    errno: Option<i32>,
    at: Duration,
}

impl End {
    fn fail(&mut self, t0: Instant, what: &str, e: impl std::fmt::Display, errno: Option<i32>) {
        if self.error.is_none() {
            self.error = Some(EndError {
                what: format!("{what}: {e}"),
                errno,
                at: t0.elapsed(),
            });
        }
    }
}

/// One end's transfer on a handshaken socket: sends `out` on stream 0 while reading the peer's
/// data on it, which must equal `expect`. The client opens the stream; the server answers on it
/// once the first bytes are in.
fn duplex(
    s: &Socket,
    client: bool,
    out: &[u8],
    expect: &[u8],
    progress: &AtomicUsize,
    t0: Instant,
    end: &mut End,
) {
    let mut got = Vec::with_capacity(expect.len());
    if !client {
        let mut buf = vec![0u8; CHUNK];
        match recv_retry(s, &mut buf) {
            Ok(r) if r.stream_id == 0 && r.len > 0 => {
                got.extend_from_slice(&buf[..r.len]);
                progress.store(got.len(), Ordering::Relaxed);
                if r.fin() {
                    end.received = Some(t0.elapsed());
                }
            }
            Ok(r) => {
                end.fail(
                    t0,
                    "server's first read",
                    format!("{} bytes on stream {}", r.len, r.stream_id),
                    None,
                );
                return;
            }
            Err(e) => {
                end.fail(
                    t0,
                    "server's first read",
                    describe_err(&e),
                    e.raw_os_error(),
                );
                return;
            }
        }
    }
    let first_flags = if client { MSG_QUIC_STREAM_NEW } else { 0 };
    let (sent, read) = thread::scope(|sc| {
        let sender = sc.spawn(|| send_all(s, out, 0, first_flags, true).map(|()| t0.elapsed()));
        let read = if end.received.is_some() {
            Ok(Vec::new())
        } else {
            let already = got.len();
            read_to_fin(
                s,
                Some(0),
                expect.len() - already,
                Some((progress, already)),
            )
            .map(|(_, d)| d)
        };
        if read.is_ok() {
            progress.store(expect.len(), Ordering::Relaxed);
        }
        let sent = sender.join().unwrap_or_else(|p| {
            Err(Failed {
                at: 0,
                err: std::io::Error::other(panic_message(p)),
            })
        });
        (sent, read.map(|d| (d, t0.elapsed())))
    });
    match read {
        Ok((d, t)) => {
            got.extend_from_slice(&d);
            if got != expect {
                let first_diff = got.iter().zip(expect).position(|(a, b)| a != b);
                end.fail(
                    t0,
                    "data check",
                    format!(
                        "received {} bytes (SHA-256 {}), sent {} (SHA-256 {}); first difference at {:?}",
                        got.len(),
                        &sha256_hex(&got)[..16],
                        expect.len(),
                        &sha256_hex(expect)[..16],
                        first_diff
                    ),
                    None,
                );
            } else if end.received.is_none() {
                end.received = Some(t);
            }
        }
        Err(f) => end.fail(t0, "recvmsg", &f, f.err.raw_os_error()),
    }
    match sent {
        Ok(t) => end.sent = Some(t),
        Err(f) => end.fail(t0, "sendmsg", &f, f.err.raw_os_error()),
    }
}

/// Both ends' results.
struct Run {
    client: End,
    server: End,
    /// When the client's address changed.
    changed_at: Option<Duration>,
    /// Bytes the client had received then.
    changed_after: usize,
}

fn transfer(name: &str, spec: &Spec) -> Outcome {
    match transfer_inner(name, spec) {
        Ok(o) => o,
        Err(e) => Outcome::Fail(e),
    }
}

fn transfer_inner(name: &str, spec: &Spec) -> Result<Outcome, String> {
    let pair = Pair::create(&runner::prefix())?;
    for side in [Side::Client, Side::Server] {
        pair.impair(side, spec.rate, spec.netem)?;
    }
    note!(
        "{name}: {} KiB each way; both directions: {}{}{}",
        spec.bytes / KB,
        spec.rate.map_or(String::new(), |r| format!("tbf rate {r}")),
        if spec.rate.is_some() && spec.netem.is_some() {
            ", "
        } else {
            ""
        },
        spec.netem
            .map_or(String::new(), |n| format!("netem {n} (per datagram)"))
    );
    let tls = Arc::new(tls_configs()?);
    let run = run_pair(&pair, spec, &tls)?;
    judge(name, spec, &run)
}

fn run_pair(pair: &Pair, spec: &Spec, tls: &Arc<Tls>) -> Result<Run, String> {
    let up = Arc::new(pattern(1, spec.bytes));
    let down = Arc::new(pattern(2, spec.bytes));
    let client_progress = Arc::new(AtomicUsize::new(0));
    let server_progress = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let (addr_tx, addr_rx) = mpsc::channel::<Result<SocketAddr, String>>();
    // Each end keeps its socket until both are done (a close would cut what the peer has not
    // read yet), except after a failure, when closing at once lets the peer fail too.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (sdone_tx, sdone_rx) = mpsc::channel::<()>();

    let (s_ns, stls, sp) = (pair.s.clone(), tls.clone(), server_progress.clone());
    let (up2, down2) = (up.clone(), down.clone());
    let server = thread::spawn(move || {
        let mut end = End::default();
        let r = (|| -> Result<Socket, String> {
            netns::enter(&s_ns)?;
            let (l, addr) = listener_on(Pair::server_addr(0), Some(SOCK_TIMEOUT), Some(IDLE))?;
            let _ = addr_tx.send(Ok(addr));
            let (s, _) = l.accept().ctx("accept")?;
            drop(l);
            s.set_read_timeout(Some(SOCK_TIMEOUT)).ctx("SO_RCVTIMEO")?;
            s.set_write_timeout(Some(SOCK_TIMEOUT)).ctx("SO_SNDTIMEO")?;
            server_handshake(&s, &stls.server).ctx("server handshake")?;
            Ok(s)
        })();
        match r {
            Ok(s) => {
                end.handshake = Some(t0.elapsed());
                duplex(&s, false, &down2, &up2, &sp, t0, &mut end);
                end.snmp = sys::quic_snmp_here();
                if end.error.is_none() {
                    let _ = sdone_tx.send(());
                    let _ = done_rx.recv_timeout(SOCK_TIMEOUT);
                }
            }
            Err(e) => {
                let _ = addr_tx.send(Err(e.clone()));
                end.fail(t0, "setup", e, None);
            }
        }
        end
    });
    let addr = addr_rx
        .recv_timeout(SOCK_TIMEOUT)
        .map_err(|e| format!("no listener address: {e}"))??;

    let (c_ns, ctls, cp) = (pair.c.clone(), tls.clone(), client_progress.clone());
    let client = thread::spawn(move || {
        let mut end = End::default();
        let r = (|| -> Result<Socket, String> {
            netns::enter(&c_ns)?;
            let s = connect_to(&addr, Some(SOCK_TIMEOUT), Some(IDLE))?;
            client_handshake(&s, &ctls.client, None)
                .map_err(|e| format!("client handshake: {e} ({})", errno_name(e.raw_os_error())))?;
            Ok(s)
        })();
        match r {
            Ok(s) => {
                end.handshake = Some(t0.elapsed());
                duplex(&s, true, &up, &down, &cp, t0, &mut end);
                end.snmp = sys::quic_snmp_here();
                if end.error.is_none() {
                    let _ = sdone_rx.recv_timeout(SOCK_TIMEOUT);
                }
            }
            Err(e) => end.fail(t0, "setup", e, None),
        }
        let _ = done_tx.send(());
        end
    });

    let mut changed_at = None;
    let mut changed_after = 0;
    if spec.change_address {
        // Once a quarter of the server's data is in: the client's address goes away and a new
        // one takes its place on the same device (a host moving to another address).
        let start = Instant::now();
        while client_progress.load(Ordering::Relaxed) < spec.bytes / 4
            && !client.is_finished()
            && start.elapsed() < SOCK_TIMEOUT
        {
            thread::sleep(Duration::from_millis(5));
        }
        changed_after = client_progress.load(Ordering::Relaxed);
        let dev = CLIENT_DEV;
        netns::ip(&[
            "-n",
            &pair.c,
            "addr",
            "add",
            &format!("{CLIENT_IP2}/24"),
            "dev",
            dev,
        ])?;
        netns::ip(&[
            "-n",
            &pair.c,
            "addr",
            "del",
            &format!("{CLIENT_IP}/24"),
            "dev",
            dev,
        ])?;
        changed_at = Some(t0.elapsed());
        note!(
            "client address {CLIENT_IP} -> {CLIENT_IP2} at {:.2} s, after {} of {} bytes had \
             arrived at the client ({} at the server)",
            t0.elapsed().as_secs_f64(),
            changed_after,
            spec.bytes,
            server_progress.load(Ordering::Relaxed)
        );
    }
    let client = client
        .join()
        .map_err(|p| format!("client thread: {}", panic_message(p)))?;
    let server = server
        .join()
        .map_err(|p| format!("server thread: {}", panic_message(p)))?;
    Ok(Run {
        client,
        server,
        changed_at,
        changed_after,
    })
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn describe_end(who: &str, e: &End) -> String {
    match &e.error {
        None => format!(
            "{who}: handshake {}, all data in at {}, all sent at {}",
            secs(e.handshake),
            secs(e.received),
            secs(e.sent)
        ),
        Some(err) => format!(
            "{who}: {} at {:.2} s (handshake {})",
            err.what,
            err.at.as_secs_f64(),
            secs(e.handshake)
        ),
    }
}

fn judge(name: &str, spec: &Spec, run: &Run) -> Result<Outcome, String> {
    let (c, s) = (&run.client, &run.server);
    note!("{}", describe_end("client", c));
    note!("{}", describe_end("server", s));
    note!("client namespace's /proc/net/quic/snmp: {}", c.snmp);
    note!("server namespace's /proc/net/quic/snmp: {}", s.snmp);
    if c.error.is_none() && s.error.is_none() {
        // Time from the handshake to the last byte each way.
        let hs = c.handshake.unwrap_or_default();
        let up = s.received.unwrap_or_default().saturating_sub(hs);
        let down = c.received.unwrap_or_default().saturating_sub(hs);
        let total = up.max(down);
        note!(
            "{name}: {:.2} MB each way intact (SHA-256 {}.. / {}..) in {:.2} s after a {:.2} s \
             handshake: client->server {:.3} MB/s, server->client {:.3} MB/s, both {:.3} MB/s",
            spec.bytes as f64 / 1e6,
            &sha256_hex(&pattern(1, spec.bytes))[..12],
            &sha256_hex(&pattern(2, spec.bytes))[..12],
            total.as_secs_f64(),
            hs.as_secs_f64(),
            mb_per_s(spec.bytes, up),
            mb_per_s(spec.bytes, down),
            mb_per_s(2 * spec.bytes, total)
        );
        if spec.change_address {
            note!("{name}: kquic followed the address change: the transfer completed intact");
            if run.changed_after >= spec.bytes {
                return Ok(Outcome::Fail(
                    "the transfer ended before the address changed (too fast: make it larger)"
                        .into(),
                ));
            }
        }
        return Ok(Outcome::Pass);
    }
    if !spec.change_address {
        let mut why = Vec::new();
        for (who, e) in [("client", c), ("server", s)] {
            if let Some(err) = &e.error {
                why.push(format!(
                    "{who}: {} at {:.2} s",
                    err.what,
                    err.at.as_secs_f64()
                ));
            }
        }
        return Ok(Outcome::Fail(why.join("; ")));
    }
    // The address changed under the connection and it did not survive: each end that failed
    // must have failed with an errno, within the idle timeout of the change.
    let changed = run.changed_at.unwrap_or_default();
    let mut bad = Vec::new();
    for (who, e) in [("client", c), ("server", s)] {
        let Some(err) = &e.error else { continue };
        let after = err.at.saturating_sub(changed);
        note!(
            "{name}: {who} failed {:.2} s after the address change: {}",
            after.as_secs_f64(),
            err.what
        );
        if err.errno.is_none() {
            bad.push(format!("{who} failed without an errno: {}", err.what));
        }
        if after > IDLE + FAIL_SLACK * slowdown() {
            bad.push(format!(
                "{who} failed {:.1} s after the change, later than the {} s idle timeout",
                after.as_secs_f64(),
                IDLE.as_secs()
            ));
        }
    }
    if bad.is_empty() {
        note!(
            "{name}: kquic did not follow the address change (no migration of a live \
             connection); both ends failed cleanly within the idle timeout"
        );
        Ok(Outcome::Pass)
    } else {
        Ok(Outcome::Fail(bad.join("; ")))
    }
}

fn main() {
    runner::main("quic_impair: kquic transfers through impaired links", CASES)
}
