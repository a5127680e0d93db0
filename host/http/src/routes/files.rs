//! `/static/{folder_id}/{file}`: media files and thumbnails, streamed.

use crate::error::ApiResult;
use crate::extract::{MaybeAuth, parse_id};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_domain::policy::Visitor;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(media_file))
}

/// A media file (`{media_id}.{ext}`), its thumbnail (`{media_id}_thumb.jpg`) or a shots set's MP4
/// preview (`{media_id}_preview.mp4`), as linked from `original_url` / `thumb_url` / `video_url`. With `OZ_USE_PERMISSIONS_FOR_STATIC` on, the caller's token (header
/// or `?access_token=`) must grant read access to the folder.
#[utoipa::path(get, path = "/static/{folder_id}/{file}", tag = "media",
    params(("folder_id" = String, Path), ("file" = String, Path)),
    responses((status = 200, description = "the file"), (status = 401), (status = 404)))]
async fn media_file(
    State(app): State<App>,
    MaybeAuth(p): MaybeAuth,
    Path((folder, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let body = app.media_file(Visitor::from_token(p.as_ref()), parse_id("folder_id", &folder)?, &file).await?;
    Ok(streamed(body, &file, "private, max-age=3600"))
}

/// A stored file as a streamed response. Uploaded bytes are served so that a browser can never
/// treat them as a page: the type is not sniffed, the content runs sandboxed (no scripts, no
/// same origin), and the file name is a safe one.
pub(crate) fn streamed(body: vigil_core::media::FileBody, file_name: &str, cache: &str) -> Response {
    let safe: String =
        file_name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).take(100).collect();
    let safe = if safe.is_empty() { "media".to_string() } else { safe };
    // Only what was recognised and decoded is served inline as its type.
    let disposition = if body.content_type == "application/octet-stream" { "attachment" } else { "inline" };
    (
        [
            (header::CONTENT_TYPE, body.content_type),
            (header::CONTENT_LENGTH, body.size.to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".to_string()),
            (header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"{safe}\"")),
        ],
        Body::from_stream(body.stream),
    )
        .into_response()
}
