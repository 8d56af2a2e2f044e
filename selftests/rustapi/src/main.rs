//! libquic's Rust API against quic.ko (run in the VM with the module loaded): a blocking
//! client and server ([`quic::api`]) exchanging streams both ways, a datagram and events, and a
//! tokio runtime ([`quic::tokio`]) serving 20 concurrent connections that each echo a stream.
//!
//! Output is TAP; the exit status is 0 only if every test passed. A watchdog ends a hung run.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use quic::api::{Event, EventKind, Options, QuicConnection, QuicListener, TlsConfig};
use quic::tokio::{AsyncQuicConnection, AsyncQuicListener};
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const ALPN: &str = "kquic-rustapi";
const SERVER_NAME: &str = "kquic.test";
/// Socket timeouts (each handshake wait, each blocking read or write).
const TIMEOUT: Duration = Duration::from_secs(30);
/// The whole run ends (failing) after this long.
const WATCHDOG: Duration = Duration::from_secs(600);
/// Concurrent tokio connections.
const CONNECTIONS: usize = 20;

type TResult = Result<(), String>;

fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Fails the test with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($a:tt)*) => {
        if !$cond {
            return Err(format!($($a)*));
        }
    };
}

/// Client and server TLS configurations around a certificate made now.
fn tls_configs() -> Result<(TlsConfig, TlsConfig), String> {
    let key = ctx(KeyPair::generate(), "key generation")?;
    let params = ctx(
        CertificateParams::new(vec![SERVER_NAME.to_string()]),
        "certificate parameters",
    )?;
    let cert = ctx(params.self_signed(&key), "self-signing")?;
    let der = CertificateDer::from(cert.der().to_vec());
    let server = ctx(
        TlsConfig::server()
            .cert_der(vec![der.clone()])
            .key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )))
            .alpn(ALPN)
            .build(),
        "server config",
    )?;
    let client = ctx(
        TlsConfig::client()
            .ca_der(der)
            .server_name(SERVER_NAME)
            .alpn(ALPN)
            .build(),
        "client config",
    )?;
    Ok((client, server))
}

fn options() -> Options {
    Options::new().alpn(ALPN).timeout(TIMEOUT).datagrams(1200)
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Bytes `i` of a test payload.
fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    fn report(&mut self, name: &str, r: TResult) {
        self.n += 1;
        match r {
            Ok(()) => println!("ok {} {name}", self.n),
            Err(e) => {
                self.failed += 1;
                println!("not ok {} {name} # {}", self.n, e.replace('\n', " "));
            }
        }
    }
}

/// The server of the blocking tests: echoes two streams, opens a stream of its own, answers a
/// datagram, then closes the connection with code 0x42 once the client's last stream arrives.
fn blocking_server(l: QuicListener, done: mpsc::Receiver<()>) -> TResult {
    let (conn, _) = ctx(l.accept(), "accept")?;
    let mut echoes = Vec::new();
    for _ in 0..2 {
        let s = ctx(conn.accept_stream(), "accept_stream")?;
        echoes.push(thread::spawn(move || -> TResult {
            let data = ctx(s.read_to_end_vec(), "server read")?;
            ctx(s.write_all_and_finish(&data), "server echo")
        }));
    }
    for h in echoes {
        h.join().map_err(|_| "echo thread panicked".to_string())??;
    }
    let u = ctx(conn.open_stream(true), "server open_stream(uni)")?;
    ctx(
        u.write_all_and_finish(b"from the server"),
        "server uni write",
    )?;
    let d = ctx(conn.recv_datagram(), "server recv_datagram")?;
    let back: Vec<u8> = d.iter().rev().copied().collect();
    ctx(conn.send_datagram(&back), "server send_datagram")?;
    let last = ctx(conn.accept_stream(), "accept last stream")?;
    ctx(last.read_to_end_vec(), "read last stream")?;
    ctx(conn.close(0x42, "bye"), "close")?;
    let _ = done.recv_timeout(TIMEOUT);
    Ok(())
}

