//! Our engine against quinn over loopback UDP, both ways round: handshake, 10 MB each way
//! checked by SHA-256, 1,000 concurrent streams, key update, Retry, 0-RTT resumption,
//! datagrams. Also our client against our server on the same footing.

mod common;

use std::sync::atomic::Ordering;

use common::kquic::{client, client_tls, start_server};
use common::quinn_peer::{QuinnClient, QuinnServer, ServerOpts};
use common::with_runtime;
use quic_interop::certs::TestCert;
use quic_interop::workload::Job;

const MB: u64 = 1 << 20;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Our client against a quinn server started with `opts`.
fn ours_vs_quinn(
    opts: ServerOpts,
    job: Job,
    zero_rtt_runs: bool,
) -> Vec<quic_interop::peer::ClientReport> {
    let cert = TestCert::generate();
    let rt = rt();
    let server = rt.block_on(async { QuinnServer::start(&cert, opts).expect("quinn server") });
    let tls = client_tls(&cert, zero_rtt_runs, None);
    let mut reports = vec![client(server.addr, &tls, job, |_| {})];
    if zero_rtt_runs {
        reports.push(client(server.addr, &tls, job, |c| c.zero_rtt = true));
    }
    if opts.retry {
        assert_eq!(server.retries.load(Ordering::Relaxed), reports.len() as u64);
    }
    drop(server);
    reports
}

#[test]
fn kquic_client_quinn_server_handshake() {
    let r = ours_vs_quinn(ServerOpts::default(), Job::transfer(100, 100), false);
    assert_eq!(r[0].progress.streams_ok, 1);
}

#[test]
fn kquic_client_quinn_server_10mb_each_way() {
    let r = ours_vs_quinn(
        ServerOpts::default(),
        Job::transfer(10 * MB, 10 * MB),
        false,
    );
    eprintln!(
        "kquic -> quinn 10 MB each way: {:.0} Mbit/s",
        r[0].mbps(&Job::transfer(10 * MB, 10 * MB))
    );
}

#[test]
fn kquic_client_quinn_server_1000_streams() {
    let job = Job {
        streams: 1000,
        up: 1000,
        down: 1000,
        datagrams: 0,
        key_update: false,
    };
    let r = ours_vs_quinn(ServerOpts::default(), job, false);
    assert_eq!(r[0].progress.streams_ok, 1000);
}

#[test]
fn kquic_client_quinn_server_key_update() {
    let job = Job {
        key_update: true,
        ..Job::transfer(4 * MB, 4 * MB)
    };
    let r = ours_vs_quinn(ServerOpts::default(), job, false);
    assert!(r[0].progress.key_updates_done >= 1, "{:?}", r[0].progress);
}

#[test]
fn kquic_client_quinn_server_retry() {
    let opts = ServerOpts {
        retry: true,
        zero_rtt: false,
    };
    ours_vs_quinn(opts, Job::transfer(100_000, 100_000), false);
}

#[test]
fn kquic_client_quinn_server_zero_rtt() {
    let opts = ServerOpts {
        retry: false,
        zero_rtt: true,
    };
    let r = ours_vs_quinn(opts, Job::transfer(10_000, 10_000), true);
    assert!(r[1].resumed, "{:?}", r[1]);
    assert_eq!(r[1].zero_rtt, Some(true), "{:?}", r[1]);
}

#[test]
fn kquic_client_quinn_server_datagrams() {
    let job = Job {
        datagrams: 200,
        ..Job::transfer(1000, 1000)
    };
    let r = ours_vs_quinn(ServerOpts::default(), job, false);
    assert!(r[0].progress.datagrams_echoed >= 100, "{:?}", r[0].progress);
}

/// A quinn client against our server.
fn quinn_vs_ours(
    retry: bool,
    job: quic_interop::workload::Job,
    zero_rtt: bool,
) -> Vec<common::quinn_peer::Report> {
    let cert = TestCert::generate();
    let server = start_server(&cert, retry);
    let addr = server.addr();
    let reports = with_runtime(90, async {
        let c = QuinnClient::new(&cert.cert_der, zero_rtt).expect("quinn client");
        let mut v = vec![c.run(addr, job, zero_rtt).await.expect("quinn client run")];
        if zero_rtt {
            v.push(
                c.run(addr, job, true)
                    .await
                    .expect("quinn client 0-RTT run"),
            );
        }
        v
    });
    for r in &reports {
        eprintln!(
            "quinn client -> kquic server: {r:?}, {:.0} Mbit/s",
            r.mbps(&job)
        );
        assert_eq!(r.streams_ok, job.streams);
    }
    let st = server.stats();
    if retry {
        assert_eq!(st.retries.load(Ordering::Relaxed), reports.len() as u64);
    }
    assert_eq!(st.errors.load(Ordering::Relaxed), 0);
    server.stop().expect("server");
    reports
}

#[test]
fn quinn_client_kquic_server_handshake() {
    quinn_vs_ours(false, Job::transfer(100, 100), false);
}

#[test]
fn quinn_client_kquic_server_10mb_each_way() {
    quinn_vs_ours(false, Job::transfer(10 * MB, 10 * MB), false);
}

#[test]
fn quinn_client_kquic_server_1000_streams() {
    let job = Job {
        streams: 1000,
        up: 1000,
        down: 1000,
        datagrams: 0,
        key_update: false,
    };
    quinn_vs_ours(false, job, false);
}

#[test]
fn quinn_client_kquic_server_key_update() {
    let job = Job {
        key_update: true,
        ..Job::transfer(4 * MB, 4 * MB)
    };
    let r = quinn_vs_ours(false, job, false);
    assert!(r[0].key_updates_forced >= 1);
}

#[test]
fn quinn_client_kquic_server_retry() {
    quinn_vs_ours(true, Job::transfer(100_000, 100_000), false);
}

#[test]
fn quinn_client_kquic_server_zero_rtt() {
    let r = quinn_vs_ours(false, Job::transfer(10_000, 10_000), true);
    assert_eq!(r[1].zero_rtt, Some(true), "{:?}", r[1]);
}

#[test]
fn quinn_client_kquic_server_datagrams() {
    let job = Job {
        datagrams: 200,
        ..Job::transfer(1000, 1000)
    };
    let r = quinn_vs_ours(false, job, false);
    assert!(r[0].datagrams_echoed >= 100, "{:?}", r[0]);
}

#[test]
fn kquic_client_kquic_server_everything() {
    let cert = TestCert::generate();
    let server = start_server(&cert, true);
    let tls = client_tls(&cert, true, None);
    let job = Job {
        streams: 50,
        up: 100_000,
        down: 100_000,
        datagrams: 100,
        key_update: true,
    };
    client(server.addr(), &tls, job, |_| {});
    let r = client(server.addr(), &tls, Job::transfer(10_000, 10_000), |c| {
        c.zero_rtt = true
    });
    assert_eq!(r.zero_rtt, Some(true));
    assert_eq!(server.stats().errors.load(Ordering::Relaxed), 0);
    server.stop().expect("server");
}
