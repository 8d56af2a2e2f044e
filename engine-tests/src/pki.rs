//! A throw-away PKI: a CA and a leaf certificate for [`SERVER_NAME`], made once per process.

use std::sync::OnceLock;

use quic::tls::{TlsConfig, TlsConfigBuilder};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// The name the server certificate is issued for.
pub const SERVER_NAME: &str = "server.test";

/// PEM texts of the test PKI.
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate.
    pub ca_pem: String,
    /// Leaf and CA certificates.
    pub chain_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
}

impl Pki {
    fn generate() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kquic engine test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA cert");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut leaf_params =
            CertificateParams::new(vec![SERVER_NAME.to_string()]).expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf cert");
        Self {
            ca_pem: ca.pem(),
            chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
            key_pem: leaf_key.serialize_pem(),
        }
    }

    /// A client trusting the CA, offering `alpn`.
    pub fn client(&self, alpn: &str) -> TlsConfigBuilder {
        TlsConfig::client()
            .ca_pem(self.ca_pem.as_bytes())
            .server_name(SERVER_NAME)
            .alpn(alpn)
    }

    /// A server with the leaf certificate, offering `alpn`.
    pub fn server(&self, alpn: &str) -> TlsConfigBuilder {
        TlsConfig::server()
            .cert_pem(self.chain_pem.as_bytes())
            .key_pem(self.key_pem.as_bytes())
            .alpn(alpn)
    }
}

/// The process-wide test PKI.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(Pki::generate)
}
