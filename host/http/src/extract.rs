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

/// The response header telling a client when its access token expires (UNIX seconds), set on
/// every authenticated answer since each request slides the expiry.
pub const EXPIRY_HEADER: &str = "x-forensic-access-token-expire-date";

/// Where the authenticated caller's session expiry is left for the response (see
/// [`crate::expiry_header`]).
#[derive(Clone, Default)]
pub struct ExpirySlot(pub std::sync::Arc<std::sync::Mutex<Option<i64>>>);

fn note_expiry(parts: &Parts, p: &Principal) {
    if let (Some(slot), Some(t)) = (parts.extensions.get::<ExpirySlot>(), p.session_expires)
        && let Ok(mut v) = slot.0.lock()
    {
        *v = Some(t);
    }
}

/// The authenticated caller.
pub struct Auth(pub Principal);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let mut p = throttled(parts, app.authenticate(header_token(parts).as_deref()).await)?;
        note_expiry(parts, &p);
        p.origin = origin(parts);
        Ok(Auth(p))
    }
}

/// Applies the throttle to an authentication's outcome: a valid token counts against its
/// session's rate, an invalid one against the client address's rate of unauthorised calls (a
/// missing token was counted by [`crate::throttle_anonymous`]).
pub(crate) fn throttled(parts: &Parts, auth: vigil_domain::Result<Principal>) -> Result<Principal, ApiError> {
    use vigil_domain::throttle::Scope;
    let Some(t) = parts.extensions.get::<crate::Throttling>().and_then(|t| t.0.clone()) else {
        return Ok(auth?);
    };
    match auth {
        Ok(p) => {
            let key = p.session_id.map_or_else(|| p.user_id.to_string(), |s| s.to_string());
            t.check(Scope::RpsWithToken, &key)?;
            Ok(p)
        }
        Err(e) if matches!(e.code, vigil_domain::Code::AuthInvalid | vigil_domain::Code::AuthExpired) => {
            t.check(Scope::RestUnauthorized, client_ip(parts).as_deref().unwrap_or("unknown"))?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The client address (as [`Client`] reads it) and the request id, for the audit log.
pub(crate) fn origin(parts: &Parts) -> vigil_domain::policy::Origin {
    let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    vigil_domain::policy::Origin { ip: client_ip(parts), request_id }
}

/// The peer's address; behind a reverse proxy on the same host (a loopback peer), the first
/// `X-Forwarded-For` address.
pub(crate) fn client_ip(parts: &Parts) -> Option<String> {
    request_ip(&parts.headers, &parts.extensions)
}

/// [`client_ip`] from a request's headers and extensions.
pub(crate) fn request_ip(headers: &axum::http::HeaderMap, ext: &axum::http::Extensions) -> Option<String> {
    let peer = ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let forwarded = || {
        let v = headers.get("x-forwarded-for")?.to_str().ok()?;
        v.split(',').next().map(|s| s.trim().to_string()).filter(|s| s.parse::<std::net::IpAddr>().is_ok())
    };
    match peer {
        Some(ip) if ip.is_loopback() => forwarded().or(Some(ip.to_string())),
        Some(ip) => Some(ip.to_string()),
        None => None,
    }
}

/// The client's address and user agent, kept with a new session. Behind a reverse proxy on the
/// same host (a loopback peer), the first `X-Forwarded-For` address is the client's.
pub struct Client(pub vigil_core::auth::ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        let user_agent =
            parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(Client(vigil_core::auth::ClientInfo { ip, user_agent }))
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
            Some(t) => {
                let mut p = throttled(parts, app.authenticate(Some(&t)).await)?;
                note_expiry(parts, &p);
                p.origin = origin(parts);
                Ok(MaybeAuth(Some(p)))
            }
        }
    }
}

/// A JSON body, read whatever the `Content-Type` says: clients have shipped JSON labelled
/// `application/x-www-form-urlencoded` or `text/plain` (`curl -d`), and Oz reads it. A body that
/// is not JSON but form-encoded (`a=1&credentials.email=x`, `credentials[email]=x`) is read as
/// the object its fields spell. An empty body reads as `{}`; anything else is INVALID STRUCTURE.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<App> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(|r| Error::structure(format!("unreadable request body: {}", r.body_text())))?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        // Fields the body type does not know are ignored, as Oz ignores them, and logged.
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed = serde_ignored::deserialize(&mut de, |path| tracing::debug!(field = %path, "ignored body field"))
            .and_then(|v| de.end().map(|()| v));
        let json_err = match parsed {
            Ok(v) => return Ok(Json(v)),
            Err(e) => e,
        };
        let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if !matches!(first, Some(b'{') | Some(b'['))
            && let Some(v) = form_body(body)
        {
            return Ok(Json(v));
        }
        Err(Error::structure(format!("invalid JSON body: {json_err}")).into())
    }
}

