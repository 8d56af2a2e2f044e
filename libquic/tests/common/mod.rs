//! Test helpers: a throw-away PKI made with rcgen, and an in-memory pump between two sessions.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use quic::tls::{Level, QuicVersion, Role, Secret, TlsConfig, TlsError, TlsSession};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

pub(crate) const SERVER_NAME: &str = "server.test";

/// A CA and a leaf certificate for [`SERVER_NAME`] and `localhost`, as PEM text and files.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
    pub(crate) ca_file: PathBuf,
    pub(crate) chain_file: PathBuf,
    pub(crate) key_file: PathBuf,
}

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    // Cargo's scratch space for integration tests, inside the target directory.
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "libquic-tls-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Pki {
    pub(crate) fn generate(ca_name: &str) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = ca_params.self_signed(&ca_key).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params =
            CertificateParams::new(vec![SERVER_NAME.to_string(), "localhost".to_string()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();

        let dir = temp_dir();
        let ca_pem = ca.pem();
        let chain_pem = format!("{}{}", leaf.pem(), ca.pem());
        let key_pem = leaf_key.serialize_pem();
        let (ca_file, chain_file, key_file) = (
            dir.join("ca.pem"),
            dir.join("chain.pem"),
            dir.join("key.pem"),
        );
        std::fs::write(&ca_file, &ca_pem).unwrap();
        std::fs::write(&chain_file, &chain_pem).unwrap();
        std::fs::write(&key_file, &key_pem).unwrap();
        Self {
            ca_pem,
            chain_pem,
            key_pem,
            ca_file,
            chain_file,
            key_file,
        }
    }

    /// A client trusting this CA, verifying [`SERVER_NAME`], offering `alpn`.
    pub(crate) fn client(&self, alpn: &str) -> quic::tls::TlsConfigBuilder {
        TlsConfig::client()
            .ca_file(&self.ca_file)
            .server_name(SERVER_NAME)
            .alpn(alpn)
    }

    /// A server with this PKI's leaf, offering `alpn`.
    pub(crate) fn server(&self, alpn: &str) -> quic::tls::TlsConfigBuilder {
        TlsConfig::server()
            .cert_file(&self.chain_file)
            .key_file(&self.key_file)
            .alpn(alpn)
    }
}

pub(crate) fn pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| Pki::generate("kquic test CA"))
}

/// What a session produced, in the order the driver took it.
#[derive(Debug)]
pub(crate) enum Event {
    Secret(Level, bool),
    Output(Level, usize),
}

/// A session plus everything it handed out.
pub(crate) struct Peer {
    pub(crate) s: TlsSession,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) events: Vec<Event>,
}

impl Peer {
    pub(crate) fn new(s: TlsSession) -> Self {
        let mut p = Self {
            s,
            secrets: Vec::new(),
            events: Vec::new(),
        };
        p.take_secrets();
        p
    }

    pub(crate) fn start(cfg: &TlsConfig, params: &[u8]) -> Self {
        Self::new(TlsSession::new(cfg, QuicVersion::V1, params).unwrap())
    }

    /// Drains the secrets (first, as a driver must) and returns the output.
    pub(crate) fn drain(&mut self) -> Vec<(Level, Vec<u8>)> {
        self.take_secrets();
        let mut out = Vec::new();
        while let Some((l, b)) = self.s.poll_output() {
            self.events.push(Event::Output(l, b.len()));
            out.push((l, b));
        }
        out
    }

    fn take_secrets(&mut self) {
        while let Some(sec) = self.s.poll_secret() {
            self.events.push(Event::Secret(sec.level, sec.send));
            self.secrets.push(sec);
        }
    }

    pub(crate) fn secret(&self, level: Level, send: bool) -> Option<&Secret> {
        let mut it = self
            .secrets
            .iter()
            .filter(|s| s.level == level && s.send == send);
        let first = it.next();
        assert!(it.next().is_none(), "two {level:?} send={send} secrets");
        first
    }

    /// Index in `events` of the first event matching `f`.
    pub(crate) fn pos(&self, f: impl Fn(&Event) -> bool) -> Option<usize> {
        self.events.iter().position(f)
    }
}

/// Moves CRYPTO data both ways until neither side has anything to send. The error names the
/// side whose `feed` failed.
pub(crate) fn pump(c: &mut Peer, s: &mut Peer) -> Result<(), (Role, TlsError)> {
    loop {
        let mut moved = false;
        for (l, b) in c.drain() {
            moved = true;
            s.s.feed(l, &b).map_err(|e| (Role::Server, e))?;
        }
        for (l, b) in s.drain() {
            moved = true;
            c.s.feed(l, &b).map_err(|e| (Role::Client, e))?;
        }
        if !moved {
            c.drain();
            s.drain();
            return Ok(());
        }
    }
}

/// Asserts the client's and the server's secrets pair up at `level` in both directions and
/// returns them (client-to-server, server-to-client).
pub(crate) fn assert_paired(c: &Peer, s: &Peer, level: Level) -> (Vec<u8>, Vec<u8>) {
    let cs = c.secret(level, true).expect("client send secret");
    let sr = s.secret(level, false).expect("server recv secret");
    let ss = s.secret(level, true).expect("server send secret");
    let cr = c.secret(level, false).expect("client recv secret");
    assert_eq!(cs.secret(), sr.secret(), "{level:?} client->server");
    assert_eq!(ss.secret(), cr.secret(), "{level:?} server->client");
    assert_ne!(cs.secret(), ss.secret(), "{level:?} directions differ");
    for x in [cs, sr, ss, cr] {
        assert_eq!(x.cipher, cs.cipher);
        assert_eq!(x.secret().len(), x.cipher.secret_len());
    }
    (cs.secret().to_vec(), ss.secret().to_vec())
}

/// Stand-in transport parameter blobs (the adapter treats them as opaque bytes).
pub(crate) const CLIENT_TP: &[u8] = &[0x04, 0x04, 0x80, 0x10, 0x00, 0x00, 0x0f, 0x02, 0xc1, 0x1e];
pub(crate) const SERVER_TP: &[u8] = &[
    0x04, 0x04, 0x80, 0x20, 0x00, 0x00, 0x0f, 0x02, 0x5e, 0x57, 0x00, 0x00,
];
