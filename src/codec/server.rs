//! Temporal's remote codec protocol, so that `temporal … --codec-endpoint` and the Temporal Web
//! UI can show the plain data to whoever may see it: `POST /encode` and `POST /decode`, each
//! taking and answering `{"payloads": [{"metadata": {name: base64}, "data": base64}]}`.
//!
//! The Web UI calls it from the browser, so it answers CORS preflights from the UI's origin
//! (and only from it); with a token, every other request needs `Authorization: Bearer TOKEN`.

use super::EncryptionCodec;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The largest request: a whole history's payloads may come at once.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub struct CodecServer {
    pub codec: EncryptionCodec,
    /// When set, every request but a preflight needs `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The Web UI origins allowed to call from a browser.
    pub ui_origins: Vec<HeaderValue>,
}

/// A payload as the protocol writes it: proto JSON, bytes in base64.
#[derive(Serialize, Deserialize)]
struct JsonPayload {
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    data: String,
}

#[derive(Serialize, Deserialize)]
struct Payloads {
    #[serde(default)]
    payloads: Vec<JsonPayload>,
}

struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

fn from_json(p: JsonPayload) -> Result<Payload, Failure> {
    let bad = |what: &str| Failure(StatusCode::BAD_REQUEST, format!("{what} is not base64"));
    let metadata = p
        .metadata
        .into_iter()
        .map(|(k, v)| {
            STANDARD
                .decode(v)
                .map(|v| (k, v))
                .map_err(|_| bad("a metadata value"))
        })
        .collect::<Result<_, _>>()?;
    let data = STANDARD.decode(p.data).map_err(|_| bad("data"))?;
    Ok(Payload {
        metadata,
        data,
        external_payloads: Vec::new(),
    })
}

fn to_json(p: Payload) -> JsonPayload {
    JsonPayload {
        metadata: p
            .metadata
            .into_iter()
            .map(|(k, v)| (k, STANDARD.encode(v)))
            .collect(),
        data: STANDARD.encode(p.data),
    }
}

type Shared = State<Arc<CodecServer>>;

fn authorized(server: &CodecServer, headers: &axum::http::HeaderMap) -> Result<(), Failure> {
    let Some(token) = &server.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if crate::api::token_matches(given, token) {
        Ok(())
    } else {
        Err(Failure(
            StatusCode::UNAUTHORIZED,
            "this codec server needs `Authorization: Bearer <token>`".into(),
        ))
    }
}

fn convert(
    server: &CodecServer,
    body: Payloads,
    one: impl Fn(&EncryptionCodec, Payload) -> Result<Payload, super::CodecError>,
) -> Result<Json<Payloads>, Failure> {
    let payloads = body
        .payloads
        .into_iter()
        .map(|p| {
            let payload = from_json(p)?;
            one(&server.codec, payload)
                .map(to_json)
                .map_err(|e| Failure(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Json(Payloads { payloads }))
}

async fn encode(
    State(server): Shared,
    headers: axum::http::HeaderMap,
    Json(body): Json<Payloads>,
) -> Result<Json<Payloads>, Failure> {
    authorized(&server, &headers)?;
    convert(&server, body, EncryptionCodec::encode_one)
}

async fn decode(
    State(server): Shared,
    headers: axum::http::HeaderMap,
    Json(body): Json<Payloads>,
) -> Result<Json<Payloads>, Failure> {
    authorized(&server, &headers)?;
    convert(&server, body, EncryptionCodec::decode_one)
}

/// Calls a codec server's `/decode` as the `temporal` CLI does: the plain payloads, or what
/// went wrong.
pub async fn decode_remotely(
    endpoint: &str,
    token: Option<&str>,
    payloads: Vec<Payload>,
) -> Result<Vec<Payload>, String> {
    let body = Payloads {
        payloads: payloads.into_iter().map(to_json).collect(),
    };
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    let mut request = reqwest::Client::new()
        .post(format!("{}/decode", endpoint.trim_end_matches('/')))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {text}"));
    }
    let answer: Payloads = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    answer
        .payloads
        .into_iter()
        .map(|p| from_json(p).map_err(|Failure(_, e)| e))
        .collect()
}

/// The codec server's routes, with CORS for the Web UI.
pub fn router(server: CodecServer) -> Router {
    let cors = CorsLayer::new()
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-namespace"),
        ])
        .allow_credentials(true)
        .allow_origin(AllowOrigin::list(server.ui_origins.clone()));
    Router::new()
        .route("/encode", post(encode))
        .route("/decode", post(decode))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(Arc::new(server))
}
