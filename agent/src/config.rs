//! The agent's configuration file (TOML), and the credentials it names, loaded and checked.
//!
//! Every key has a default, so an empty file (or none) is a valid configuration: it serves
//! requests whose credentials come from the kernel keyrings, and verifies servers against the
//! system's CA bundle. See `agent/kquic-agent.toml.example` for every key.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::genl::handler_class;

/// Where the agent looks for its configuration when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/kquic/kquic-agent.toml";

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn cerr(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Log verbosity.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// One line per handshake, plus the above.
    #[default]
    Info,
    /// Request details.
    Debug,
    /// Everything, including libraries.
    Trace,
}

impl LogLevel {
    /// As a `log` filter.
    pub fn filter(self) -> log::LevelFilter {
        match self {
            Self::Error => log::LevelFilter::Error,
            Self::Warn => log::LevelFilter::Warn,
            Self::Info => log::LevelFilter::Info,
            Self::Debug => log::LevelFilter::Debug,
            Self::Trace => log::LevelFilter::Trace,
        }
    }

    /// `n` steps more verbose (for `-v`), saturating at `trace`.
    pub fn more_verbose(self, n: u8) -> Self {
        const ORDER: [LogLevel; 5] = [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
        ];
        let i = ORDER.iter().position(|l| *l == self).unwrap_or(2);
        ORDER[(i + usize::from(n)).min(ORDER.len() - 1)]
    }
}

/// `[agent]`: what the daemon serves.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AgentSection {
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Handler class requested in ACCEPT (and whose multicast group is joined).
    pub handler_class: u32,
}

impl Default for AgentSection {
    fn default() -> Self {
        Self {
            log_level: LogLevel::Info,
            handler_class: handler_class::TLSHD,
        }
    }
}

/// `[limits]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Handshakes run at once; further requests wait in the kernel.
    pub max_handshakes: usize,
    /// Time limit of a request that names none, in milliseconds.
    pub default_timeout_ms: u64,
    /// Upper bound on any request's time limit, in milliseconds.
    pub max_timeout_ms: u64,
    /// On SIGTERM, how long in-flight handshakes may still run before they are failed.
    pub shutdown_grace_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_handshakes: 64,
            default_timeout_ms: 30_000,
            max_timeout_ms: 300_000,
            shutdown_grace_ms: 5_000,
        }
    }
}

/// `[client]`: used when the kernel asks for a ClientHello.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSection {
    /// PEM bundle of the CAs servers are verified against; unset: the system bundle.
    pub ca_file: Option<PathBuf>,
    /// Certificate chain (PEM) shown in x509 mode when the request names no key serials.
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// Server name verified when the request carries no peer name.
    pub server_name: Option<String>,
}

/// `[server]`: used when the kernel asks for a ServerHello.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Certificate chain (PEM) used when the request names no key serials.
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// PEM bundle of the CAs client certificates are verified against; unset: clients are
    /// not asked for certificates.
    pub client_ca_file: Option<PathBuf>,
    /// With `client_ca_file`: refuse clients without a certificate.
    pub require_client_cert: bool,
    /// Session tickets sent after each handshake (resumption with the agent's session cache).
    pub tickets: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            require_client_cert: false,
            tickets: 2,
        }
    }
}

/// `[psk]`: pre-shared keys.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PskSection {
    /// Files of `identity:hexkey` lines.
    pub files: Vec<PathBuf>,
    /// libquic's C library, which runs PSK handshakes (GnuTLS): a soname or a path.
    pub library: String,
}

impl Default for PskSection {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            library: crate::psk::DEFAULT_LIBRARY.to_owned(),
        }
    }
}