fn blocking_tests(tap: &mut Tap, client_tls: &TlsConfig, server_tls: &TlsConfig) {
    let l = match QuicListener::bind(loopback(), server_tls.clone(), options()) {
        Ok(l) => l,
        Err(e) => return tap.report("blocking_handshake", Err(format!("bind: {e}"))),
    };
    let addr = match l.local_addr() {
        Ok(a) => a,
        Err(e) => return tap.report("blocking_handshake", Err(format!("local_addr: {e}"))),
    };
    let (done_tx, done_rx) = mpsc::channel();
    let server = thread::spawn(move || blocking_server(l, done_rx));
    let opts = options()
        .event(EventKind::KeyUpdate)
        .event(EventKind::ConnectionClose);
    let conn = QuicConnection::connect(addr, client_tls, &opts);
    tap.report(
        "blocking_handshake",
        conn.as_ref()
            .map_err(|e| format!("connect: {e}"))
            .and_then(|c| {
                let alpn = c.handshake_info().alpn_str();
                ensure!(alpn == ALPN, "ALPN {alpn:?}");
                Ok(())
            }),
    );
    let Ok(conn) = conn else {
        drop(done_tx);
        let _ = server.join();
        return;
    };

    // Two streams written and read from two threads at once.
    let r = (|| {
        let mut hs = Vec::new();
        for seed in 0..2 {
            let s = ctx(conn.open_stream(false), "open_stream")?;
            hs.push(thread::spawn(move || -> TResult {
                let data = pattern(seed, 256 * 1024 + seed);
                ctx(s.write_all_and_finish(&data), "write")?;
                let got = ctx(s.read_to_end_vec(), "read")?;
                ensure!(
                    got == data,
                    "stream {}: {} bytes back of {}",
                    s.id(),
                    got.len(),
                    data.len()
                );
                Ok(())
            }));
        }
        for h in hs {
            h.join()
                .map_err(|_| "stream thread panicked".to_string())??;
        }
        Ok(())
    })();
    tap.report("blocking_stream_echo_two_threads", r);

    let r = (|| {
        let s = ctx(conn.accept_stream(), "accept_stream")?;
        ensure!(s.id() & 3 == 3, "server stream id {}", s.id());
        let got = ctx(s.read_to_end_vec(), "read")?;
        ensure!(got == b"from the server", "got {got:?}");
        Ok(())
    })();
    tap.report("blocking_accept_server_uni_stream", r);

    let r = (|| {
        ctx(conn.send_datagram(b"datagram"), "send_datagram")?;
        let d = ctx(conn.recv_datagram(), "recv_datagram")?;
        ensure!(d == b"margatad", "datagram back {d:?}");
        Ok(())
    })();
    tap.report("blocking_datagram", r);

    let r = (|| {
        ctx(conn.key_update(), "key_update")?;
        let s = ctx(conn.open_stream(false), "open_stream")?;
        ctx(s.write_all_and_finish(b"last"), "write last")?;
        let ev = ctx(conn.next_event(), "next_event")?;
        ensure!(ev == Event::KeyUpdate { phase: 1 }, "first event {ev:?}");
        let ev = ctx(conn.next_event(), "next_event")?;
        match ev {
            Event::ConnectionClose(c) => {
                ensure!(c.errcode == 0x42, "close code {:#x}", c.errcode);
                ensure!(c.phrase_bytes() == b"bye", "phrase {:?}", c.phrase_bytes());
            }
            e => return Err(format!("second event {e:?}")),
        }
        Ok(())
    })();
    tap.report("blocking_events_key_update_and_close", r);
    drop(done_tx);
    let r = server
        .join()
        .map_err(|_| "server thread panicked".to_string())
        .and_then(|r| r);
    tap.report("blocking_server_side", r);
}

/// Resumption through the kernel: the server's NewSessionTicket reaches the client as a
/// NEW_SESSION_TICKET event that `recv` hands to rustls, so a second connection with the same
/// client configuration resumes.
fn blocking_resumption() -> TResult {
    // Fresh configurations: the shared client's cache holds tickets of the earlier tests.
    let (client_tls, server_tls) = tls_configs()?;
    let client_tls = &client_tls;
    let l = ctx(
        QuicListener::bind(loopback(), server_tls.clone(), options()),
        "bind",
    )?;
    let addr = ctx(l.local_addr(), "local_addr")?;
    let server = thread::spawn(move || -> TResult {
        for _ in 0..2 {
            let (conn, _) = ctx(l.accept(), "accept")?;
            let s = ctx(conn.accept_stream(), "accept_stream")?;
            let data = ctx(s.read_to_end_vec(), "server read")?;
            ctx(s.write_all_and_finish(&data), "server echo")?;
            // Until the client has read the echo and closed.
            let _ = conn.accept_stream();
        }
        Ok(())
    });
    let r = (|| {
        let mut resumed = Vec::new();
        for i in 0..2 {
            let conn = ctx(
                QuicConnection::connect(addr, client_tls, &options()),
                "connect",
            )?;
            resumed.push(conn.handshake_info().resumed);
            let s = ctx(conn.open_stream(false), "open_stream")?;
            let data = pattern(i, 1000);
            ctx(s.write_all_and_finish(&data), "write")?;
            let got = ctx(s.read_to_end_vec(), "read")?;
            ensure!(got == data, "echo of connection {i} differs");
            ctx(conn.close(0, "done"), "close")?;
        }
        ensure!(
            resumed == [false, true],
            "resumed flags of the two connections: {resumed:?}"
        );
        Ok(())
    })();
    let s = server
        .join()
        .map_err(|_| "server thread panicked".to_string())?;
    r.and(s)
}

