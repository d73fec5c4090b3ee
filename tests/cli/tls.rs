//! Connecting as to a self-hosted cluster with mutual TLS: a `cart worker` and `cart` clients
//! use the `TEMPORAL_TLS_*` settings (Temporal's own environment configuration) to reach the
//! dev server through a TLS proxy that requires a client certificate.

use super::{Setup, stderr};
use crate::support::{tls, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_and_clients_connect_with_the_temporal_tls_settings() {
    let s = Setup::new().await;
    let pki = tls::Pki::new(s.data());
    let port = tls::proxy(&pki, s.address.clone()).await;
    let address = format!("localhost:{port}");
    let with_ca = |ca| {
        let mut vars = pki.client_vars(ca);
        vars.push(("TEMPORAL_ADDRESS", address.clone()));
        vars
    };

    // The worker polls only if its connection through the proxy works: the proxy speaks
    // nothing but TLS with a client certificate.
    let vars = with_ca(&pki.ca);
    let worker_vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _worker = s.spawn_worker_with(&worker_vars).await;
    let cart = unique("CART-tls");
    let out = s
        .cart()
        .envs(with_ca(&pki.ca))
        .args(["add", &cart, "--product", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s
        .cart()
        .envs(with_ca(&pki.ca))
        .args(["show", &cart, "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // Trusting the wrong CA: a clear refusal that names the setting to check.
    let out = s
        .cart()
        .envs(with_ca(&pki.other_ca))
        .args(["show", &cart])
        .output()
        .unwrap();
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(
        said.contains(&format!("cannot reach Temporal at {address}")),
        "{said}"
    );
    assert!(said.contains("certificate"), "{said}");
    assert!(said.contains("TEMPORAL_TLS_SERVER_CA_CERT_PATH"), "{said}");

    // Without a client certificate the server ends the handshake.
    let out = s
        .cart()
        .env("TEMPORAL_ADDRESS", &address)
        .env("TEMPORAL_TLS_SERVER_CA_CERT_PATH", &pki.ca)
        .args(["show", &cart])
        .output()
        .unwrap();
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(said.contains("TEMPORAL_TLS_CLIENT_CERT_PATH"), "{said}");
}