/// `[keyring]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct KeyringSection {
    /// Keyrings (by description, e.g. `.nfs`) linked into the agent's process keyring at start,
    /// so that the keys they hold can be read when a request names them.
    pub link: Vec<String>,
}

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[agent]`.
    pub agent: AgentSection,
    /// `[limits]`.
    pub limits: Limits,
    /// `[client]`.
    pub client: ClientSection,
    /// `[server]`.
    pub server: ServerSection,
    /// `[psk]`.
    pub psk: PskSection,
    /// `[keyring]`.
    pub keyring: KeyringSection,
}

impl Config {
    /// Parses TOML text and checks the values (not the files they name: see [`Credentials`]).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| cerr(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            fs::read_to_string(path).map_err(|e| cerr(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| cerr(format!("{}: {e}", path.display())))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let c = self.agent.handler_class;
        if c == handler_class::NONE || c >= handler_class::MAX {
            return Err(cerr(format!(
                "agent.handler_class = {c}: the kernel knows classes 1..{}",
                handler_class::MAX - 1
            )));
        }
        let l = &self.limits;
        if l.max_handshakes == 0 || l.max_handshakes > 4096 {
            return Err(cerr("limits.max_handshakes must be 1..=4096"));
        }
        if l.default_timeout_ms == 0 || l.max_timeout_ms == 0 {
            return Err(cerr("limits: time limits must be positive"));
        }
        if l.default_timeout_ms > l.max_timeout_ms {
            return Err(cerr(
                "limits.default_timeout_ms is larger than limits.max_timeout_ms",
            ));
        }
        for (what, cert, key) in [
            ("client", &self.client.cert_file, &self.client.key_file),
            ("server", &self.server.cert_file, &self.server.key_file),
        ] {
            if cert.is_some() != key.is_some() {
                return Err(cerr(format!("{what}: cert_file and key_file go together")));
            }
        }
        if self.server.require_client_cert && self.server.client_ca_file.is_none() {
            return Err(cerr(
                "server.require_client_cert needs server.client_ca_file",
            ));
        }
        if let Some(n) = &self.client.server_name {
            if rustls_pki_types::ServerName::try_from(n.as_str()).is_err() {
                return Err(cerr(format!(
                    "client.server_name {n:?} is not a valid name"
                )));
            }
        }
        if self.psk.library.is_empty() || self.psk.library.contains('\0') {
            return Err(cerr("psk.library must name a library"));
        }
        for k in &self.keyring.link {
            if k.is_empty() || k.contains('\0') {
                return Err(cerr(format!("keyring.link: bad keyring name {k:?}")));
            }
        }
        Ok(())
    }
}

/// A certificate chain and its key.
#[derive(Debug)]
pub struct CertKey {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for CertKey {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A pre-shared key.
#[derive(Clone, PartialEq, Eq)]
pub struct Psk {
    /// Its identity.
    pub identity: String,
    /// The key bytes.
    pub key: Vec<u8>,
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Psk")
            .field("identity", &self.identity)
            .field("key", &format_args!("[{} bytes]", self.key.len()))
            .finish()
    }
}

/// The credentials the configuration names, read and parsed.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// CAs servers are verified against (`None`: the system bundle, loaded when needed).
    pub client_roots: Option<Vec<CertificateDer<'static>>>,
    /// The client's own certificate.
    pub client_cert: Option<CertKey>,
    /// The server's certificate.
    pub server_cert: Option<CertKey>,
    /// CAs client certificates are verified against.
    pub server_client_roots: Option<Vec<CertificateDer<'static>>>,
    /// Pre-shared keys.
    pub psks: Vec<Psk>,
}

/// Reads the certificates of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = fs::read(path).map_err(|e| cerr(format!("{}: {e}", path.display())))?;
    certs_from_pem(&pem).map_err(|e| cerr(format!("{}: {e}", path.display())))
}

/// The certificates of PEM text (at least one).
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(certs)
}

/// Reads the private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let pem = fs::read(path).map_err(|e| cerr(format!("{}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| cerr(format!("{}: no usable private key: {e}", path.display())))
}

/// Parses a PSK file: `identity:hexkey` lines; blank lines and `#` comments are skipped.
pub fn parse_psk_file(text: &str) -> Result<Vec<Psk>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, hex)) = line.rsplit_once(':') else {
            return Err(format!("line {}: want identity:hexkey", n + 1));
        };
        if id.is_empty() {
            return Err(format!("line {}: empty identity", n + 1));
        }
        let key = decode_hex(hex.trim()).ok_or_else(|| format!("line {}: bad hex key", n + 1))?;
        if key.len() < 16 {
            return Err(format!(
                "line {}: key of {} bytes, fewer than 16",
                n + 1,
                key.len()
            ));
        }
        out.push(Psk {
            identity: id.trim().to_owned(),
            key,
        });
    }
    Ok(out)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn cert_key(
    what: &str,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
) -> Result<Option<CertKey>, ConfigError> {
    match (cert, key) {
        (Some(c), Some(k)) => {
            let chain = read_certs(c)?;
            let key = read_key(k)?;
            // Check that the two belong together.
            let provider = rustls::crypto::ring::default_provider();
            let signing = provider
                .key_provider
                .load_private_key(key.clone_key())
                .map_err(|e| cerr(format!("{what}: {}: {e}", k.display())))?;
            rustls::sign::CertifiedKey::new(chain.clone(), signing)
                .keys_match()
                .map_err(|e| {
                    cerr(format!(
                        "{what}: {} and {} do not match: {e}",
                        c.display(),
                        k.display()
                    ))
                })?;
            Ok(Some(CertKey { chain, key }))
        }
        _ => Ok(None),
    }
}