async fn tokio_concurrent(client_tls: TlsConfig, server_tls: TlsConfig) -> TResult {
    let l = ctx(
        AsyncQuicListener::bind(loopback(), server_tls, options()),
        "bind",
    )?;
    let addr = ctx(l.local_addr(), "local_addr")?;
    let server = tokio::spawn(async move {
        loop {
            let Ok(inc) = l.accept_incoming().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(conn) = inc.handshake().await else {
                    return;
                };
                while let Ok(s) = conn.accept_stream().await {
                    tokio::spawn(async move {
                        if let Ok(data) = s.read_to_end().await {
                            let _ = s.write_all(&data).await;
                            let _ = s.finish().await;
                        }
                    });
                }
            });
        }
    });
    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let tls = client_tls.clone();
        clients.push(tokio::spawn(async move {
            let conn = ctx(
                AsyncQuicConnection::connect(addr, tls, options()).await,
                "connect",
            )?;
            let data = pattern(i, 64 * 1024 + i);
            let s = ctx(conn.open_stream(false), "open_stream")?;
            ctx(s.write_all(&data).await, "write")?;
            ctx(s.finish().await, "finish")?;
            let got = ctx(s.read_to_end().await, "read")?;
            ensure!(got == data, "{} bytes back of {}", got.len(), data.len());
            Ok::<(), String>(())
        }));
    }
    let mut errors = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        match c.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("connection {i}: {e}")),
            Err(e) => errors.push(format!("connection {i}: task {e}")),
        }
    }
    server.abort();
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(())
}

async fn tokio_datagram_and_streams(client_tls: TlsConfig, server_tls: TlsConfig) -> TResult {
    let l = ctx(
        AsyncQuicListener::bind(loopback(), server_tls, options()),
        "bind",
    )?;
    let addr = ctx(l.local_addr(), "local_addr")?;
    let server = tokio::spawn(async move {
        let (conn, _) = ctx(l.accept().await, "accept")?;
        let d = ctx(conn.recv_datagram().await, "recv_datagram")?;
        ctx(conn.send_datagram(&d).await, "send_datagram")?;
        let u = ctx(conn.open_stream(true), "open_stream(uni)")?;
        ctx(u.write_all(b"async uni").await, "uni write")?;
        ctx(u.finish().await, "uni finish")?;
        // Hold the connection until the client is done with it.
        let s = ctx(conn.accept_stream().await, "accept_stream")?;
        ctx(s.read_to_end().await, "read")?;
        Ok::<(), String>(())
    });
    let conn = ctx(
        AsyncQuicConnection::connect(addr, client_tls, options()).await,
        "connect",
    )?;
    ctx(conn.send_datagram(b"async datagram").await, "send_datagram")?;
    let d = ctx(conn.recv_datagram().await, "recv_datagram")?;
    ensure!(d == b"async datagram", "datagram back {d:?}");
    let u = ctx(conn.accept_stream().await, "accept_stream")?;
    let got = ctx(u.read_to_end().await, "read uni")?;
    ensure!(got == b"async uni", "uni stream {got:?}");
    let s = ctx(conn.open_stream(false), "open_stream")?;
    ctx(s.write_all(b"done").await, "write")?;
    ctx(s.finish().await, "finish")?;
    match server.await {
        Ok(r) => r,
        Err(e) => Err(format!("server task {e}")),
    }
}

fn main() {
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        println!("Bail out! watchdog: no end after {WATCHDOG:?}");
        std::process::exit(1);
    });
    println!("TAP version 13");
    println!("1..10");
    let mut tap = Tap { n: 0, failed: 0 };
    let (client_tls, server_tls) = match tls_configs() {
        Ok(t) => t,
        Err(e) => {
            println!("Bail out! {e}");
            std::process::exit(1);
        }
    };
    blocking_tests(&mut tap, &client_tls, &server_tls);
    // Skipped blocking tests still count: keep the plan.
    while tap.n < 6 {
        tap.report(
            "blocking (not reached)",
            Err("an earlier step failed".into()),
        );
    }
    tap.report("blocking_resumption", blocking_resumption());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match rt {
        Ok(rt) => {
            let r = rt.block_on(tokio_datagram_and_streams(
                client_tls.clone(),
                server_tls.clone(),
            ));
            tap.report("tokio_datagram_and_uni_stream", r);
            let r = rt.block_on(tokio_concurrent(client_tls.clone(), server_tls.clone()));
            tap.report("tokio_20_concurrent_echo_connections", r);
            let r = rt.block_on(async {
                // A connection refused: the handshake fails with an error, not a hang.
                let opts = options().timeout(Duration::from_secs(3));
                match AsyncQuicConnection::connect(
                    SocketAddr::from(([127, 0, 0, 1], 9)),
                    client_tls.clone(),
                    opts,
                )
                .await
                {
                    Ok(_) => Err("connected to a closed port".to_string()),
                    Err(_) => Ok(()),
                }
            });
            tap.report("tokio_connect_to_closed_port_fails", r);
        }
        Err(e) => {
            for name in [
                "tokio_datagram_and_uni_stream",
                "tokio_20_concurrent_echo_connections",
                "tokio_connect_to_closed_port_fails",
            ] {
                tap.report(name, Err(format!("runtime: {e}")));
            }
        }
    }
    std::process::exit(i32::from(tap.failed != 0));
}
