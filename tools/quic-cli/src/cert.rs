//! `quic gen-cert`: a self-signed ECDSA P-256 certificate and its key, for tests and the demo.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use crate::common::{Context, Result};

/// A certificate and its private key, both PEM.
pub(crate) struct SelfSigned {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    /// The certificate, DER (what a client in the same process trusts).
    pub(crate) cert_der: Vec<u8>,
    /// The key, PKCS#8 DER.
    pub(crate) key_der: Vec<u8>,
}

/// The subject alternative names of a certificate for `name`: the name itself, and the
/// loopback names and addresses so that `quic connect 127.0.0.1:PORT` verifies without
/// `--sni`.
pub(crate) fn subject_alt_names(name: &str) -> Vec<String> {
    let mut sans = vec![name.to_string()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !sans.iter().any(|s| s == extra) {
            sans.push(extra.to_string());
        }
    }
    sans
}

/// Makes a self-signed ECDSA P-256 certificate for `name` (see [`subject_alt_names`]).
pub(crate) fn self_signed(name: &str) -> Result<SelfSigned> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).ctx("ECDSA P-256 key generation")?;
    let mut params =
        CertificateParams::new(subject_alt_names(name)).ctx("certificate parameters")?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "kquic test certificate");
    params.distinguished_name = dn;
    let cert = params.self_signed(&key).ctx("self-signing")?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// Writes `cert.pem` and `key.pem` (mode 0600) into `dir`, creating it; returns both paths.
pub(crate) fn write_cert(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
    let c = self_signed(name)?;
    fs::create_dir_all(dir).ctx(format_args!("creating {}", dir.display()))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    fs::write(&cert_path, &c.cert_pem).ctx(format_args!("writing {}", cert_path.display()))?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_path)
        .ctx(format_args!("creating {}", key_path.display()))?;
    f.write_all(c.key_pem.as_bytes())
        .ctx(format_args!("writing {}", key_path.display()))?;
    Ok((cert_path, key_path))
}

#[cfg(test)]
mod tests {
    use quic::tls::{QuicVersion, TlsConfig, TlsError, TlsSession};

    use super::*;

    #[test]
    fn sans_cover_loopback_once() {
        assert_eq!(
            subject_alt_names("localhost"),
            ["localhost", "127.0.0.1", "::1"]
        );
        assert_eq!(
            subject_alt_names("kquic.test"),
            ["kquic.test", "localhost", "127.0.0.1", "::1"]
        );
    }

    #[test]
    fn generated_files_load_into_tls_configs() {
        let dir = std::env::temp_dir().join(format!("quic-cli-gen-cert-{}", std::process::id()));
        let (cert, key) = write_cert(&dir, "kquic.test").unwrap();
        let pem = fs::read_to_string(&cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        let key_pem = fs::read_to_string(&key).unwrap();
        assert!(key_pem.contains("PRIVATE KEY"), "{key_pem}");
        let mode = fs::metadata(&key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let server = TlsConfig::server()
            .cert_file(&cert)
            .key_file(&key)
            .alpn("kquic")
            .build()
            .unwrap();
        for name in ["kquic.test", "localhost", "127.0.0.1", "::1"] {
            let client = TlsConfig::client()
                .ca_file(&cert)
                .server_name(name)
                .alpn("kquic")
                .build()
                .unwrap();
            handshake_in_memory(&client, &server).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = TlsConfig::client()
            .ca_file(&cert)
            .server_name("elsewhere.test")
            .alpn("kquic")
            .build()
            .unwrap();
        assert!(handshake_in_memory(&other, &server).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs a client and a server session against each other, CRYPTO bytes passed by hand.
    fn handshake_in_memory(
        client: &TlsConfig,
        server: &TlsConfig,
    ) -> std::result::Result<(), TlsError> {
        let mut c = TlsSession::new(client, QuicVersion::V1, b"client-params")?;
        let mut s = TlsSession::new(server, QuicVersion::V1, b"server-params")?;
        for _ in 0..16 {
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
            while let Some((level, data)) = c.poll_output() {
                s.feed(level, &data)?;
            }
            while let Some((level, data)) = s.poll_output() {
                c.feed(level, &data)?;
            }
            if let Some(e) = c.error().or(s.error()) {
                return Err(e.clone());
            }
        }
        panic!("handshake did not finish");
    }
}
