//! aioquic (Python) peers. These need the aioquic venv: `interop/aioquic/run.sh` (part of
//! `make interop`) creates it and runs them (feature `aioquic`, `KQUIC_AIOQUIC_PYTHON` set).
//!
//! The quinn ↔ aioquic tests check our Python programs against a third stack; the kquic ones
//! are the point.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::aioquic::{json_field, run_client, AioServer, CertFiles};
use common::kquic::{client, client_tls, start_server_with};
use common::quinn_peer::{Job, QuinnClient, QuinnServer, ServerOpts};
use common::with_runtime;
use quic::tls::{Cipher, QUIC_VERSION_V1, QUIC_VERSION_V2};
use quic_interop::certs::TestCert;

const MB: u64 = 1 << 20;

/// aioquic client arguments: 100 streams of 20 kB each way, 50 datagrams, key updates.
const STREAMS_DATAGRAMS_KEY_UPDATE: &[&str] = &[
    "--streams",
    "100",
    "--up",
    "20000",
    "--down",
    "20000",
    "--datagrams",
    "50",
    "--key-update",
];

fn aio_client_vs_quinn(opts: ServerOpts, args: &[&str]) -> String {
    let cert = TestCert::generate();
    let files = CertFiles::new(&cert, "aio-quinn");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(async { QuinnServer::start(&cert, opts).unwrap() });
    let (report, ok) = run_client(server.addr.port(), &files, args, Duration::from_secs(60));
    eprintln!("aioquic client -> quinn server {args:?}: {report}");
    assert!(ok, "{report}");
    report
}

#[test]
fn aioquic_client_quinn_server_streams_datagrams_key_update() {
    aio_client_vs_quinn(ServerOpts::default(), STREAMS_DATAGRAMS_KEY_UPDATE);
}

#[test]
fn aioquic_client_quinn_server_retry() {
    let r = aio_client_vs_quinn(
        ServerOpts {
            retry: true,
            zero_rtt: false,
        },
        &["--up", "100000", "--down", "100000"],
    );
    assert_eq!(json_field(&r, "streams_ok"), Some("1"));
}

#[test]
fn aioquic_client_quinn_server_zero_rtt() {
    let r = aio_client_vs_quinn(
        ServerOpts {
            retry: false,
            zero_rtt: true,
        },
        &["--zero-rtt", "--version", "v1"],
    );
    assert_eq!(json_field(&r, "early_data_accepted"), Some("true"));
}

#[test]
fn quinn_client_aioquic_server_transfer_retry_zero_rtt() {
    let cert = TestCert::generate();
    let files = CertFiles::new(&cert, "quinn-aio");
    let server = AioServer::start(&files, &["--retry"]);
    with_runtime(90, async move {
        let addr = format!("127.0.0.1:{}", server.port).parse().unwrap();
        let client = QuinnClient::new(&cert.cert_der, true).unwrap();
        let job = Job {
            streams: 20,
            up: 100_000,
            down: 100_000,
            datagrams: 50,
            key_update: true,
        };
        let r = client.run(addr, job, true).await.unwrap();
        assert_eq!(r.streams_ok, 20);
        assert!(r.datagrams_echoed >= 25, "{r:?}");
        let big = Job::transfer(2 * MB, 2 * MB);
        let r = client.run(addr, big, true).await.unwrap();
        assert_eq!(r.zero_rtt, Some(true), "{r:?}");
        eprintln!("quinn -> aioquic: {:.0} Mbit/s", r.mbps(&big));
    });
}

// ---------------------------------------------------------------------------------------------
// aioquic client -> kquic server
// ---------------------------------------------------------------------------------------------

fn aio_client_vs_ours(
    ciphers: Option<&[Cipher]>,
    server: impl FnOnce(&mut quic_interop::peer::ServerConfig),
    args: &[&str],
) -> (String, quic_interop::peer::Server) {
    let cert = TestCert::generate();
    let files = CertFiles::new(&cert, "aio-kquic");
    let srv = start_server_with(&cert, ciphers, server);
    let (report, ok) = run_client(srv.addr().port(), &files, args, Duration::from_secs(60));
    eprintln!("aioquic client -> kquic server {args:?}: {report}");
    assert!(ok, "{report}");
    assert_eq!(srv.stats().errors.load(Ordering::Relaxed), 0);
    (report, srv)
}

/// Our server lists v2 first (by default it prefers v1).
fn prefer_v2(c: &mut quic_interop::peer::ServerConfig) {
    c.engine.versions =
        quic_proto::conn::VersionList::new(&[QUIC_VERSION_V2, QUIC_VERSION_V1]).unwrap();
}

#[test]
fn aioquic_client_kquic_server_streams_datagrams_key_update() {
    let (r, srv) = aio_client_vs_ours(None, |_| {}, STREAMS_DATAGRAMS_KEY_UPDATE);
    assert_eq!(json_field(&r, "streams_ok"), Some("100"));
    assert!(srv.stats().key_updates.load(Ordering::Relaxed) >= 1);
}

#[test]
fn aioquic_client_kquic_server_10mb_each_way() {
    let n = (10 * MB).to_string();
    aio_client_vs_ours(None, |_| {}, &["--up", &n, "--down", &n]);
}

#[test]
fn aioquic_client_kquic_server_1000_streams() {
    let (r, _) = aio_client_vs_ours(
        None,
        |_| {},
        &["--streams", "1000", "--up", "1000", "--down", "1000"],
    );
    assert_eq!(json_field(&r, "streams_ok"), Some("1000"));
}