impl Credentials {
    /// Reads every file the configuration names.
    pub fn load(c: &Config) -> Result<Self, ConfigError> {
        let mut psks = Vec::new();
        for f in &c.psk.files {
            let text = fs::read_to_string(f).map_err(|e| cerr(format!("{}: {e}", f.display())))?;
            psks.extend(parse_psk_file(&text).map_err(|e| cerr(format!("{}: {e}", f.display())))?);
        }
        Ok(Self {
            client_roots: c.client.ca_file.as_deref().map(read_certs).transpose()?,
            client_cert: cert_key("client", &c.client.cert_file, &c.client.key_file)?,
            server_cert: cert_key("server", &c.server.cert_file, &c.server.key_file)?,
            server_client_roots: c
                .server
                .client_ca_file
                .as_deref()
                .map(read_certs)
                .transpose()?,
            psks,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A temporary directory removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> Self {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("kquic-agent-{tag}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub(crate) fn write(&self, name: &str, data: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            fs::write(&p, data).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A self-signed certificate for `name` and its key, as PEM.
    pub(crate) fn cert_pem(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.agent.handler_class, 1);
        assert_eq!(c.agent.log_level, LogLevel::Info);
        assert_eq!(c.limits.max_handshakes, 64);
        assert_eq!(c.server.tickets, 2);
        assert_eq!(c.psk.library, "libquic.so.1");
        let cr = Credentials::load(&c).unwrap();
        assert!(cr.client_roots.is_none() && cr.server_cert.is_none() && cr.psks.is_empty());
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../kquic-agent.toml.example");
        let c = Config::parse(text).unwrap();
        assert_eq!(c.agent.log_level, LogLevel::Info);
        assert_eq!(c.limits, Limits::default());
        // The example shows every section with the defaults, its paths commented out.
        assert_eq!(c.server.tickets, 2);
        assert_eq!(c.keyring.link, Vec::<String>::new());
    }

    #[test]
    fn full_file() {
        let c = Config::parse(
            r#"
            [agent]
            log_level = "debug"
            handler_class = 1
            [limits]
            max_handshakes = 8
            default_timeout_ms = 1000
            max_timeout_ms = 2000
            shutdown_grace_ms = 0
            [client]
            ca_file = "/x/ca.pem"
            server_name = "nfs.example"
            [server]
            cert_file = "/x/c.pem"
            key_file = "/x/k.pem"
            client_ca_file = "/x/ca.pem"
            require_client_cert = true
            tickets = 0
            [psk]
            files = ["/x/psk.txt"]
            library = "/opt/kq/lib/libquic.so.1"
            [keyring]
            link = [".nfs", ".nvme"]
            "#,
        )
        .unwrap();
        assert_eq!(c.agent.log_level, LogLevel::Debug);
        assert_eq!(c.limits.max_handshakes, 8);
        assert_eq!(c.client.server_name.as_deref(), Some("nfs.example"));
        assert!(c.server.require_client_cert);
        assert_eq!(c.keyring.link, vec![".nfs", ".nvme"]);
        assert_eq!(c.psk.files, vec![PathBuf::from("/x/psk.txt")]);
        assert_eq!(c.psk.library, "/opt/kq/lib/libquic.so.1");
        // The files do not exist: loading the credentials says which.
        let e = Credentials::load(&c).unwrap_err();
        assert!(e.0.contains("/x/"), "{e}");
    }

    #[test]
    fn bad_files() {
        for (text, want) in [
            ("[agent]\nlog_level = \"loud\"", "unknown variant"),
            ("[agent]\nhandler_class = 0", "handler_class = 0"),
            ("[agent]\nhandler_class = 2", "handler_class = 2"),
            ("[agent]\nfoo = 1", "unknown field"),
            ("[nope]\n", "unknown field"),
            ("[limits]\nmax_handshakes = 0", "max_handshakes"),
            ("[limits]\nmax_handshakes = -1", "invalid value"),
            ("[limits]\ndefault_timeout_ms = 0", "positive"),
            (
                "[limits]\ndefault_timeout_ms = 9\nmax_timeout_ms = 8",
                "larger than",
            ),
            ("[server]\ncert_file = \"/c\"", "go together"),
            ("[client]\nkey_file = \"/k\"", "go together"),
            ("[server]\nrequire_client_cert = true", "client_ca_file"),
            ("[client]\nserver_name = \"a b\"", "not a valid name"),
            ("[keyring]\nlink = [\"\"]", "bad keyring name"),
            ("[psk]\nlibrary = \"\"", "psk.library"),
            ("agent = 3", "invalid type"),
            ("[agent", "expected"),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.0.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn verbosity() {
        assert_eq!(LogLevel::Info.more_verbose(0), LogLevel::Info);
        assert_eq!(LogLevel::Info.more_verbose(1), LogLevel::Debug);
        assert_eq!(LogLevel::Warn.more_verbose(9), LogLevel::Trace);
        assert_eq!(LogLevel::Error.filter(), log::LevelFilter::Error);
    }

    #[test]
    fn credentials_from_files() {
        let d = TempDir::new("creds");
        let (cert, key) = cert_pem("srv.example");
        let (other_cert, _) = cert_pem("other.example");
        let c = d.write("c.pem", cert.as_bytes());
        let k = d.write("k.pem", key.as_bytes());
        let oc = d.write("oc.pem", other_cert.as_bytes());
        let psk = d.write(
            "psk.txt",
            b"# test keys\nclient1:00112233445566778899aabbccddeeff\n\nnvme:id:ffeeddccbbaa99887766554433221100ff\n",
        );
        let text = format!(
            "[server]\ncert_file = {c:?}\nkey_file = {k:?}\n[client]\nca_file = {c:?}\n\
             [psk]\nfiles = [{psk:?}]\n"
        );
        let cfg = Config::parse(&text).unwrap();
        let cr = Credentials::load(&cfg).unwrap();
        assert_eq!(cr.server_cert.as_ref().unwrap().chain.len(), 1);
        assert_eq!(cr.client_roots.as_ref().unwrap().len(), 1);
        assert_eq!(cr.psks.len(), 2);
        assert_eq!(cr.psks[1].identity, "nvme:id");
        assert_eq!(cr.psks[1].key.len(), 17);

        // A key that is not the certificate's.
        let text = format!("[server]\ncert_file = {oc:?}\nkey_file = {k:?}\n");
        let e = Credentials::load(&Config::parse(&text).unwrap()).unwrap_err();
        assert!(e.0.contains("do not match"), "{e}");
        // A key file given as the certificate.
        let text = format!("[server]\ncert_file = {k:?}\nkey_file = {k:?}\n");
        let e = Credentials::load(&Config::parse(&text).unwrap()).unwrap_err();
        assert!(e.0.contains("no certificate"), "{e}");
        // A certificate given as the key.
        let text = format!("[client]\ncert_file = {c:?}\nkey_file = {c:?}\n");
        let e = Credentials::load(&Config::parse(&text).unwrap()).unwrap_err();
        assert!(e.0.contains("no usable private key"), "{e}");
    }

    #[test]
    fn psk_files() {
        assert_eq!(parse_psk_file("").unwrap(), vec![]);
        for (bad, want) in [
            ("nocolon", "identity:hexkey"),
            (":00112233445566778899aabbccddeeff", "empty identity"),
            ("a:0011", "fewer than 16"),
            ("a:001122334455667788990aabbccddeeffz", "bad hex"),
            ("a:0g112233445566778899aabbccddeeff", "bad hex"),
        ] {
            let e = parse_psk_file(bad).unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
        let p = parse_psk_file("x : 00112233445566778899AABBCCDDEEFF").unwrap();
        assert_eq!(p[0].identity, "x");
        assert_eq!(p[0].key[15], 0xff);
        assert!(
            !format!("{:?}", p[0]).contains("255"),
            "keys stay out of logs"
        );
    }
}
