//! Client and server `TlsSession`s pumped against each other in memory.

mod common;

use std::sync::Arc;

use common::*;
use quic::tls::{
    Cipher, Level, QuicVersion, Role, ServerResumption, SessionCache, TlsConfig, TlsError,
    TlsSession,
};

fn output_levels(p: &Peer) -> Vec<Level> {
    let mut v: Vec<Level> = Vec::new();
    for e in &p.events {
        if let Event::Output(l, _) = e {
            if v.last() != Some(l) {
                v.push(*l);
            }
        }
    }
    v
}

fn handshake(ccfg: &TlsConfig, scfg: &TlsConfig) -> (Peer, Peer) {
    let mut c = Peer::start(ccfg, CLIENT_TP);
    let mut s = Peer::start(scfg, SERVER_TP);
    pump(&mut c, &mut s).expect("handshake");
    (c, s)
}

fn fail_handshake(ccfg: &TlsConfig, scfg: &TlsConfig) -> (Role, TlsError) {
    let mut c = Peer::start(ccfg, CLIENT_TP);
    let mut s = Peer::start(scfg, SERVER_TP);
    pump(&mut c, &mut s).expect_err("handshake must fail")
}

#[test]
fn full_handshake_pairs_secrets_and_levels() {
    let pki = pki();
    let ccfg = pki.client("smbd,h3").build().unwrap();
    let scfg = pki.server("h3,smbd").build().unwrap();

    let mut c = Peer::start(&ccfg, CLIENT_TP);
    assert!(c.secrets.is_empty(), "no 0-RTT without a ticket");
    let mut s = Peer::start(&scfg, SERVER_TP);
    assert!(s.drain().is_empty(), "a server speaks second");
    pump(&mut c, &mut s).unwrap();

    for p in [&c, &s] {
        assert!(!p.s.is_handshaking());
        assert!(!p.s.is_resumed());
        assert!(!p.s.early_data_accepted());
        assert!(p.s.error().is_none());
        assert_eq!(p.s.alpn(), Some(&b"h3"[..]), "server preference wins");
        assert!(p
            .secrets
            .iter()
            .all(|x| x.level != Level::Early && x.level != Level::Initial));
        assert_eq!(p.secrets.len(), 4);
    }
    let (hs_c, hs_s) = assert_paired(&c, &s, Level::Handshake);
    let (app_c, app_s) = assert_paired(&c, &s, Level::App);
    assert_ne!(hs_c, app_c);
    assert_ne!(hs_s, app_s);

    // The default preference is rustls's: AES-256-GCM, 48-byte secrets, type 52.
    assert_eq!(c.s.cipher(), Some(Cipher::Aes256Gcm));
    assert_eq!(s.s.cipher(), Some(Cipher::Aes256Gcm));
    assert!(c
        .secrets
        .iter()
        .all(|x| x.cipher_type() == 52 && x.secret().len() == 48));

    // CRYPTO levels: ClientHello; ServerHello, EE..Finished, NewSessionTickets; Finished.
    assert_eq!(output_levels(&c), [Level::Initial, Level::Handshake]);
    assert_eq!(
        output_levels(&s),
        [Level::Initial, Level::Handshake, Level::App]
    );
    assert_eq!(c.s.tickets_received(), 2);

    // Each side has its send secret for a level before its first output at that level.
    for p in [&c, &s] {
        for level in [Level::Handshake, Level::App] {
            let Some(out) = p.pos(|e| matches!(e, Event::Output(l, _) if *l == level)) else {
                continue;
            };
            let sec = p
                .pos(|e| matches!(e, Event::Secret(l, true) if *l == level))
                .unwrap();
            assert!(sec < out, "{:?}: {level:?} secret after output", p.s.role());
        }
    }

    assert_eq!(s.s.server_name(), Some(SERVER_NAME));
    assert_eq!(c.s.peer_certificates().map(|v| v.len()), Some(2));
    let (mut k1, mut k2) = ([0u8; 32], [0u8; 32]);
    c.s.export_keying_material(&mut k1, b"EXPERIMENTAL test", None)
        .unwrap();
    s.s.export_keying_material(&mut k2, b"EXPERIMENTAL test", None)
        .unwrap();
    assert_eq!(k1, k2);
}

