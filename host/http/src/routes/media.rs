//! `/api/media/...`

use crate::error::ApiResult;
use crate::extract::{Auth, Json, parse_id};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_domain::model::Media;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(get_media, patch_media, delete_media))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// The new tag list; `[]` clears all tags.
    pub tags: Vec<String>,
}

#[utoipa::path(get, path = "/api/media/{media_id}", tag = "media", params(("media_id" = String, Path)),
    responses((status = 200, body = Media), (status = 404)))]
async fn get_media(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<axum::Json<Media>> {
    Ok(axum::Json(app.get_media(&p, parse_id("media_id", &id)?).await?))
}

/// Replace the tag list of a media.
#[utoipa::path(patch, path = "/api/media/{media_id}", tag = "media", params(("media_id" = String, Path)),
    request_body = TagsBody, responses((status = 200, body = Media), (status = 400), (status = 403), (status = 404)))]
async fn patch_media(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<TagsBody>,
) -> ApiResult<axum::Json<Media>> {
    Ok(axum::Json(app.set_media_tags(&p, parse_id("media_id", &id)?, b.tags).await?))
}

/// Remove a file from its folder (ADMIN, CLIENT ADMIN of its company).
#[utoipa::path(delete, path = "/api/media/{media_id}", tag = "media", params(("media_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_media(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_media(&p, parse_id("media_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
