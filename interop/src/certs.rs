//! Test certificates, generated at run time (nothing secret is kept in the tree).

use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, with its key. Clients
/// trust the certificate itself as their only root.
pub struct TestCert {
    /// DER certificate.
    pub cert_der: CertificateDer<'static>,
    /// PKCS#8 DER private key.
    pub key_der: Vec<u8>,
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM private key.
    pub key_pem: String,
}

impl TestCert {
    /// Generates a fresh key pair and certificate.
    pub fn generate() -> Self {
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let ck = rcgen::generate_simple_self_signed(names)
            .expect("rcgen: self-signed certificate for fixed names");
        Self {
            cert_der: ck.cert.der().clone(),
            key_der: ck.key_pair.serialize_der(),
            cert_pem: ck.cert.pem(),
            key_pem: ck.key_pair.serialize_pem(),
        }
    }

    /// The private key as rustls takes it.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths.
    pub fn write_pem(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let c = dir.join("cert.pem");
        let k = dir.join("key.pem");
        std::fs::write(&c, &self.cert_pem)?;
        std::fs::write(&k, &self.key_pem)?;
        Ok((c, k))
    }
}

impl std::fmt::Debug for TestCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCert").finish_non_exhaustive()
    }
}