#[test]
fn transport_params_are_exchanged_both_ways() {
    let pki = pki();
    let ccfg = pki.client("h3").build().unwrap();
    let scfg = pki.server("h3").build().unwrap();
    for version in [QuicVersion::V1, QuicVersion::V2] {
        let mut c = Peer::new(TlsSession::new(&ccfg, version, CLIENT_TP).unwrap());
        let mut s = Peer::new(TlsSession::new(&scfg, version, SERVER_TP).unwrap());
        pump(&mut c, &mut s).unwrap();
        assert_eq!(c.s.peer_transport_params(), Some(SERVER_TP));
        assert_eq!(s.s.peer_transport_params(), Some(CLIENT_TP));
        assert_paired(&c, &s, Level::App);
    }
}

#[test]
fn alpn_mismatch_is_no_application_protocol() {
    let pki = pki();
    let ccfg = pki.client("smbd").build().unwrap();
    let scfg = pki.server("h3").build().unwrap();
    let mut c = Peer::start(&ccfg, CLIENT_TP);
    let mut s = Peer::start(&scfg, SERVER_TP);
    let (role, e) = pump(&mut c, &mut s).unwrap_err();
    assert_eq!(role, Role::Server);
    assert_eq!(e.error_code(), Some(0x178));
    assert_eq!(e.tls_alert(), Some(120));
    // The failure sticks and nothing is left to send.
    assert_eq!(s.s.feed(Level::Initial, &[1]), Err(e.clone()));
    assert_eq!(s.s.error(), Some(&e));
    assert!(s.s.poll_output().is_none());
    assert!(s.s.poll_secret().is_none());
}

#[test]
fn server_name_mismatch_is_bad_certificate() {
    let pki = pki();
    let ccfg = TlsConfig::client()
        .ca_pem(pki.ca_pem.as_bytes())
        .server_name("other.test")
        .alpn("h3")
        .build()
        .unwrap();
    let scfg = pki.server("h3").build().unwrap();
    let (role, e) = fail_handshake(&ccfg, &scfg);
    assert_eq!(role, Role::Client);
    assert_eq!(e.error_code(), Some(0x100 + 42));
}

#[test]
fn untrusted_certificate_is_unknown_ca() {
    let pki = pki();
    let other = Pki::generate("some other CA");
    let ccfg = other.client("h3").build().unwrap();
    let scfg = pki.server("h3").build().unwrap();
    let (role, e) = fail_handshake(&ccfg, &scfg);
    assert_eq!(role, Role::Client);
    assert_eq!(e.error_code(), Some(0x100 + 48));
    assert_eq!(e.tls_alert(), Some(48));
}

#[test]
fn cipher_restriction_selects_the_kernel_type() {
    let pki = pki();
    let scfg = pki.server("h3").build().unwrap();
    for (cipher, ty, len) in [
        (Cipher::Chacha20Poly1305, 54, 32),
        (Cipher::Aes256Gcm, 52, 48),
        (Cipher::Aes128Gcm, 51, 32),
    ] {
        let ccfg = pki.client("h3").ciphers(&[cipher]).build().unwrap();
        let (c, s) = handshake(&ccfg, &scfg);
        assert_eq!(c.s.cipher(), Some(cipher));
        assert_eq!(s.s.cipher(), Some(cipher));
        for x in c.secrets.iter().chain(&s.secrets) {
            assert_eq!(x.cipher_type(), ty);
            assert_eq!(x.secret().len(), len);
            let raw = x.to_crypto_secret();
            assert_eq!(u32::from_ne_bytes(raw[4..8].try_into().unwrap()), ty);
            assert_eq!(&raw[8..8 + len], x.secret());
        }
        assert_paired(&c, &s, Level::Handshake);
        assert_paired(&c, &s, Level::App);
    }
    // A restriction on the server side alone is honoured too.
    let scfg = pki
        .server("h3")
        .ciphers(&[Cipher::Chacha20Poly1305])
        .build()
        .unwrap();
    let (c, _) = handshake(&pki.client("h3").build().unwrap(), &scfg);
    assert_eq!(c.s.cipher(), Some(Cipher::Chacha20Poly1305));
    // No common suite: handshake_failure (40).
    let ccfg = pki
        .client("h3")
        .ciphers(&[Cipher::Aes128Gcm])
        .build()
        .unwrap();
    let (role, e) = fail_handshake(&ccfg, &scfg);
    assert_eq!((role, e.error_code()), (Role::Server, Some(0x128)));
}

