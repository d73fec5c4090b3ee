//! Errors as HTTP answers: a status and `{"error": "…"}`.

use crate::client::ClientError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer. Unlike the tutorial's server (500 for everything), the status says what
/// kind of failure it is: 400 unreadable request, 401 token, 404 no such cart, 409 the cart
/// takes no more changes or the id is taken, 422 the cart rules or the payment refused,
/// 503 Temporal or a worker unavailable (or the cart busy with other changes from this server
/// for the whole wait), 504 the worker did not answer in time.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "this server needs `Authorization: Bearer <token>`",
        )
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        let status = match &e {
            ClientError::NotFound(_) => StatusCode::NOT_FOUND,
            ClientError::AlreadyExists(_) | ClientError::Closed(_) => StatusCode::CONFLICT,
            ClientError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ClientError::NoWorker(_) | ClientError::Temporal(_) | ClientError::Busy { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ClientError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ClientError::Keys(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, crate::report::line(&e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}
