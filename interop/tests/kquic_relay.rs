//! Our engine through the impairment relay: loss during the handshake, loss with reordering,
//! duplication and corruption all the time, NAT rebinding mid-transfer; against our own server
//! and against quinn. Transfers must complete and check out.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::kquic::{client, client_tls, start_server};
use common::quinn_peer::{QuinnClient, QuinnServer, ServerOpts};
use common::with_runtime;
use quic_interop::certs::TestCert;
use quic_interop::relay::{Impairment, Relay, RelayConfig};
use quic_interop::workload::Job;

const MB: u64 = 1 << 20;

fn mixed() -> Impairment {
    Impairment {
        drop_permille: 50,
        reorder_permille: 50,
        reorder_delay: Duration::from_millis(5),
        duplicate_permille: 20,
        corrupt_permille: 10,
        ..Impairment::NONE
    }
}

fn report(relay: &Relay) {
    let s = relay.stats();
    eprintln!(
        "relay: to server: {}; to client: {}; rebinds {}",
        s.to_server.snapshot(),
        s.to_client.snapshot(),
        s.rebinds.load(Ordering::Relaxed)
    );
}

/// Our client to our server through a relay set up by `cfg`.
fn ours_through(
    cfg: impl FnOnce(&mut RelayConfig),
    job: Job,
) -> (Relay, quic_interop::peer::Server) {
    let cert = TestCert::generate();
    let server = start_server(&cert, false);
    let mut rc = RelayConfig::new(server.addr());
    rc.seed = 11;
    cfg(&mut rc);
    let relay = Relay::start(rc).expect("relay");
    let tls = client_tls(&cert, false, None);
    client(relay.addr(), &tls, job, |_| {});
    report(&relay);
    (relay, server)
}

/// `conns` connections (each a new client port, hence new random decisions) with handshake
/// packets dropped at `permille`; at least one Initial or Handshake datagram must really be lost.
fn handshake_loss(permille: u32, conns: usize) {
    let cert = TestCert::generate();
    let server = start_server(&cert, false);
    let mut rc = RelayConfig::new(server.addr()).both(Impairment::drop_handshake(permille));
    rc.seed = 3;
    let relay = Relay::start(rc).expect("relay");
    let tls = client_tls(&cert, false, None);
    for _ in 0..conns {
        client(relay.addr(), &tls, Job::transfer(20_000, 20_000), |_| {});
    }
    client(relay.addr(), &tls, Job::transfer(MB, MB), |_| {});
    report(&relay);
    let s = relay.stats();
    let dropped = s.to_server.snapshot().dropped + s.to_client.snapshot().dropped;
    assert!(
        dropped > 0,
        "no handshake packet was dropped: the test proved nothing"
    );
    assert_eq!(server.stats().errors.load(Ordering::Relaxed), 0);
}

#[test]
fn kquic_pair_handshake_loss_5() {
    handshake_loss(50, 20);
}

#[test]
fn kquic_pair_handshake_loss_30() {
    handshake_loss(300, 10);
}

#[test]
fn kquic_pair_loss_5_always() {
    ours_through(
        |c| *c = c.clone().both(Impairment::drop(50)),
        Job::transfer(2 * MB, 2 * MB),
    );
}

#[test]
fn kquic_pair_loss_reorder_dup_corrupt() {
    ours_through(
        |c| *c = c.clone().both(mixed()),
        Job::transfer(2 * MB, 2 * MB),
    );
}

#[test]
fn kquic_pair_survives_rebinding() {
    let (relay, server) = ours_through(
        |c| {
            c.rebind_after = Some(300);
            c.rebind_every = 1500;
        },
        Job::transfer(4 * MB, 4 * MB),
    );
    assert!(relay.stats().rebinds.load(Ordering::Relaxed) >= 1);
    assert!(server.stats().migrations.load(Ordering::Relaxed) >= 1);
}

#[test]
fn kquic_client_active_migration() {
    let cert = TestCert::generate();
    let server = start_server(&cert, false);
    let tls = client_tls(&cert, false, None);
    let r = client(server.addr(), &tls, Job::transfer(2 * MB, 2 * MB), |c| {
        c.migrate_after = Some(MB / 2);
    });
    assert!(r.progress.migrations >= 1, "{:?}", r.progress);
}

#[test]
fn kquic_client_quinn_server_through_loss_and_rebinding() {
    let cert = TestCert::generate();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server =
        rt.block_on(async { QuinnServer::start(&cert, ServerOpts::default()).expect("quinn") });
    let mut rc = RelayConfig::new(server.addr).both(mixed());
    rc.rebind_after = Some(500);
    let relay = Relay::start(rc).expect("relay");
    let tls = client_tls(&cert, false, None);
    client(relay.addr(), &tls, Job::transfer(2 * MB, 2 * MB), |_| {});
    report(&relay);
}

#[test]
fn quinn_client_kquic_server_through_loss_and_rebinding() {
    let cert = TestCert::generate();
    let server = start_server(&cert, false);
    let mut rc = RelayConfig::new(server.addr()).both(mixed());
    rc.rebind_after = Some(500);
    let relay = Relay::start(rc).expect("relay");
    let addr = relay.addr();
    with_runtime(90, async move {
        let c = QuinnClient::new(&cert.cert_der, false).expect("quinn client");
        let job = Job::transfer(2 * MB, 2 * MB);
        let r = c.run(addr, job, false).await.expect("quinn run");
        assert_eq!(r.streams_ok, 1);
    });
    report(&relay);
    assert!(server.stats().migrations.load(Ordering::Relaxed) >= 1);
}