#[test]
fn second_connection_resumes() {
    let pki = pki();
    let ccfg = pki.client("h3").build().unwrap();
    let scfg = pki.server("h3").build().unwrap();
    let (c1, _) = handshake(&ccfg, &scfg);
    assert!(!c1.s.is_resumed());
    let cache = ccfg.session_cache().unwrap();
    assert_eq!(cache.ticket_count(SERVER_NAME), 2);

    let (c2, s2) = handshake(&ccfg, &scfg);
    assert!(c2.s.is_resumed());
    assert!(s2.s.is_resumed());
    assert_eq!(cache.ticket_count(SERVER_NAME), 3, "one used, two new");
    let (a, _) = assert_paired(&c2, &s2, Level::App);
    assert_ne!(a, c1.secret(Level::App, true).unwrap().secret());
    assert_eq!(c2.s.peer_transport_params(), Some(SERVER_TP));

    // A server that does not know the ticket falls back to a full handshake.
    let fresh = pki.server("h3").build().unwrap();
    let (c3, s3) = handshake(&ccfg, &fresh);
    assert!(!c3.s.is_resumed() && !s3.s.is_resumed());
    assert_paired(&c3, &s3, Level::App);
}

#[test]
fn stateless_tickets_resume_without_early_data() {
    let pki = pki();
    let ccfg = pki.client("h3").early_data(true).build().unwrap();
    let scfg = pki
        .server("h3")
        .resumption(ServerResumption::Stateless)
        .build()
        .unwrap();
    handshake(&ccfg, &scfg);
    let c = Peer::start(&ccfg, CLIENT_TP);
    assert!(c.secrets.is_empty(), "stateless tickets allow no 0-RTT");
    let mut c = c;
    let mut s = Peer::start(&scfg, SERVER_TP);
    pump(&mut c, &mut s).unwrap();
    assert!(c.s.is_resumed() && s.s.is_resumed());
    assert!(!s.s.early_data_accepted());

    // And rustls could not accept it anyway, so asking for it is a config error.
    let e = pki
        .server("h3")
        .resumption(ServerResumption::Stateless)
        .early_data(true)
        .build()
        .unwrap_err();
    assert!(matches!(e, TlsError::Config(_)));

    // Disabled: no tickets at all.
    let scfg = pki
        .server("h3")
        .resumption(ServerResumption::Disabled)
        .build()
        .unwrap();
    let ccfg = pki.client("h3").build().unwrap();
    let (c, _) = handshake(&ccfg, &scfg);
    assert_eq!(c.s.tickets_received(), 0);
}

