//! Our engine's peers (quic_interop::peer) with test certificates.

use std::net::SocketAddr;
use std::time::Duration;

use quic::tls::{Cipher, ServerResumption, TlsConfig};
use quic_interop::certs::TestCert;
use quic_interop::peer::{run_client, ClientConfig, ClientReport, Server, ServerConfig};
use quic_interop::workload::{Job, ALPN};

/// A client TLS config trusting `cert`; keep it to resume (0-RTT with `early`).
pub fn client_tls(cert: &TestCert, early: bool, ciphers: Option<&[Cipher]>) -> TlsConfig {
    let mut b = TlsConfig::client()
        .ca_der(cert.cert_der.clone())
        .server_name("localhost")
        .alpn_protocols([ALPN])
        .early_data(early);
    if let Some(c) = ciphers {
        b = b.ciphers(c);
    }
    b.build().expect("client TLS config")
}

/// A server TLS config with `cert` that accepts resumption and 0-RTT.
pub fn server_tls(cert: &TestCert, ciphers: Option<&[Cipher]>) -> TlsConfig {
    let mut b = TlsConfig::server()
        .cert_der(vec![cert.cert_der.clone()])
        .key_der(cert.key())
        .alpn_protocols([ALPN])
        .early_data(true)
        .resumption(ServerResumption::Stateful { capacity: 64 });
    if let Some(c) = ciphers {
        b = b.ciphers(c);
    }
    b.build().expect("server TLS config")
}

/// Starts our server; `retry` makes it validate addresses with Retry.
pub fn start_server(cert: &TestCert, retry: bool) -> Server {
    start_server_with(cert, None, |c| c.engine.validate_peer_address = retry)
}

/// Starts our server offering only `ciphers` (if given), with settings changed by `f`.
pub fn start_server_with(
    cert: &TestCert,
    ciphers: Option<&[Cipher]>,
    f: impl FnOnce(&mut ServerConfig),
) -> Server {
    let mut cfg = ServerConfig::new(server_tls(cert, ciphers));
    cfg.lifetime = Duration::from_secs(120);
    f(&mut cfg);
    Server::start(cfg).expect("start the kquic server")
}

/// Runs our client against `server` and panics with the reason if any check failed.
pub fn client(
    server: SocketAddr,
    tls: &TlsConfig,
    job: Job,
    f: impl FnOnce(&mut ClientConfig),
) -> ClientReport {
    let mut cfg = ClientConfig::new(server, tls.clone(), job);
    cfg.timeout = Duration::from_secs(60);
    f(&mut cfg);
    match run_client(&cfg) {
        Ok(r) => {
            eprintln!(
                "kquic client: {} streams ok, {:.0} Mbit/s, handshake {:?}, {:?}",
                r.progress.streams_ok,
                r.mbps(&job),
                r.handshake,
                r.progress
            );
            r
        }
        Err(e) => panic!("kquic client failed: {e}"),
    }
}