/// Reads a form-encoded body into `T`: first with every value a string, then with values that
/// read as JSON scalars (`true`, `12`, `null`) or JSON documents taken as such.
fn form_body<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    if pairs.is_empty() || pairs.iter().any(|(k, _)| k.is_empty()) {
        return None;
    }
    let build = |typed: bool| {
        let mut root = serde_json::Map::new();
        for (k, v) in &pairs {
            let value = if typed {
                serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.clone()))
            } else {
                serde_json::Value::String(v.clone())
            };
            insert_path(&mut root, &form_key_path(k), value);
        }
        serde_json::Value::Object(root)
    };
    serde_json::from_value(build(false)).ok().or_else(|| serde_json::from_value(build(true)).ok())
}

/// `credentials.email` and `credentials[email]` both name `{"credentials": {"email": …}}`.
fn form_key_path(k: &str) -> Vec<String> {
    k.split(['.', '[']).map(|s| s.trim_end_matches(']').to_string()).filter(|s| !s.is_empty()).collect()
}

fn insert_path(map: &mut serde_json::Map<String, serde_json::Value>, path: &[String], v: serde_json::Value) {
    let Some((head, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        // A repeated key (`tags=a&tags=b`) becomes a list.
        match map.get_mut(head) {
            Some(serde_json::Value::Array(a)) => a.push(v),
            Some(old) => {
                let prev = old.take();
                *old = serde_json::Value::Array(vec![prev, v]);
            }
            None => {
                map.insert(head.clone(), v);
            }
        }
        return;
    }
    let child = map.entry(head.clone()).or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !child.is_object() {
        *child = serde_json::Value::Object(Default::default());
    }
    if let serde_json::Value::Object(m) = child {
        insert_path(m, rest, v);
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

/// A folder-creation body: multipart as usual, or anything else read as the payload alone. Old
/// clients create an empty folder with a bodiless `POST /api/folders` labelled form-urlencoded.
pub enum UploadBody {
    Parts(axum::extract::Multipart),
    Plain(axum::body::Bytes),
}

impl FromRequest<App> for UploadBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/"));
        if multipart {
            return Ok(UploadBody::Parts(Multipart::from_request(req, app).await?.0));
        }
        // Without file parts the body is at most a payload document.
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.map_err(|e| {
            Error::structure(format!("a folder body without files must be a JSON payload under 1 MiB: {e}"))
        })?;
        Ok(UploadBody::Plain(bytes))
    }
}

/// A path id that must be a UUID.
pub fn parse_id(what: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| Error::value(format!("{what} '{raw}' is not a valid UUID")).into())
}

#[cfg(test)]
mod tests {
    use super::form_body;
    use serde_json::{Value, json};

    #[test]
    fn form_fields_read_as_objects() {
        let v: Value = form_body(b"credentials.email=a%40b.c&credentials[password]=p+w").unwrap();
        assert_eq!(v, json!({"credentials": {"email": "a@b.c", "password": "p w"}}));
        let v: Value = form_body(b"tags=a&tags=b").unwrap();
        assert_eq!(v, json!({"tags": ["a", "b"]}));
        #[derive(serde::Deserialize)]
        struct Typed {
            n: i64,
            ok: bool,
            name: String,
        }
        // Strings first: a name made of digits stays a string; typed fields fall back to JSON.
        let t: Typed = form_body(b"n=5&ok=true&name=x").unwrap();
        assert_eq!((t.n, t.ok, t.name.as_str()), (5, true, "x"));
        assert!(form_body::<Value>(b"").is_none());
        assert!(form_body::<Value>(b"=x").is_none());
    }
}