#[test]
fn zero_rtt_is_offered_and_accepted() {
    let pki = pki();
    let ccfg = pki
        .client("h3")
        .ciphers(&[Cipher::Chacha20Poly1305])
        .early_data(true)
        .build()
        .unwrap();
    let scfg = pki.server("h3").early_data(true).build().unwrap();
    handshake(&ccfg, &scfg);

    let mut c = Peer::start(&ccfg, CLIENT_TP);
    // Before anything was sent: the early send secret, with the resumed cipher, and the
    // remembered server parameters.
    assert!(c.s.is_handshaking());
    assert!(c.s.early_data_offered());
    let early = c
        .secret(Level::Early, true)
        .expect("client early secret")
        .clone();
    assert_eq!(early.cipher, Cipher::Chacha20Poly1305);
    assert_eq!(c.secrets.len(), 1);
    assert_eq!(c.s.peer_transport_params(), Some(SERVER_TP));

    let mut s = Peer::start(&scfg, SERVER_TP);
    let hello = c.drain();
    assert_eq!(hello.len(), 1);
    assert_eq!(hello[0].0, Level::Initial);
    s.s.feed(Level::Initial, &hello[0].1).unwrap();
    let flight = s.drain();
    assert!(s.s.early_data_accepted());
    let s_early = s.secret(Level::Early, false).expect("server early secret");
    assert_eq!(s_early.secret(), early.secret());
    assert_eq!(
        s.pos(|e| matches!(e, Event::Secret(Level::Early, false))),
        Some(0),
        "early secret first"
    );
    for (l, b) in flight {
        c.s.feed(l, &b).unwrap();
    }
    pump(&mut c, &mut s).unwrap();
    assert!(c.s.early_data_accepted());
    assert!(c.s.is_resumed() && s.s.is_resumed());
    assert_paired(&c, &s, Level::Handshake);
    assert_paired(&c, &s, Level::App);
}

/// A WebPKI verifier for the test CA. rustls resumes a session only under the verifier (the
/// same `Arc`) that stored it.
fn verifier(pki: &Pki) -> Arc<dyn rustls::client::danger::ServerCertVerifier> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap()
}

fn client_with(
    verifier: &Arc<dyn rustls::client::danger::ServerCertVerifier>,
    cache: &SessionCache,
    alpn: &str,
) -> TlsConfig {
    TlsConfig::client()
        .verifier(verifier.clone())
        .server_name(SERVER_NAME)
        .alpn(alpn)
        .session_cache(cache.clone())
        .early_data(true)
        .build()
        .unwrap()
}

#[test]
fn zero_rtt_rejected_when_alpn_changes() {
    let pki = pki();
    let (v, cache) = (verifier(pki), SessionCache::new(4));
    let (first, second) = (
        client_with(&v, &cache, "smbd"),
        client_with(&v, &cache, "h3,smbd"),
    );
    let scfg = pki.server("h3,smbd").early_data(true).build().unwrap();
    let (c1, _) = handshake(&first, &scfg);
    assert_eq!(c1.s.alpn(), Some(&b"smbd"[..]));

    // The server now picks h3, not the ticket's smbd: resumption yes, 0-RTT no.
    let mut c = Peer::start(&second, CLIENT_TP);
    assert!(c.secret(Level::Early, true).is_some());
    let mut s = Peer::start(&scfg, SERVER_TP);
    pump(&mut c, &mut s).unwrap();
    assert_eq!(c.s.alpn(), Some(&b"h3"[..]));
    assert!(c.s.is_resumed() && s.s.is_resumed());
    assert!(!c.s.early_data_accepted());
    assert!(!s.s.early_data_accepted());
    assert!(s.secret(Level::Early, false).is_none());
    assert_paired(&c, &s, Level::App);
}

#[test]
fn tickets_move_between_caches() {
    let pki = pki();
    let v = verifier(pki);
    let (a, b) = (SessionCache::new(4), SessionCache::new(4));
    let (ca, cb) = (client_with(&v, &a, "h3"), client_with(&v, &b, "h3"));
    let scfg = pki
        .server("h3")
        .early_data(true)
        .tickets(1)
        .build()
        .unwrap();
    handshake(&ca, &scfg);
    assert_eq!(b.ticket_count(SERVER_NAME), 0);
    let t = a.take_ticket(SERVER_NAME).expect("ticket");
    assert_eq!(t.max_early_data_size(), u32::MAX);
    assert_eq!(t.transport_params(), SERVER_TP);
    assert_eq!(t.cipher(), Some(Cipher::Aes256Gcm));
    assert_eq!(a.ticket_count(SERVER_NAME), 0);
    b.insert_ticket(SERVER_NAME, t).unwrap();

    let (c, s) = handshake(&cb, &scfg);
    assert!(c.s.is_resumed() && s.s.is_resumed());
    assert!(c.s.early_data_accepted() && s.s.early_data_accepted());
    assert_eq!(
        c.secret(Level::Early, true).unwrap().secret(),
        s.secret(Level::Early, false).unwrap().secret()
    );

    // The same ticket under another verifier: rustls refuses to resume (full handshake).
    let t = b
        .take_ticket(SERVER_NAME)
        .expect("ticket from the second connection");
    let other = SessionCache::new(1);
    other.insert_ticket(SERVER_NAME, t).unwrap();
    let (c, s) = handshake(&client_with(&verifier(pki), &other, "h3"), &scfg);
    assert!(!c.s.is_resumed() && !s.s.is_resumed());
    assert!(c.secret(Level::Early, true).is_none());
}

