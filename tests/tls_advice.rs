//! TLS failures that most tutorials walk users into get a message that says what happened
//! and what to do.
#![cfg(feature = "tls")]

mod support;

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rfc6455::blocking::rustls::pki_types::PrivateKeyDer;
use rfc6455::blocking::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use rfc6455::blocking::{Acceptor, ClientBuilder};
use support::{join, spawn_server};

#[test]
fn a_self_signed_ca_certificate_as_the_server_certificate_is_explained() {
    // What `openssl req -x509 -newkey ... -subj /CN=localhost` makes: a self-signed
    // certificate that is also a CA.
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    // The client trusts it, as the tutorials say to.
    let mut roots = RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let server = Arc::new(server);
    let (addr, handle) =
        spawn_server(move |stream| Acceptor::new().accept_tls(stream, server).map(drop));
    let err = ClientBuilder::new(format!("wss://localhost:{}/", addr.port()))
        .tls_config(Arc::new(client))
        .connect()
        .expect_err("a CA certificate as the server's own is refused");
    let message = err.to_string();
    assert!(message.contains("CA certificate"), "{message}");
    assert!(message.contains("basicConstraints"), "{message}");
    assert!(message.contains("tls_config"), "{message}");
    assert!(join(handle).is_err());
}