#[test]
fn aioquic_client_kquic_server_retry() {
    let (_, srv) = aio_client_vs_ours(
        None,
        |c| c.engine.validate_peer_address = true,
        &["--up", "100000", "--down", "100000"],
    );
    assert_eq!(srv.stats().retries.load(Ordering::Relaxed), 1);
}

#[test]
fn aioquic_client_kquic_server_zero_rtt() {
    let (r, srv) = aio_client_vs_ours(None, |_| {}, &["--zero-rtt", "--version", "v1"]);
    assert_eq!(json_field(&r, "early_data_accepted"), Some("true"));
    assert_eq!(srv.stats().zero_rtt_accepted.load(Ordering::Relaxed), 1);
}

#[test]
fn aioquic_client_kquic_server_v2() {
    // Our server prefers v1 by default and would switch a v2 client that also lists v1 back to
    // v1 (compatible version negotiation): make it prefer v2.
    let (r, _) = aio_client_vs_ours(None, prefer_v2, &["--version", "v2", "--up", "100000"]);
    assert_eq!(json_field(&r, "version"), Some("0x6b3343cf"));
}

#[test]
fn aioquic_client_kquic_server_compatible_negotiation_to_v2() {
    // The client starts in v1 listing v2 too; our server prefers v2 and switches (RFC 9368).
    let (r, _) = aio_client_vs_ours(None, prefer_v2, &["--version", "v1", "--versions", "v1,v2"]);
    assert_eq!(json_field(&r, "version"), Some("0x6b3343cf"));
}

#[test]
fn aioquic_client_kquic_server_chacha20_only() {
    let (r, _) = aio_client_vs_ours(
        Some(&[Cipher::Chacha20Poly1305]),
        |_| {},
        &["--chacha", "--up", "1000000", "--down", "1000000"],
    );
    assert_eq!(json_field(&r, "cipher"), Some("CHACHA20_POLY1305_SHA256"));
}

// ---------------------------------------------------------------------------------------------
// kquic client -> aioquic server
// ---------------------------------------------------------------------------------------------

fn ours_vs_aio(
    server_args: &[&str],
    ciphers: Option<&[Cipher]>,
    job: Job,
    f: impl Fn(&mut quic_interop::peer::ClientConfig),
    zero_rtt: bool,
) -> Vec<quic_interop::peer::ClientReport> {
    let cert = TestCert::generate();
    let files = CertFiles::new(&cert, "kquic-aio");
    let srv = AioServer::start(&files, server_args);
    let addr = format!("127.0.0.1:{}", srv.port).parse().unwrap();
    let tls = client_tls(&cert, zero_rtt, ciphers);
    let mut v = vec![client(addr, &tls, job, &f)];
    if zero_rtt {
        v.push(client(addr, &tls, job, |c| {
            f(c);
            c.zero_rtt = true;
        }));
    }
    v
}

#[test]
fn kquic_client_aioquic_server_streams_datagrams_key_update() {
    let job = Job {
        streams: 100,
        up: 20_000,
        down: 20_000,
        datagrams: 50,
        key_update: true,
    };
    let r = ours_vs_aio(&[], None, job, |_| {}, false);
    assert!(r[0].progress.datagrams_echoed >= 25);
    assert!(r[0].progress.key_updates_done >= 1, "{:?}", r[0].progress);
}

#[test]
fn kquic_client_aioquic_server_10mb_each_way() {
    let job = Job::transfer(10 * MB, 10 * MB);
    let r = ours_vs_aio(&[], None, job, |_| {}, false);
    eprintln!(
        "kquic -> aioquic 10 MB each way: {:.0} Mbit/s",
        r[0].mbps(&job)
    );
}

#[test]
fn kquic_client_aioquic_server_1000_streams() {
    let job = Job {
        streams: 1000,
        ..Job::transfer(1000, 1000)
    };
    ours_vs_aio(&[], None, job, |_| {}, false);
}

#[test]
fn kquic_client_aioquic_server_retry() {
    ours_vs_aio(
        &["--retry"],
        None,
        Job::transfer(100_000, 100_000),
        |_| {},
        false,
    );
}

#[test]
fn kquic_client_aioquic_server_zero_rtt() {
    let r = ours_vs_aio(&[], None, Job::transfer(10_000, 10_000), |_| {}, true);
    assert!(r[1].resumed);
    assert_eq!(r[1].zero_rtt, Some(true), "{:?}", r[1]);
}

#[test]
fn kquic_client_aioquic_server_v2() {
    let r = ours_vs_aio(
        &[],
        None,
        Job::transfer(100_000, 100_000),
        |c| {
            // v2 only: aioquic would otherwise switch to v1, its own preference.
            c.version = QUIC_VERSION_V2;
            c.versions = vec![QUIC_VERSION_V2];
        },
        false,
    );
    assert_eq!(r[0].version, QUIC_VERSION_V2);
}

#[test]
fn kquic_client_aioquic_server_compatible_negotiation_to_v2() {
    let r = ours_vs_aio(
        &["--versions", "v2,v1"],
        None,
        Job::transfer(100_000, 100_000),
        |c| {
            // Start in v1, prefer v2: aioquic picks the first of the client's versions it has.
            c.version = QUIC_VERSION_V1;
            c.versions = vec![QUIC_VERSION_V2, QUIC_VERSION_V1];
        },
        false,
    );
    assert_eq!(r[0].version, QUIC_VERSION_V2);
}

#[test]
fn kquic_client_aioquic_server_chacha20_only() {
    let r = ours_vs_aio(
        &["--chacha"],
        Some(&[Cipher::Chacha20Poly1305]),
        Job::transfer(MB, MB),
        |_| {},
        false,
    );
    assert_eq!(r[0].cipher, Some(Cipher::Chacha20Poly1305));
}