#[test]
fn concurrent_sessions_keep_their_own_secrets() {
    let pki = pki();
    let ccfg = pki.client("h3").no_session_cache().build().unwrap();
    let scfg = pki.server("h3").build().unwrap();

    // Interleaved in one thread, one flight at a time across all pairs.
    let n = 4;
    let mut pairs: Vec<(Peer, Peer)> = (0..n)
        .map(|_| (Peer::start(&ccfg, CLIENT_TP), Peer::start(&scfg, SERVER_TP)))
        .collect();
    loop {
        let mut moved = false;
        for (c, s) in pairs.iter_mut() {
            for (l, b) in c.drain() {
                moved = true;
                s.s.feed(l, &b).unwrap();
            }
        }
        for (c, s) in pairs.iter_mut().rev() {
            for (l, b) in s.drain() {
                moved = true;
                c.s.feed(l, &b).unwrap();
            }
        }
        if !moved {
            break;
        }
    }
    let mut seen = Vec::new();
    for (c, s) in &pairs {
        assert!(!c.s.is_handshaking() && !s.s.is_handshaking());
        assert_eq!(c.secrets.len(), 4);
        assert_eq!(s.secrets.len(), 4);
        let (a, b) = assert_paired(c, s, Level::Handshake);
        let (x, y) = assert_paired(c, s, Level::App);
        seen.extend([a, b, x, y]);
    }

    // And on threads.
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (ccfg, scfg) = (ccfg.clone(), scfg.clone());
            std::thread::spawn(move || {
                let (c, s) = handshake(&ccfg, &scfg);
                let (a, b) = assert_paired(&c, &s, Level::Handshake);
                let (x, y) = assert_paired(&c, &s, Level::App);
                [a, b, x, y]
            })
        })
        .collect();
    for h in handles {
        seen.extend(h.join().unwrap());
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "every secret is distinct");
}

#[test]
fn in_memory_pem_insecure_mode_and_server_name_override() {
    let pki = pki();
    let scfg = TlsConfig::server()
        .cert_pem(pki.chain_pem.as_bytes())
        .key_pem(pki.key_pem.as_bytes())
        .alpn("h3")
        .build()
        .unwrap();

    // No verification and no name: no SNI, and the untrusted chain is accepted.
    let ccfg = TlsConfig::client()
        .dangerous_no_verify()
        .alpn("h3")
        .build()
        .unwrap();
    let (c, s) = handshake(&ccfg, &scfg);
    assert_eq!(s.s.server_name(), None);
    assert_paired(&c, &s, Level::App);

    // Per-connection name on a verifying config.
    let ccfg = TlsConfig::client()
        .ca_pem(pki.ca_pem.as_bytes())
        .server_name("wrong.test")
        .alpn("h3")
        .build()
        .unwrap();
    let mut c =
        Peer::new(TlsSession::new_client(&ccfg, QuicVersion::V1, CLIENT_TP, "localhost").unwrap());
    let mut s = Peer::start(&scfg, SERVER_TP);
    pump(&mut c, &mut s).unwrap();
    assert_eq!(s.s.server_name(), Some("localhost"));
    assert!(TlsSession::new_client(&scfg, QuicVersion::V1, SERVER_TP, "x.test").is_err());
}

