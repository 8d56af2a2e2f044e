//! libquic's Rust API against quic.ko (run in the VM with the module loaded): a blocking
//! client and server ([`quic::api`]) exchanging streams both ways, a datagram and events, and a
//! tokio runtime ([`quic::tokio`]) serving 20 concurrent connections that each echo a stream,
//! `AsyncRead`/`AsyncWrite` streams through `tokio::io::copy`, mutual TLS (client
//! certificates), an RSA-2048 server certificate and missing-file errors.
//!
//! Output is TAP; the exit status is 0 only if every test passed. A watchdog ends a hung run.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use quic::api::{Event, EventKind, Options, QuicConnection, QuicListener, TlsConfig};
use quic::tokio::{AsyncQuicConnection, AsyncQuicListener};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// `AsyncRead`/`AsyncWrite` on streams: the server echoes every stream with
/// `tokio::io::copy` (one handle reads, a clone writes, `shutdown` sends the FIN); the client
/// drives 6 streams at once, each written with `write_all` + `shutdown` in one task and read
/// with `read_to_end` in another, and checks every byte.
async fn tokio_io_traits(client_tls: TlsConfig, server_tls: TlsConfig) -> TResult {
    const STREAMS: usize = 6;
    let l = ctx(
        AsyncQuicListener::bind(loopback(), server_tls, options()),
        "bind",
    )?;
    let addr = ctx(l.local_addr(), "local_addr")?;
    let server = tokio::spawn(async move {
        let (conn, _) = ctx(l.accept().await, "accept")?;
        let mut echoes = Vec::new();
        for _ in 0..STREAMS {
            let s = ctx(conn.accept_stream().await, "accept_stream")?;
            echoes.push(tokio::spawn(async move {
                let (mut r, mut w) = (s.clone(), s);
                let n = ctx(tokio::io::copy(&mut r, &mut w).await, "io::copy")?;
                ctx(AsyncWriteExt::shutdown(&mut w).await, "shutdown")?;
                Ok::<u64, String>(n)
            }));
        }
        let mut total = 0;
        for e in echoes {
            total += e.await.map_err(|e| format!("echo task {e}"))??;
        }
        // Until the client has read everything and closes.
        let _ = conn.accept_stream().await;
        Ok::<u64, String>(total)
    });
    let conn = ctx(
        AsyncQuicConnection::connect(addr, client_tls, options()).await,
        "connect",
    )?;
    let mut tasks = Vec::new();
    let mut expect = 0u64;
    for i in 0..STREAMS {
        let s = ctx(conn.open_stream(false), "open_stream")?;
        let data = pattern(100 + i, 100 * 1024 + 4099 * i);
        expect += data.len() as u64;
        let mut w = s.clone();
        let writer = tokio::spawn(async move {
            // Uneven chunks, so that writes and reads do not line up.
            for chunk in data.chunks(7000 + i) {
                AsyncWriteExt::write_all(&mut w, chunk)
                    .await
                    .map_err(|e| format!("write_all: {e}"))?;
            }
            AsyncWriteExt::flush(&mut w)
                .await
                .map_err(|e| format!("flush: {e}"))?;
            AsyncWriteExt::shutdown(&mut w)
                .await
                .map_err(|e| format!("shutdown: {e}"))?;
            Ok::<Vec<u8>, String>(data)
        });
        let mut r = s;
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            AsyncReadExt::read_to_end(&mut r, &mut got)
                .await
                .map_err(|e| format!("read_to_end: {e}"))?;
            Ok::<Vec<u8>, String>(got)
        });
        tasks.push((writer, reader));
    }
    let mut errors = Vec::new();
    for (i, (w, r)) in tasks.into_iter().enumerate() {
        let sent = w.await.map_err(|e| e.to_string()).and_then(|r| r);
        let got = r.await.map_err(|e| e.to_string()).and_then(|r| r);
        match (sent, got) {
            (Ok(sent), Ok(got)) if sent == got => {}
            (Ok(sent), Ok(got)) => errors.push(format!(
                "stream {i}: {} bytes back of {}, first difference at {:?}",
                got.len(),
                sent.len(),
                sent.iter().zip(&got).position(|(a, b)| a != b)
            )),
            (Err(e), _) | (_, Err(e)) => errors.push(format!("stream {i}: {e}")),
        }
    }
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    // The last stream lets the server go.
    let s = ctx(conn.open_stream(false), "open_stream")?;
    ctx(s.write_all(b"bye").await, "write")?;
    ctx(s.finish().await, "finish")?;
    let echoed = match server.await {
        Ok(r) => r?,
        Err(e) => return Err(format!("server task {e}")),
    };
    ensure!(echoed == expect, "server copied {echoed} bytes of {expect}");
    Ok(())
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

