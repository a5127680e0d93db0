//! `/api/event_sessions`: SDK telemetry sessions.

use crate::error::ApiResult;
use crate::extract::{Auth, Json, QueryPairs};
use crate::reply::OzJson;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::events::EventBatch;
use vigil_domain::events::{EventSession, EventSessionFilter};
use vigil_domain::model::Page;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(list_event_sessions, ingest_events))
}

/// Uploads a batch of SDK events. Idempotent per session id: the first batch creates the session
/// (201), later ones add the events it does not hold yet (200); a repeated batch changes nothing.
#[utoipa::path(post, path = "/api/event_sessions", tag = "event sessions", request_body = EventBatch,
    responses((status = 201, body = EventSession), (status = 200, body = EventSession), (status = 400), (status = 404)))]
async fn ingest_events(
    State(app): State<App>,
    Auth(p): Auth,
    Json(b): Json<EventBatch>,
) -> ApiResult<(StatusCode, OzJson<EventSession>)> {
    let (s, created) = app.ingest_events(&p, b).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, OzJson(s)))
}

/// SDK telemetry sessions of the caller's company (ADMIN and OPERATOR: all), with the 5.2 filters.
#[utoipa::path(get, path = "/api/event_sessions", tag = "event sessions",
    params(("time_created" = Option<f64>, Query, description = "within that second"),
        ("time_created.min" = Option<f64>, Query), ("time_created.max" = Option<f64>, Query),
        ("time_updated" = Option<f64>, Query, description = "within that second"),
        ("time_updated.min" = Option<f64>, Query), ("time_updated.max" = Option<f64>, Query),
        ("session_id" = Option<String>, Query, description = "comma-separated"),
        ("session_id.exclude" = Option<String>, Query, description = "comma-separated"),
        ("folder_id" = Option<String>, Query, description = "comma-separated"),
        ("sorting" = Option<String>, Query, description = "time_created{desc} | time_updated{asc} | -time_updated …"),
        ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<EventSession>), (status = 400)))]
async fn list_event_sessions(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<EventSession>>> {
    Ok(OzJson(app.list_event_sessions(&p, &EventSessionFilter::parse(&q)?).await?))
}