#[test]
fn hello_retry_request_and_rustls_server_config() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let pki = pki();
    // A server that only does P-256: the client's X25519 share draws a HelloRetryRequest.
    let provider = rustls::crypto::CryptoProvider {
        kx_groups: vec![rustls::crypto::ring::kx_group::SECP256R1],
        ..rustls::crypto::ring::default_provider()
    };
    let chain = CertificateDer::pem_slice_iter(pki.chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h3".to_vec()];
    let scfg = TlsConfig::from_rustls_server(Arc::new(cfg));
    assert_eq!(scfg.role(), Role::Server);
    let ccfg = pki.client("h3").build().unwrap();

    let initial_flights = |p: &Peer| {
        p.events
            .iter()
            .filter(|e| matches!(e, Event::Output(Level::Initial, _)))
            .count()
    };
    let (c, s) = handshake(&ccfg, &scfg);
    assert_eq!(initial_flights(&c), 2, "ClientHello twice");
    assert_eq!(initial_flights(&s), 2, "HelloRetryRequest, ServerHello");
    assert_paired(&c, &s, Level::Handshake);
    assert_paired(&c, &s, Level::App);
    assert_eq!(s.s.peer_transport_params(), Some(CLIENT_TP));

    // The session cache remembered the group: no retry the next time.
    let (c, s) = handshake(&ccfg, &scfg);
    assert_eq!(initial_flights(&c), 1);
    assert!(c.s.is_resumed() && s.s.is_resumed());
}

#[test]
fn psk_and_ccm_are_reported_as_unsupported() {
    let pki = pki();
    assert_eq!(
        pki.client("h3")
            .psk_file(&pki.key_file)
            .build()
            .unwrap_err(),
        TlsError::PskUnsupported
    );
    assert_eq!(
        pki.server("h3")
            .ciphers(&[Cipher::Aes128Ccm])
            .build()
            .unwrap_err(),
        TlsError::CipherUnsupported(Cipher::Aes128Ccm)
    );
}

/// Tiny deterministic generator for the garbage tests.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn is_close_code(e: &TlsError) -> bool {
    matches!(e.error_code(), Some(0x0a) | Some(0x100..=0x1ff))
}

#[test]
fn wrong_levels_and_garbage_fail_cleanly() {
    let pki = pki();
    let ccfg = pki.client("h3").no_session_cache().build().unwrap();
    let scfg = pki.server("h3").build().unwrap();

    // ClientHello at the Handshake level, anything at the 0-RTT level.
    let mut c = Peer::start(&ccfg, CLIENT_TP);
    let hello = c.drain().remove(0).1;
    let mut s = Peer::start(&scfg, SERVER_TP);
    let e = s.s.feed(Level::Handshake, &hello).unwrap_err();
    assert_eq!(e.error_code(), Some(0x0a));
    let mut s = Peer::start(&scfg, SERVER_TP);
    assert_eq!(
        s.s.feed(Level::Early, &hello).unwrap_err().error_code(),
        Some(0x0a)
    );

    // ServerHello at the App level; a NewSessionTicket at the Handshake level.
    let mut s = Peer::start(&scfg, SERVER_TP);
    s.s.feed(Level::Initial, &hello).unwrap();
    let flight = s.drain();
    let e = c.s.feed(Level::App, &flight[0].1).unwrap_err();
    assert_eq!(e.error_code(), Some(0x0a));
    let mut c2 = Peer::start(&ccfg, CLIENT_TP);
    assert_eq!(
        c2.s.feed(Level::Handshake, &[4, 0, 0, 0])
            .unwrap_err()
            .error_code(),
        Some(0x0a)
    );

    // Random bytes at Initial.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for len in [1usize, 3, 4, 5, 40, 300, 2000] {
        for _ in 0..8 {
            let mut junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.next() & 1 == 0 {
                junk[0] = 1; // looks like a ClientHello
            }
            let mut s = Peer::start(&scfg, SERVER_TP);
            if let Err(e) = s.s.feed(Level::Initial, &junk) {
                assert!(is_close_code(&e), "{e}");
            }
        }
    }

    // Every byte of a real ClientHello flipped.
    for i in 0..hello.len() {
        let mut h = hello.clone();
        h[i] ^= 0xff;
        let mut s = Peer::start(&scfg, SERVER_TP);
        if let Err(e) = s.s.feed(Level::Initial, &h) {
            assert!(is_close_code(&e), "byte {i}: {e}");
        }
        s.drain();
    }

    // Every byte of a real ServerHello flipped, each against a fresh pair.
    let sh_len = {
        let mut c = Peer::start(&ccfg, CLIENT_TP);
        let mut s = Peer::start(&scfg, SERVER_TP);
        s.s.feed(Level::Initial, &c.drain()[0].1).unwrap();
        s.drain()[0].1.len()
    };
    for i in (0..sh_len).step_by(3) {
        let mut c = Peer::start(&ccfg, CLIENT_TP);
        let mut s = Peer::start(&scfg, SERVER_TP);
        s.s.feed(Level::Initial, &c.drain()[0].1).unwrap();
        let mut sh = s.drain().remove(0).1;
        sh[i] ^= 0x55;
        match c.s.feed(Level::Initial, &sh) {
            Err(e) => assert!(is_close_code(&e), "byte {i}: {e}"),
            Ok(()) => {
                c.drain();
            }
        }
    }
}

