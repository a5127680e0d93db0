//! The operator console at `/console/`: server-rendered pages over the same use-cases and policy
//! as the API, so a page shows exactly what the signed-in role may read through the API.
//!
//! Sessions are the API's own: signing in makes an ordinary session whose access token lives in
//! an `HttpOnly`, `SameSite=Strict` cookie scoped to `/console` (`Secure` when the server's public
//! URL is https), never in a URL. Every form carries a CSRF token derived from the session (the
//! sign-in form a double-submit cookie), and every page a Content-Security-Policy that allows no
//! script at all.

mod manage;
mod pages;

use crate::error::ApiError;
use crate::extract::{origin, throttled};
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use vigil_core::App;
use vigil_domain::{Code, Error, Principal};

/// The session cookie: the API access token of a console sign-in.
const SESSION: &str = "vigil_console";
/// The sign-in form's double-submit cookie.
const LOGIN_CSRF: &str = "vigil_console_csrf";

/// No script, no inline style, nothing from elsewhere; forms post only here; never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<App> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(pages::folders))
        .route("/console/login", get(pages::login_form).post(pages::login))
        .route("/console/logout", post(pages::logout))
        .route("/console/queue", get(pages::queue))
        .route("/console/folders/{id}", get(pages::folder))
        .route("/console/folders/{id}/operator", post(pages::operator_fields))
        .route("/console/analyses/{id}/decide", post(pages::decide))
        .route("/console/files/{folder}/{file}", get(pages::file))
        .route("/console/console.css", get(pages::stylesheet))
        .route("/console/users", get(manage::users).post(manage::create_user))
        .route("/console/users/{id}/{action}", post(manage::user_action))
        .route("/console/plugins", get(manage::plugins))
        .route(
            "/console/plugins/upload",
            // A component is read whole, up to the registry's own cap.
            post(manage::upload_plugin)
                .layer(axum::extract::DefaultBodyLimit::max(vigil_core::plugins::MAX_COMPONENT_BYTES + (1 << 20))),
        )
        .route("/console/plugins/{id}/activate", post(manage::activate_plugin))
        .route("/console/admin", get(manage::admin))
        .route("/console/folders/{id}/reports", post(manage::make_report))
        .route("/console/folders/{id}/reports/{report}", get(manage::report_file))
        .layer(axum::middleware::from_fn(security_headers))
}

async fn security_headers(req: Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("folders.html", include_str!("templates/folders.html")),
            ("folder.html", include_str!("templates/folder.html")),
            ("queue.html", include_str!("templates/queue.html")),
            ("error.html", include_str!("templates/error.html")),
            ("decide.html", include_str!("templates/decide.html")),
            ("users.html", include_str!("templates/users.html")),
            ("plugins.html", include_str!("templates/plugins.html")),
            ("admin.html", include_str!("templates/admin.html")),
        ] {
            // The templates are part of the binary: one that does not parse fails every test.
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        env
    })
}

/// A rendered page (HTML-escaped by the `.html` templates) with its status.
pub(crate) fn page(status: StatusCode, name: &str, ctx: Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(minijinja::value::Serde(&ctx))) {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "console page not rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// What a use-case's error looks like as a page: the Oz error's status and its message.
pub(crate) fn error_page(e: &Error, user: Option<&Principal>) -> Response {
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if e.is_internal() { "something went wrong on the server; try again" } else { &e.message };
    let hint = match e.code {
        Code::NotExist => "It does not exist, or your account may not see it.",
        Code::AuthForbidden => "Your role may not do this. Ask a company admin.",
        Code::TooMany => "Too many requests: wait a moment and try again.",
        _ => "Go back and check what you entered.",
    };
    page(
        status,
        "error.html",
        serde_json::json!({ "user": user.map(user_view), "status": status.as_u16(), "message": message, "hint": hint }),
    )
}

/// Whether the role may decide analyses and set operator fields (the API's decision rule).
pub(crate) fn decides(p: &Principal) -> bool {
    use vigil_domain::Role;
    matches!(p.role, Role::Operator | Role::ClientOperator | Role::ClientAdmin)
}

/// What every page knows of the signed-in user: the role, and which parts of the console apply.
pub(crate) fn user_view(p: &Principal) -> Value {
    use vigil_domain::Role;
    serde_json::json!({
        "role": p.role.as_str(),
        "manages": matches!(p.role, Role::Admin | Role::ClientAdmin),
        "admin": p.role == Role::Admin,
        "decides": decides(p),
    })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a console cookie; an empty value with max-age 0 removes it.
fn set_cookie(app: &App, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if app.cfg().public_url.starts_with("https://") { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}{age}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of a session: bound to it, useless once it ends.
pub(crate) fn csrf_of(token: &str) -> String {
    hex::encode(Sha256::digest(format!("vigil-console-csrf:{token}").as_bytes()))
}

/// Constant-time comparison, so a guess learns nothing from the answer's timing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in console user; anyone else is sent to the sign-in page.
pub(crate) struct ConsoleUser {
    pub p: Principal,
    pub token: String,
}

impl ConsoleUser {
    pub fn csrf(&self) -> String {
        csrf_of(&self.token)
    }

    /// The preamble of every form action: the form's CSRF token checked, the path's id parsed
    /// (a malformed one is "not found", as in the API); an error page otherwise.
    pub fn action(&self, csrf: Option<&str>, what: &str, id: &str) -> Result<uuid::Uuid, Box<Response>> {
        self.check_csrf(csrf).map_err(|e| Box::new(error_page(&e, Some(&self.p))))?;
        uuid::Uuid::parse_str(id).map_err(|_| Box::new(error_page(&Error::not_found(what), Some(&self.p))))
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), Error> {
        match sent {
            Some(s) if same(s, &self.csrf()) => Ok(()),
            _ => Err(Error::new(Code::AuthForbidden, "the form's security token is missing or stale; reload the page")),
        }
    }
}

impl FromRequestParts<App> for ConsoleUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION) else { return Err(to_login()) };
        // Counted as the API counts a token: per session, or an invalid one per address.
        match throttled(parts, app.authenticate(Some(&token)).await) {
            Ok(mut p) => {
                p.origin = origin(parts);
                Ok(ConsoleUser { p, token })
            }
            Err(ApiError(e)) if matches!(e.code, Code::AuthInvalid | Code::AuthExpired | Code::AuthNotProvided) => {
                let mut r = to_login();
                r.headers_mut().append(header::SET_COOKIE, set_cookie(app, SESSION, "", Some(0)));
                Err(r)
            }
            Err(ApiError(e)) => Err(error_page(&e, None)),
        }
    }
}
