//! Extractors that turn request parts into domain values, with Oz errors on failure.

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use vigil_core::App;
use vigil_domain::{Error, Principal};

pub const TOKEN_HEADER: &str = "x-forensic-access-token";

fn header_token(parts: &Parts) -> Option<String> {
    parts.headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The authenticated caller.
pub struct Auth(pub Principal);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Auth(app.authenticate(header_token(parts).as_deref()).await?))
    }
}

/// The raw token, for refresh (where the access token may be expired).
pub struct RawToken(pub Option<String>);

impl FromRequestParts<App> for RawToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &App) -> Result<Self, Self::Rejection> {
        Ok(RawToken(header_token(parts)))
    }
}

/// The caller if a token is sent in the header or as `?access_token=` (for `<img src>` links).
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<App> for MaybeAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let from_query = || {
            let q = parts.uri.query()?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).ok()?;
            pairs.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v)
        };
        match header_token(parts).or_else(from_query) {
            None => Ok(MaybeAuth(None)),
            Some(t) => Ok(MaybeAuth(Some(app.authenticate(Some(&t)).await?))),
        }
    }
}

/// A JSON body, read whatever the `Content-Type` says: clients have shipped JSON labelled
/// `application/x-www-form-urlencoded` or `text/plain` (`curl -d`), and Oz reads it. An empty
/// body reads as `{}`; malformed JSON is INVALID STRUCTURE.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<App> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(|r| Error::structure(format!("unreadable request body: {}", r.body_text())))?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        serde_json::from_slice(body).map(Json).map_err(|e| Error::structure(format!("invalid JSON body: {e}")).into())
    }
}

/// All query pairs in order; the use-case decides what is allowed.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(QueryPairs)
            .map_err(|e| Error::structure(format!("malformed query string: {e}")).into())
    }
}

/// A multipart body; anything else is INVALID STRUCTURE.
pub struct Multipart(pub axum::extract::Multipart);

impl FromRequest<App> for Multipart {
    type Rejection = ApiError;
    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, app)
            .await
            .map(Multipart)
            .map_err(|r| Error::structure(format!("expected a multipart/form-data body: {}", r.body_text())).into())
    }
}

/// A path id that must be a UUID.
pub fn parse_id(what: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| Error::value(format!("{what} '{raw}' is not a valid UUID")).into())
}