/// A CA, and a client certificate (clientAuth) it signed.
struct ClientPki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

fn client_pki(name: &str) -> Result<ClientPki, String> {
    let ca_key = ctx(KeyPair::generate(), "CA key")?;
    let mut ca_params = ctx(CertificateParams::new(Vec::<String>::new()), "CA params")?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, name);
    let ca = ctx(ca_params.self_signed(&ca_key), "CA")?;
    let key = ctx(KeyPair::generate(), "client key")?;
    let mut params = ctx(
        CertificateParams::new(vec!["client.kquic.test".to_string()]),
        "client params",
    )?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = ctx(params.signed_by(&key, &ca, &ca_key), "client certificate")?;
    Ok(ClientPki {
        ca: CertificateDer::from(ca.der().to_vec()),
        chain: vec![CertificateDer::from(leaf.der().to_vec())],
        key: key.serialize_der(),
    })
}

/// The server's certificate and key (self-signed, ECDSA) as DER.
fn server_identity() -> Result<(CertificateDer<'static>, Vec<u8>), String> {
    let key = ctx(KeyPair::generate(), "key generation")?;
    let params = ctx(
        CertificateParams::new(vec![SERVER_NAME.to_string()]),
        "certificate parameters",
    )?;
    let cert = ctx(params.self_signed(&key), "self-signing")?;
    Ok((
        CertificateDer::from(cert.der().to_vec()),
        key.serialize_der(),
    ))
}

/// One blocking connection to a server made with `server_tls`: the client sends `hello` on a
/// stream and reads the echo. Returns the client's and the server's results; the server's
/// carries the client certificate chain it saw.
fn one_connection(
    client_tls: &TlsConfig,
    server_tls: &TlsConfig,
) -> (TResult, Result<Vec<CertificateDer<'static>>, String>) {
    let l = match QuicListener::bind(loopback(), server_tls.clone(), options()) {
        Ok(l) => l,
        Err(e) => return (Err(format!("bind: {e}")), Err("no server".into())),
    };
    let addr = match l.local_addr() {
        Ok(a) => a,
        Err(e) => return (Err(format!("local_addr: {e}")), Err("no server".into())),
    };
    let server = thread::spawn(move || {
        let (conn, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
        let certs = conn.handshake_info().peer_certificates.clone();
        let s = ctx(conn.accept_stream(), "accept_stream")?;
        let data = ctx(s.read_to_end_vec(), "server read")?;
        ctx(s.write_all_and_finish(&data), "server echo")?;
        let _ = conn.accept_stream();
        Ok(certs)
    });
    let client = (|| {
        let conn = ctx(
            QuicConnection::connect(
                addr,
                client_tls,
                &options().timeout(Duration::from_secs(10)),
            ),
            "connect",
        )?;
        let s = ctx(conn.open_stream(false), "open_stream")?;
        ctx(s.write_all_and_finish(b"hello"), "write")?;
        let got = ctx(s.read_to_end_vec(), "read")?;
        ensure!(got == b"hello", "echo {got:?}");
        ctx(conn.close(0, "done"), "close")?;
        Ok(())
    })();
    let server = server
        .join()
        .unwrap_or_else(|_| Err("server thread panicked".into()));
    (client, server)
}

/// Mutual TLS: the server requires a client certificate signed by its client CA. A client
/// with one gets in (the server sees its certificate); a client without one, and a client
/// whose certificate another CA signed, are refused with clear errors on both ends.
fn mutual_tls() -> TResult {
    let (server_cert, server_key) = server_identity()?;
    let clients = client_pki("kquic client CA")?;
    let strangers = client_pki("some other CA")?;
    let server_tls = ctx(
        TlsConfig::server()
            .cert_der(vec![server_cert.clone()])
            .key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key)))
            .client_auth_ca_der(clients.ca.clone())
            .alpn(ALPN)
            .build(),
        "server config",
    )?;
    let client = |who: Option<&ClientPki>| {
        let b = TlsConfig::client()
            .ca_der(server_cert.clone())
            .server_name(SERVER_NAME)
            .alpn(ALPN);
        let b =
            match who {
                Some(p) => b.cert_der(p.chain.clone()).key_der(PrivateKeyDer::Pkcs8(
                    PrivatePkcs8KeyDer::from(p.key.clone()),
                )),
                None => b,
            };
        ctx(b.build(), "client config")
    };
    let (c, s) = one_connection(&client(Some(&clients))?, &server_tls);
    c.map_err(|e| format!("client with a certificate: {e}"))?;
    let seen = s.map_err(|e| format!("server, client with a certificate: {e}"))?;
    ensure!(
        seen == clients.chain,
        "server saw {} client certificates, not the client's",
        seen.len()
    );
    for (what, who, alert) in [
        ("no client certificate", None, "0x174"),
        ("a certificate of another CA", Some(&strangers), "0x130"),
    ] {
        let (c, s) = one_connection(&client(who)?, &server_tls);
        let Err(se) = s else {
            return Err(format!("{what}: the server accepted the client"));
        };
        ensure!(
            se.contains(alert),
            "{what}: server error {se:?} (want CRYPTO_ERROR {alert})"
        );
        let Err(ce) = c else {
            return Err(format!("{what}: the client's exchange succeeded"));
        };
        println!("# {what}: server: {se}; client: {ce}");
    }
    Ok(())
}

