//! `/api/users/{user_id}/sessions`: a user's log-in sessions, and ending them.

use crate::error::ApiResult;
use crate::extract::{Auth, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::auth::SessionInfo;
use vigil_domain::model::Page;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(list_sessions, revoke_sessions)).routes(routes!(revoke_session))
}

/// A user's sessions, newest first: when made and last used, from which address and user
/// agent, and which is the caller's own. Oneself; any user for ADMIN; the company's users for
/// CLIENT ADMIN.
#[utoipa::path(get, path = "/api/users/{user_id}/sessions", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = Page<SessionInfo>), (status = 403), (status = 404)))]
async fn list_sessions(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<OzJson<Page<SessionInfo>>> {
    let items = app.list_sessions(&p, parse_id("user_id", &id)?).await?;
    Ok(OzJson(Page { total: Some(items.len() as i64), items }))
}

/// Ends every session of the user; when users end their own, the session making the call stays.
#[utoipa::path(delete, path = "/api/users/{user_id}/sessions", tag = "users", params(("user_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn revoke_sessions(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.revoke_sessions(&p, parse_id("user_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one session: its access and refresh tokens stop working.
#[utoipa::path(delete, path = "/api/users/{user_id}/sessions/{session_id}", tag = "users",
    params(("user_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn revoke_session(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.revoke_session(&p, parse_id("user_id", &id)?, parse_id("session_id", &sid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
