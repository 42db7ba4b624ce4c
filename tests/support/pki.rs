//! A private certificate authority made at test time with rcgen, for the TLS tests of both
//! adapters: a CA, the certificates it issues, and rustls configurations trusting it.

use std::sync::{Arc, OnceLock};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rfc6455::blocking::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rfc6455::blocking::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A private CA, and what it issues.
pub struct Ca {
    pub cert: CertificateDer<'static>,
    pub pem: String,
    pub issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub pem: String,
    pub key: KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            pem: cert.pem(),
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for these names (DNS names or IP addresses).
    pub fn issue(&self, names: &[&str]) -> Leaf {
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        self.issue_with(params)
    }

    pub fn issue_with(&self, mut params: CertificateParams) -> Leaf {
        params
            .distinguished_name
            .push(DnType::CommonName, "rfc6455 test");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone(), self.cert.clone()],
            pem: cert.pem(),
            key,
        }
    }

    /// A client configuration that trusts this CA only.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::new(
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(self.roots())
                .with_no_client_auth(),
        )
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).expect("CA root");
        roots
    }
}

impl Leaf {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(self.key.serialize_der()).expect("key DER")
    }

    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(self.chain.clone(), self.key_der())
                .expect("server certificate"),
        )
    }
}

/// The CA and a server certificate for localhost, 127.0.0.1 and ::1, made once.
pub fn pki() -> &'static (Ca, Leaf) {
    static PKI: OnceLock<(Ca, Leaf)> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = Ca::new("rfc6455 test CA");
        let leaf = ca.issue(&["localhost", "127.0.0.1", "::1"]);
        (ca, leaf)
    })
}
