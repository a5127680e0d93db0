//! The Oz error body `{error_code, error_message, details}` for every failure.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vigil_domain::Error;

/// A use-case error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // Internal causes are logged once here and never sent.
        let details = if e.is_internal() {
            tracing::error!(details = ?e.details, "internal error");
            serde_json::Value::Null
        } else {
            e.details.unwrap_or(serde_json::Value::Null)
        };
        // A throttled call says when to come back, in the header as well as in the body.
        let retry_after = (e.code == vigil_domain::Code::TooMany)
            .then(|| details.get("retry_after").and_then(serde_json::Value::as_u64))
            .flatten();
        let body = json!({ "error_code": e.code.number(), "error_message": e.message, "details": details });
        let mut res = (status, crate::reply::OzJson(body)).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError(Error::internal("panic")).into_response()
}
