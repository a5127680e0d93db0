//! Health, public configuration, the specification.

use crate::reply::OzJson;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(healthcheck)).routes(routes!(config)).routes(routes!(job_stats))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// "ok" or "fail".
    pub status: String,
    pub database: String,
    pub storage: String,
}

/// The database and blob storage both answer (200) or not (503).
#[utoipa::path(get, path = "/api/healthcheck", tag = "service", security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthcheck(State(app): State<App>) -> (StatusCode, OzJson<Health>) {
    match app.health().await {
        Ok(()) => (StatusCode::OK, OzJson(Health { status: "ok".into(), database: "ok".into(), storage: "ok".into() })),
        Err(failed) => {
            let state = |part: &str| {
                failed
                    .iter()
                    .find(|(p, _)| *p == part)
                    .map(|(_, e)| format!("fail: {e}"))
                    .unwrap_or_else(|| "ok".into())
            };
            tracing::warn!(?failed, "health check failed");
            let h = Health { status: "fail".into(), database: state("database"), storage: state("storage") };
            (StatusCode::SERVICE_UNAVAILABLE, OzJson(h))
        }
    }
}

/// The job queue of the deployment (analyses and webhook deliveries) by state; ADMIN and OPERATOR.
#[utoipa::path(get, path = "/api/jobs/stats", tag = "service",
    responses((status = 200, body = vigil_core::jobs::JobStats), (status = 403)))]
async fn job_stats(
    State(app): State<App>,
    crate::extract::Auth(p): crate::extract::Auth,
) -> crate::error::ApiResult<OzJson<vigil_core::jobs::JobStats>> {
    Ok(OzJson(app.job_stats(&p).await?))
}

/// Public settings: the server's timezone and the limits a client should respect.
#[utoipa::path(get, path = "/api/config", tag = "service", security(()), responses((status = 200, body = Object)))]
async fn config(State(app): State<App>) -> OzJson<Value> {
    let c = app.cfg();
    OzJson(json!({
        "timezone": c.timezone,
        "version": env!("CARGO_PKG_VERSION"),
        "api_version": "5.2",
        "session_ttl": c.session_ttl_secs,
        "use_permissions_for_static": c.use_permissions_for_static,
        "limits": {
            "max_file_size": c.limits.max_file_size,
            "max_files": c.limits.max_files,
            "max_request_size": c.limits.max_request_size,
        },
    }))
}
