//! Webhooks to `https://` endpoints: a receiver on loopback with a
//! certificate for `localhost` issued by a CA made for the test (rcgen, at
//! test time: nothing to expire in the repository). With the CA in `[tls]
//! extra_ca_file` deliveries arrive signed as over plain HTTP; without it
//! the certificate is not trusted and nothing is delivered.

use crate::helpers::json_body;
use crate::inventory::{create_sku, purchase};
use crate::receiver::Receiver;
use crate::webhooks::{eager_app, registered, verified};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// A test CA's PEM and a TLS acceptor presenting a `localhost` certificate
/// it issued.
fn test_ca() -> (String, TlsAcceptor) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "surge test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
        .unwrap();
    (ca_cert.pem(), TlsAcceptor::from(Arc::new(config)))
}

#[tokio::test]
async fn a_webhook_is_delivered_over_tls_to_a_receiver_of_a_trusted_ca() {
    let (ca_pem, acceptor) = test_ca();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let app = eager_app(|s| s.tls.extra_ca_file = ca_file.display().to_string()).await;
    let receiver = Receiver::start_tls(0, acceptor).await;
    assert!(receiver.url.starts_with("https://localhost:"));
    registered(&app, &receiver.url, Some(&["order.created"])).await;
    create_sku(&app, "TLS-1", 3).await;
    let order = json_body(purchase(&app, "TLS-1", "tls-1", "alice", 1).await, 201).await;
    let got = receiver.wait_for(|got| !got.is_empty()).await;
    let body = verified(&got[0]);
    assert_eq!(body["type"], "order.created");
    assert_eq!(body["data"]["order_id"], order["order_id"]);
}

#[tokio::test]
async fn an_untrusted_certificate_gets_nothing() {
    let (_, acceptor) = test_ca();
    let app = eager_app(|_| {}).await;
    let receiver = Receiver::start_tls(0, acceptor).await;
    registered(&app, &receiver.url, Some(&["order.created"])).await;
    create_sku(&app, "TLS-2", 3).await;
    json_body(purchase(&app, "TLS-2", "tls-2", "alice", 1).await, 201).await;
    // Several tries back off meanwhile (10 to 50 ms); none gets through.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(receiver.requests().await.is_empty());
    let listed = app.admin_json("/v1/admin/webhooks").await;
    let item = &listed["items"][0];
    assert!(
        item["pending"].as_u64().unwrap_or(0) + item["dead_letters"].as_u64().unwrap_or(0) >= 1,
        "{item}"
    );
}