/// Mutual TLS: a server that requires client certificates from a CA lets in a client with one
/// (and sees its chain), refuses a client without one (certificate_required) and one whose
/// certificate comes from another CA (unknown_ca); optional client auth lets the first two in.
#[test]
fn client_certificates_are_required_and_verified() {
    let pki = pki();
    let clients = Pki::generate("client CA");
    let strangers = Pki::generate("another client CA");
    let server = |optional: bool| {
        pki.server("h3")
            .client_auth_ca_file(&clients.ca_file)
            .client_auth_optional(optional)
            .build()
            .unwrap()
    };
    let with_cert = |p: &Pki| {
        pki.client("h3")
            .cert_file(&p.chain_file)
            .key_file(&p.key_file)
            .build()
            .unwrap()
    };
    let (c, s) = handshake(&with_cert(&clients), &server(false));
    assert!(!c.s.is_handshaking() && !s.s.is_handshaking());
    let seen = s.s.peer_certificates().expect("client chain on the server");
    use rustls::pki_types::pem::PemObject;
    let sent: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&clients.chain_file)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seen, &sent[..]);

    let anonymous = pki.client("h3").build().unwrap();
    let (role, e) = fail_handshake(&anonymous, &server(false));
    assert_eq!(role, Role::Server);
    assert_eq!(e.tls_alert(), Some(116), "{e}");
    assert_eq!(e.error_code(), Some(0x100 + 116));

    let (role, e) = fail_handshake(&with_cert(&strangers), &server(false));
    assert_eq!(role, Role::Server);
    assert_eq!(e.tls_alert(), Some(48), "{e}");

    let (_, s) = handshake(&anonymous, &server(true));
    assert!(!s.s.is_handshaking() && s.s.peer_certificates().is_none());
    let (_, e) = fail_handshake(&with_cert(&strangers), &server(true));
    assert_eq!(e.tls_alert(), Some(48), "{e}");
}

/// An RSA-2048 server certificate (openssl makes the key, rcgen signs the certificate with it;
/// skipped without openssl).
#[test]
fn rsa_2048_certificate() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("libquic-rsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
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
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("openssl not available: RSA test skipped");
        return;
    }
    let pem = std::fs::read_to_string(&key).unwrap();
    let kp = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    assert!(kp.public_key_raw().len() > 256, "an RSA-2048 public key");
    let c = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    std::fs::write(&cert, c.pem()).unwrap();
    let scfg = TlsConfig::server()
        .cert_file(&cert)
        .key_file(&key)
        .alpn("h3")
        .build()
        .unwrap();
    let ccfg = TlsConfig::client()
        .ca_file(&cert)
        .server_name(SERVER_NAME)
        .alpn("h3")
        .build()
        .unwrap();
    let (c, s) = handshake(&ccfg, &scfg);
    assert!(!c.s.is_handshaking() && !s.s.is_handshaking());
    let _ = std::fs::remove_dir_all(&dir);
}
