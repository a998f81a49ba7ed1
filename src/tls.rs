//! Outbound connections, plain or TLS: what the webhook sender and the
//! Stripe client open. TLS is rustls with ring as its crypto provider (no
//! large C build, no OpenSSL), trusting Mozilla's roots compiled into the
//! binary (webpki-roots: nothing depends on the host's certificate store,
//! and nothing is read from the network) plus, optionally, the CAs of
//! `[tls] extra_ca_file` (a private receiver's CA, a test CA).
//!
//! A connection is one HTTP/1.1 connection driven by hyper; callers keep it
//! for the next request while it is open.

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// An open HTTP/1.1 connection to one endpoint.
pub type Connection = SendRequest<Full<Bytes>>;

/// The `[tls]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// A PEM file of CA certificates trusted besides the built-in roots, for
    /// `https://` webhooks and the Stripe API base; empty for none.
    pub extra_ca_file: String,
}

/// The TLS client configuration every outbound connection shares.
#[derive(Clone)]
pub struct Tls(Arc<ClientConfig>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// The built-in roots and those of `extra_ca_file`; a file that cannot
    /// be read or holds no certificate is an error, so a typo stops the
    /// start instead of failing every delivery later.
    pub fn new(settings: &TlsSettings) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if !settings.extra_ca_file.is_empty() {
            let file = &settings.extra_ca_file;
            let certs = CertificateDer::pem_file_iter(file)
                .map_err(|e| format!("tls.extra_ca_file {file}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("tls.extra_ca_file {file}: {e}"))?;
            if certs.is_empty() {
                return Err(format!("tls.extra_ca_file {file} holds no PEM certificate"));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("tls.extra_ca_file {file}: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self(Arc::new(config)))
    }

    /// Opens a connection to the endpoint of `uri`: TLS for `https`, plain
    /// TCP for `http`.
    pub async fn connect(&self, uri: &hyper::Uri) -> Result<Connection, String> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the url must be http:// or https://".into()),
        };
        // `[::1]` is how a URL writes an IPv6 address; a socket wants `::1`.
        let host = uri
            .host()
            .ok_or("the url has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let _ = stream.set_nodelay(true);
        if !https {
            return handshake(stream).await;
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("the url's host is not a TLS server name: {e}"))?;
        let stream = TlsConnector::from(self.0.clone())
            .connect(name, stream)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        handshake(stream).await
    }
}

/// HTTP/1.1 over `io`; the connection task ends when the peer closes or
/// the sender is dropped.
async fn handshake<T>(io: T) -> Result<Connection, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roots_load_and_a_bad_ca_file_is_refused() {
        assert!(Tls::new(&TlsSettings::default()).is_ok());
        let missing = TlsSettings {
            extra_ca_file: "/nonexistent/ca.pem".into(),
        };
        assert!(Tls::new(&missing).unwrap_err().contains("extra_ca_file"));
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let empty = TlsSettings {
            extra_ca_file: empty.display().to_string(),
        };
        assert!(Tls::new(&empty).unwrap_err().contains("no PEM certificate"));
    }
}
