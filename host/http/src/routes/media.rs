//! `/api/media/...`

use crate::error::ApiResult;
use crate::extract::{Auth, Json, parse_id};
use crate::reply::OzJson;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_domain::Error;
use vigil_domain::model::{Media, SnapshotRequest};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(get_media, patch_media, delete_media)).routes(routes!(get_snapshot, post_snapshot))
}

#[derive(Deserialize, ToSchema)]
pub struct TagsBody {
    /// The new tag list; `[]` clears all tags.
    pub tags: Vec<String>,
}

#[utoipa::path(get, path = "/api/media/{media_id}", tag = "media", params(("media_id" = String, Path)),
    responses((status = 200, body = Media), (status = 404)))]
async fn get_media(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<Media>> {
    Ok(OzJson(app.get_media(&p, parse_id("media_id", &id)?).await?))
}

/// Replace the tag list of a media.
#[utoipa::path(patch, path = "/api/media/{media_id}", tag = "media", params(("media_id" = String, Path)),
    request_body = TagsBody, responses((status = 200, body = Media), (status = 400), (status = 403), (status = 404)))]
async fn patch_media(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<TagsBody>,
) -> ApiResult<OzJson<Media>> {
    Ok(OzJson(app.set_media_tags(&p, parse_id("media_id", &id)?, b.tags).await?))
}

/// Remove a file from its folder (ADMIN, CLIENT ADMIN of its company).
#[utoipa::path(delete, path = "/api/media/{media_id}", tag = "media", params(("media_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_media(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_media(&p, parse_id("media_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The media's still as a JPEG: the photo itself, or the first frame of a video or shots set
/// (made on first request and kept).
#[utoipa::path(get, path = "/api/media/{media_id}/snapshot", tag = "media", params(("media_id" = String, Path)),
    responses((status = 200, content_type = "image/jpeg", description = "the still"), (status = 400), (status = 404)))]
async fn get_snapshot(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let body = app.snapshot(&p, parse_id("media_id", &id)?).await?;
    Ok(crate::routes::files::streamed(body, &format!("{id}_snapshot.jpg"), "no-cache"))
}

/// Make the still again, optionally at `time` seconds of a video or at frame `frame` of a shots
/// set; the body may be empty. Answers with the new still.
#[utoipa::path(post, path = "/api/media/{media_id}/snapshot", tag = "media", params(("media_id" = String, Path)),
    request_body(content = Option<SnapshotRequest>),
    responses((status = 200, content_type = "image/jpeg", description = "the new still"), (status = 400), (status = 403), (status = 404)))]
async fn post_snapshot(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        SnapshotRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::structure(format!("invalid snapshot request: {e}")))?
    };
    let body = app.regenerate_snapshot(&p, parse_id("media_id", &id)?, req).await?;
    Ok(crate::routes::files::streamed(body, &format!("{id}_snapshot.jpg"), "no-cache"))
}
