//! A TLS front for the dev server, which has no TLS of its own: certificates made for the test
//! (a CA, a server certificate for `localhost`, a client CA and a client certificate), and a
//! proxy on loopback that requires the client certificate (mutual TLS, as a self-hosted cluster
//! would), then passes the gRPC connection on to the dev server unchanged.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A CA and what it signed, as PEM files in a directory.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here: the wrong one to trust.
    pub other_ca: PathBuf,
}

struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    Authority {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A certificate for `names`, signed by `by`: its PEM and its key's PEM.
fn signed(names: &[&str], by: &Authority) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "cart test");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &by.cert, &by.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub fn new(dir: &Path) -> Self {
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca = authority("cart test server CA");
        let client_ca = authority("cart test client CA");
        let (server_cert, server_key) = signed(&["localhost", "127.0.0.1"], &ca);
        let (client_cert, client_key) = signed(&["cart-worker"], &client_ca);
        Self {
            ca: write("ca.pem", &ca.cert.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_ca: write("client-ca.pem", &client_ca.cert.pem()),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            other_ca: write("other-ca.pem", &authority("someone else's CA").cert.pem()),
        }
    }

    /// The `TEMPORAL_TLS_*` settings a client of the proxy uses (with `ca` as the CA it trusts).
    pub fn client_vars(&self, ca: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", ca.display().to_string()),
            (
                "TEMPORAL_TLS_CLIENT_CERT_PATH",
                self.client_cert.display().to_string(),
            ),
            (
                "TEMPORAL_TLS_CLIENT_KEY_PATH",
                self.client_key.display().to_string(),
            ),
        ]
    }
}

/// Serves TLS with the server certificate on a free loopback port, requires a client
/// certificate signed by the client CA, and passes each connection on to `upstream`. Returns
/// the port; the proxy lives as long as the test's runtime.
pub async fn proxy(pki: &Pki, upstream: String) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.client_ca).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_file(&pki.server_cert).unwrap()],
            PrivateKeyDer::from_pem_file(&pki.server_key).unwrap(),
        )
        .unwrap();
    // gRPC is HTTP/2, and the client insists on agreeing on it.
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                // A handshake that fails (a client without a certificate, or one that does not
                // trust ours) just ends the connection, as a real server's does.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}
