//! quinn against quinn, directly and through the impairment relay: checks the quinn peers used
//! against kquic, the interop protocol, and that a real QUIC stack gets through each impairment.

mod common;

use common::quinn_peer::{Job, QuinnClient, QuinnServer, ServerOpts};
use common::with_runtime;
use quic_interop::certs::TestCert;
use quic_interop::relay::{Impairment, Relay, RelayConfig};

const MB: u64 = 1 << 20;

#[test]
fn quinn_pair_streams_datagrams_key_update() {
    with_runtime(60, async {
        let cert = TestCert::generate();
        let server = QuinnServer::start(&cert, ServerOpts::default()).unwrap();
        let client = QuinnClient::new(&cert.cert_der, false).unwrap();
        let job = Job {
            streams: 4,
            up: MB,
            down: MB,
            datagrams: 100,
            key_update: true,
        };
        let r = client.run(server.addr, job, false).await.unwrap();
        assert_eq!(r.streams_ok, 4);
        assert!(r.datagrams_echoed >= 50, "{r:?}");
        eprintln!("quinn<->quinn: {r:?}, {:.0} Mbit/s", r.mbps(&job));
    });
}

#[test]
fn quinn_pair_retry_and_zero_rtt() {
    with_runtime(60, async {
        let cert = TestCert::generate();
        let server = QuinnServer::start(
            &cert,
            ServerOpts {
                retry: true,
                zero_rtt: true,
            },
        )
        .unwrap();
        let client = QuinnClient::new(&cert.cert_der, true).unwrap();
        let job = Job::transfer(1000, 1000);
        let first = client.run(server.addr, job, true).await.unwrap();
        assert_eq!(first.zero_rtt, Some(false));
        let second = client.run(server.addr, job, true).await.unwrap();
        assert_eq!(second.zero_rtt, Some(true), "{second:?}");
        assert_eq!(server.retries.load(std::sync::atomic::Ordering::Relaxed), 2);
    });
}

fn through_relay(cfg: impl FnOnce(&mut RelayConfig), job: Job) {
    with_runtime(90, async move {
        let cert = TestCert::generate();
        let server = QuinnServer::start(&cert, ServerOpts::default()).unwrap();
        let mut rc = RelayConfig::new(server.addr);
        rc.seed = 7;
        cfg(&mut rc);
        let relay = Relay::start(rc).unwrap();
        let client = QuinnClient::new(&cert.cert_der, false).unwrap();
        let r = client.run(relay.addr(), job, false).await.unwrap();
        assert_eq!(r.streams_ok, job.streams);
        let s = relay.stats();
        eprintln!(
            "quinn via relay: {:.0} Mbit/s; to server: {}; to client: {}; rebinds {}",
            r.mbps(&job),
            s.to_server.snapshot(),
            s.to_client.snapshot(),
            s.rebinds.load(std::sync::atomic::Ordering::Relaxed)
        );
    });
}

#[test]
fn quinn_through_relay_handshake_loss_30() {
    through_relay(
        |c| *c = c.clone().both(Impairment::drop_handshake(300)),
        Job::transfer(MB, MB),
    );
}

#[test]
fn quinn_through_relay_loss_reorder_dup_corrupt() {
    let imp = Impairment {
        drop_permille: 50,
        reorder_permille: 50,
        reorder_delay: std::time::Duration::from_millis(5),
        duplicate_permille: 20,
        corrupt_permille: 10,
        ..Impairment::NONE
    };
    through_relay(|c| *c = c.clone().both(imp), Job::transfer(2 * MB, 2 * MB));
}

#[test]
fn quinn_through_relay_rebinding() {
    through_relay(
        |c| {
            c.rebind_after = Some(300);
            c.rebind_every = 1000;
        },
        Job::transfer(4 * MB, 4 * MB),
    );
}
