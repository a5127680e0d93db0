//! The Oz-compatible REST surface: routing, extraction, the error body, OpenAPI and docs.
//!
//! Architecture invariant: this is the only crate that knows axum. Handlers extract, call one
//! use-case of `vigil-core` and map the result; permission rules live in the domain policy,
//! called by the use-cases.

mod console;
mod error;
mod extract;
mod reply;
mod routes;
mod throttle;

pub use error::ApiError;

use axum::Router;
use axum::extract::Request;
use std::future::Future;
use tokio::net::TcpListener;
use tower::Layer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;
use vigil_core::App;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vigil", description = "Oz API 5.2 compatible identity-verification server"),
    modifiers(&TokenHeader),
    security(("X-Forensic-Access-Token" = [])),
    tags(
        (name = "auth", description = "Log-in and token refresh"),
        (name = "users"), (name = "companies"), (name = "folders"), (name = "media"),
        (name = "analyses", description = "QUALITY, BIOMETRY and custom analyses, operator decisions, webhook deliveries"),
        (name = "plugins", description = "Wasm plugin registry: upload, activate (hot swap), dry run"),
        (name = "reports", description = "Report templates (minijinja or components) and PDF/HTML folder reports"),
        (name = "audit", description = "The append-only audit log: who changed what, when, from where"),
        (name = "event sessions", description = "SDK telemetry sessions"),
        (name = "A/B tests", description = "Experiments that route analyses between plugin versions or configurations, with shadow runs and statistics"),
        (name = "service", description = "Health, configuration, specification"),
    )
)]
struct ApiDoc;

struct TokenHeader;

impl utoipa::Modify for TokenHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "X-Forensic-Access-Token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Forensic-Access-Token"))),
        );
    }
}

fn parts() -> (Router<App>, utoipa::openapi::OpenApi) {
    routes::router(utoipa_axum::router::OpenApiRouter::with_openapi(ApiDoc::openapi())).split_for_parts()
}

/// The OpenAPI 3.1 document, generated from the same route list the server runs.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

/// The pretty-printed spec, as committed in `docs/openapi.json`.
pub fn openapi_json() -> String {
    openapi().to_pretty_json().unwrap_or_default()
}

/// The complete router with docs, error fallbacks and middleware.
pub fn router(app: App) -> Router {
    let (api, spec) = parts();
    let throttling = Throttling(throttle::Throttle::new(app.cfg().throttling.clone()));
    api.merge(SwaggerUi::new("/docs").url("/api/openapi.json", spec))
        .merge(console::router())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(expiry_header))
        .layer(axum::middleware::from_fn(track_metrics))
        .layer(axum::middleware::from_fn(throttle_anonymous))
        .layer(axum::Extension(throttling))
        // Outermost first: id → sensitive headers hidden → trace span carrying the id.
        .layer(
            tower::ServiceBuilder::new()
                .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(tower_http::request_id::MakeRequestUuid))
                .layer(tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                    axum::http::HeaderName::from_static("x-forensic-access-token"),
                    axum::http::header::AUTHORIZATION,
                ]))
                .layer(
                    tower_http::trace::TraceLayer::new_for_http()
                        .make_span_with(|req: &Request| {
                            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                            tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
                        })
                        // One line per request (status, latency), inside the span: with its id.
                        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(app)
}

/// The throttle of this server, when `OZ_THROTTLING_RATES` sets any rate.
#[derive(Clone)]
pub(crate) struct Throttling(pub Option<std::sync::Arc<throttle::Throttle>>);

/// Counts API calls that carry no token against the client address's `rest_unauthorized`
/// rate. Log-in has its own scope (`auth`, counted by its handler) and the health check, polled
/// by load balancers, none.
async fn throttle_anonymous(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    if let Some(refused) = refuse_anonymous(&req) {
        return refused;
    }
    next.run(req).await
}

fn refuse_anonymous(req: &Request) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    let exempt = !path.starts_with("/api/") && !path.starts_with("/static/")
        || path.starts_with("/api/authorize/auth")
        || path.starts_with("/api/healthcheck");
    let tokenless = req.headers().get(extract::TOKEN_HEADER).is_none()
        && !req.uri().query().is_some_and(|q| q.contains("access_token="));
    if exempt || !tokenless {
        return None;
    }
    let t = req.extensions().get::<Throttling>().and_then(|t| t.0.clone())?;
    let ip = extract::request_ip(req.headers(), req.extensions());
    t.check(vigil_domain::throttle::Scope::RestUnauthorized, ip.as_deref().unwrap_or("unknown"))
        .err()
        .map(|e| ApiError(e).into_response())
}

/// Counts requests by route (its pattern, never the raw path) and status, with their latency.
async fn track_metrics(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("vigil_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("vigil_http_request_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

/// Serves `GET /metrics` (Prometheus text format) on its own listener until `shutdown`:
/// `render` gives the text, after the queue gauges are brought up to date.
pub async fn serve_metrics(
    listener: TcpListener,
    app: App,
    render: std::sync::Arc<dyn Fn() -> String + Send + Sync>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handler = move || {
        let (app, render) = (app.clone(), render.clone());
        async move {
            if let Err(e) = app.observe_queue().await {
                tracing::warn!(error = %e.message, "queue metrics not read");
            }
            ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], render())
        }
    };
    let router = Router::new().route("/metrics", axum::routing::get(handler));
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// Sets [`extract::EXPIRY_HEADER`] on answers to authenticated requests.
async fn expiry_header(mut req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let slot = extract::ExpirySlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    let expires = slot.0.lock().ok().and_then(|v| *v);
    if let Some(t) = expires {
        let secs = format!("{}", vigil_domain::time::micros_to_secs(t));
        if let Ok(v) = axum::http::HeaderValue::from_str(&secs) {
            res.headers_mut().insert(extract::EXPIRY_HEADER, v);
        }
    }
    res
}

/// Oz clients use `/api/...` paths with and without a trailing slash; routes are declared without
/// one. Only API paths are trimmed: the docs UI relies on its own `/docs/` redirect.
fn trim_api_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 5 && path.starts_with("/api/") && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let svc = tower::util::MapRequestLayer::new(trim_api_slash).layer(router(app));
    let make = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(svc);
    axum::serve(listener, make).with_graceful_shutdown(shutdown).await
}