/// RSA-2048: openssl makes the key, rcgen the certificate; server and client load them from
/// files (`cert_file`/`key_file`/`ca_file`) and echo a stream.
fn rsa_2048() -> TResult {
    let dir = std::env::temp_dir().join(format!("kquic-rustapi-rsa-{}", std::process::id()));
    ctx(std::fs::create_dir_all(&dir), "temp dir")?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = ctx(
        std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .stderr(std::process::Stdio::null())
            .status(),
        "openssl genpkey",
    )?;
    ensure!(st.success(), "openssl genpkey: {st}");
    let pem = ctx(std::fs::read_to_string(&key), "read key")?;
    let kp = ctx(
        KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256),
        "RSA key",
    )?;
    // 2048-bit modulus: the DER RSAPublicKey is 270 bytes.
    ensure!(
        kp.public_key_raw().len() == 270,
        "public key of {} bytes",
        kp.public_key_raw().len()
    );
    let c = ctx(
        ctx(
            CertificateParams::new(vec![SERVER_NAME.to_string()]),
            "params",
        )?
        .self_signed(&kp),
        "RSA certificate",
    )?;
    ctx(std::fs::write(&cert, c.pem()), "write cert")?;
    let server_tls = ctx(
        TlsConfig::server()
            .cert_file(&cert)
            .key_file(&key)
            .alpn(ALPN)
            .build(),
        "server config",
    )?;
    let client_tls = ctx(
        TlsConfig::client()
            .ca_file(&cert)
            .server_name(SERVER_NAME)
            .alpn(ALPN)
            .build(),
        "client config",
    )?;
    let (c, s) = one_connection(&client_tls, &server_tls);
    let _ = std::fs::remove_dir_all(&dir);
    c?;
    s.map(drop)
}

/// Missing files: building a configuration fails with an I/O error of kind NotFound (ENOENT)
/// naming the file.
fn missing_files() -> TResult {
    for (what, r) in [
        (
            "cert",
            TlsConfig::server()
                .cert_file("/nonexistent/cert.pem")
                .key_file("/nonexistent/key.pem")
                .build(),
        ),
        (
            "CA",
            TlsConfig::client()
                .ca_file("/nonexistent/ca.pem")
                .server_name(SERVER_NAME)
                .build(),
        ),
    ] {
        let Err(e) = r else {
            return Err(format!("{what}: built"));
        };
        ensure!(e.os_error() == Some(libc_enoent()), "{what}: {e}");
        let io: std::io::Error = e.into();
        ensure!(io.kind() == std::io::ErrorKind::NotFound, "{what}: {io}");
    }
    Ok(())
}

/// `ENOENT` on Linux (this crate does not link libc).
const fn libc_enoent() -> i32 {
    2
}

fn main() {
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        println!("Bail out! watchdog: no end after {WATCHDOG:?}");
        std::process::exit(1);
    });
    println!("TAP version 13");
    println!("1..14");
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
    tap.report("mutual_tls_client_certificates", mutual_tls());
    tap.report("rsa_2048_certificate", rsa_2048());
    tap.report("missing_files_are_enoent", missing_files());
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
            let r = rt.block_on(tokio_io_traits(client_tls.clone(), server_tls.clone()));
            tap.report("tokio_asyncread_asyncwrite_io_copy_6_streams", r);
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
                "tokio_asyncread_asyncwrite_io_copy_6_streams",
                "tokio_connect_to_closed_port_fails",
            ] {
                tap.report(name, Err(format!("runtime: {e}")));
            }
        }
    }
    std::process::exit(i32::from(tap.failed != 0));
}
