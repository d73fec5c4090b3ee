//! Who may drive the API: which web pages (CORS origins), which names the server answers to
//! (the Host header, against DNS rebinding), the bearer token, and how large a request may be.
//!
//! A browser lets any page it shows send requests to `localhost`; these rules are what keep a
//! page on some other site from listing a person's carts or checking them out.

use super::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The largest request body: a cart request is a few hundred bytes (the longest, a checkout,
/// carries an e-mail address and a payment id of at most 255 characters).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The web pages that may call the API from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origins {
    /// Pages served from this machine (`http://localhost:*`, `http://127.0.0.1:*`,
    /// `http://[::1]:*`: the tutorial's front end on localhost:8080 among them) and these.
    Local(Vec<HeaderValue>),
    /// Any page at all: only when asked for with `--allow-origin '*'`.
    Any,
}

impl Origins {
    /// The origins from `--allow-origin` values; `*` means any.
    pub fn from_flags(flags: &[String]) -> Result<Self, String> {
        if flags.iter().any(|f| f == "*") {
            return Ok(Origins::Any);
        }
        flags
            .iter()
            .map(|o| {
                HeaderValue::from_str(o.trim_end_matches('/'))
                    .map_err(|_| format!("--allow-origin {o:?} is not a valid origin"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Origins::Local)
    }

    pub fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            Origins::Any => true,
            Origins::Local(listed) => listed.contains(origin) || is_loopback_origin(origin),
        }
    }
}

/// `http://localhost:8080`, `http://127.0.0.1`, `http://[::1]:5173` and the like.
fn is_loopback_origin(origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(host_port) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = split_port(host_port).0;
    is_loopback_name(host)
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `host:port` into its parts (`[::1]:80` included); the port as text, if any.
fn split_port(host_port: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host_port.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':')),
            None => (host_port, None),
        };
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (host_port, None),
    }
}

/// The names the server answers to. A page on `evil.example` whose name the attacker points at
/// 127.0.0.1 (DNS rebinding) still sends `Host: evil.example`, and is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts {
    listen: SocketAddr,
    /// Names given with `--allow-host` (a public name, behind a proxy say).
    names: Vec<String>,
}

impl Hosts {
    pub fn new(listen: SocketAddr, names: Vec<String>) -> Self {
        let names = names.into_iter().map(|n| n.to_ascii_lowercase()).collect();
        Self { listen, names }
    }

    /// Whether a `Host` header names this server: its own address, a loopback name when it
    /// listens on loopback, or an allowed name. On an all-interfaces address (`0.0.0.0`)
    /// without allowed names, any name (a token guards such a server).
    pub fn allows(&self, host: &str) -> bool {
        let (name, port) = split_port(host);
        let name = name.to_ascii_lowercase();
        if self.names.contains(&name) {
            return true;
        }
        let port_matches = match port {
            Some(p) => p.parse() == Ok(self.listen.port()),
            None => self.listen.port() == 80,
        };
        let ip = self.listen.ip();
        if ip.is_unspecified() {
            return self.names.is_empty();
        }
        if !port_matches {
            return false;
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        literal.parse() == Ok(ip) || (ip.is_loopback() && is_loopback_name(&name))
    }
}

/// Refuses a request whose `Host` is not one of the server's names.
pub async fn check_host(State(hosts): State<Arc<Hosts>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if hosts.allows(host) {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!("this server does not answer to the name {host:?}; see `cart serve --help` for --allow-host"),
    )
    .into_response()
}

/// Compares a given token with the expected one in constant time, so timing does not reveal
/// how much of it was right.
pub fn token_matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn only_pages_on_this_machine_by_default() {
        let local = Origins::from_flags(&[]).unwrap();
        for ok in [
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "http://[::1]:5173",
            "http://localhost",
        ] {
            assert!(local.allows(&origin(ok)), "{ok}");
        }
        for bad in [
            "https://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example:80",
            "null",
            "https://localhost:8080",
        ] {
            assert!(!local.allows(&origin(bad)), "{bad}");
        }
        let shop = Origins::from_flags(&["https://shop.example/".into()]).unwrap();
        assert!(shop.allows(&origin("https://shop.example")));
        assert!(shop.allows(&origin("http://localhost:8080")));
        assert!(!shop.allows(&origin("https://other.example")));
        let any = Origins::from_flags(&["*".into()]).unwrap();
        assert!(any.allows(&origin("https://evil.example")));
    }

    #[test]
    fn a_rebinding_host_is_refused() {
        let loopback = Hosts::new("127.0.0.1:3001".parse().unwrap(), vec![]);
        for ok in [
            "127.0.0.1:3001",
            "localhost:3001",
            "LOCALHOST:3001",
            "[::1]:3001",
        ] {
            assert!(loopback.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:3001",
            "127.0.0.1:3002",
            "localhost",
            "",
            "10.0.0.5:3001",
        ] {
            assert!(!loopback.allows(bad), "{bad}");
        }
        let public = Hosts::new("10.0.0.5:443".parse().unwrap(), vec!["Shop.Example".into()]);
        assert!(public.allows("10.0.0.5:443"));
        assert!(public.allows("shop.example"));
        assert!(public.allows("shop.example:8443"));
        assert!(!public.allows("evil.example"));
        let anywhere = Hosts::new("0.0.0.0:3001".parse().unwrap(), vec![]);
        assert!(anywhere.allows("whatever.example"));
        let named = Hosts::new("0.0.0.0:3001".parse().unwrap(), vec!["shop.example".into()]);
        assert!(!named.allows("whatever.example"));
        assert!(named.allows("shop.example"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches("secret", "secret"));
        assert!(!token_matches("secreT", "secret"));
        assert!(!token_matches("secret2", "secret"));
        assert!(!token_matches("", "x"));
    }
}
