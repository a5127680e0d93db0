//! `/api/folders/...`

use crate::error::ApiResult;
use crate::extract::{Auth, Json, Multipart, QueryPairs, UploadBody, parse_id};
use crate::reply::OzJson;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::folders::{Embed, FolderPatch};
use vigil_core::upload::Upload;
use vigil_domain::filter::{FolderFilter, MediaFilter, parse_bool};
use vigil_domain::model::{Folder, Media, Page};
use vigil_domain::{Error, Result};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    // Uploads stream under their own limits (vigil_core::Limits), not axum's 2 MB default.
    let uploads = OpenApiRouter::new()
        .routes(routes!(create_folder))
        .routes(routes!(add_media, list_folder_media))
        .route_layer(DefaultBodyLimit::disable());
    r.merge(uploads)
        .routes(routes!(list_folders))
        .routes(routes!(get_folder, patch_folder, delete_folder))
        .routes(routes!(delete_pi))
        .routes(routes!(delete_pi_legacy))
}

const MAX_PAYLOAD: usize = 1 << 20;

/// Feeds every multipart part into the upload: `payload` (JSON), `additional_info`, files.
async fn fill(up: &mut Upload, mp: &mut axum::extract::Multipart) -> Result<()> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        Error::structure(format!("the request body is truncated or malformed: {}", e.body_text()))
    };
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        if name == "payload" || (file_name.is_none() && name == "additional_info") {
            let mut buf = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                buf.extend_from_slice(&chunk);
                if buf.len() > MAX_PAYLOAD {
                    return Err(Error::value(format!("part '{name}' is larger than {MAX_PAYLOAD} bytes")));
                }
            }
            if name == "payload" { up.set_payload(&buf)? } else { up.set_form_field(&name, &buf)? }
        } else {
            up.add_file(name, file_name, field).await?;
        }
    }
    Ok(())
}

/// Create a folder, optionally with media: file parts under any field names plus a `payload` part
/// (`media:tags`, `folder:meta_data`, `media:meta_data`). Files sent without a payload get tags by
/// field name and type (`photo_selfie`; `video_selfie` + `video_selfie_blank`). A body that is not
/// multipart creates an empty folder, with a JSON body read as the payload.
#[utoipa::path(post, path = "/api/folders", tag = "folders",
    request_body(content_type = "multipart/form-data", description = "files under any field names, plus `payload` JSON"),
    responses((status = 201, body = Folder), (status = 400), (status = 413)))]
async fn create_folder(
    State(app): State<App>,
    Auth(p): Auth,
    body: UploadBody,
) -> ApiResult<(StatusCode, OzJson<Folder>)> {
    let mut up = app.begin_folder_upload(&p)?;
    let filled = match body {
        UploadBody::Parts(mut mp) => fill(&mut up, &mut mp).await,
        // A JSON body is the payload (folder metadata); an empty or form body makes an empty folder.
        UploadBody::Plain(b) if b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{') => up.set_payload(&b),
        UploadBody::Plain(_) => Ok(()),
    };
    if let Err(e) = filled {
        up.abort().await;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, OzJson(up.commit_folder().await?)))
}

/// Add media to a folder; returns the created media as an array.
#[utoipa::path(post, path = "/api/folders/{folder_id}/media", tag = "folders", params(("folder_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "files under any field names, plus `payload` JSON"),
    responses((status = 201, body = Vec<Media>), (status = 400), (status = 404)))]
async fn add_media(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Multipart(mut mp): Multipart,
) -> ApiResult<(StatusCode, OzJson<Vec<Media>>)> {
    let mut up = app.begin_media_upload(&p, parse_id("folder_id", &id)?).await?;
    if let Err(e) = fill(&mut up, &mut mp).await {
        up.abort().await;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, OzJson(up.commit_media().await?)))
}

/// The media of a folder, in upload order.
#[utoipa::path(get, path = "/api/folders/{folder_id}/media", tag = "folders",
    params(("folder_id" = String, Path), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query),
        ("total_omit" = Option<bool>, Query),
        ("media_type" = Option<String>, Query, description = "IMAGE_FOLDER, VIDEO_FOLDER, SHOTS_SET; comma-separated"),
        ("tags" = Option<String>, Query, description = "comma-separated; a media with any of them matches")),
    responses((status = 200, body = Page<Media>), (status = 400), (status = 404)))]
async fn list_folder_media(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Media>>> {
    let f = MediaFilter::parse(&q)?;
    Ok(OzJson(app.list_folder_media(&p, parse_id("folder_id", &id)?, &f).await?))
}

/// Folders visible to the caller.
#[utoipa::path(get, path = "/api/folders", tag = "folders",
    params(("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query),
        ("sorting" = Option<String>, Query, description = "time_created{desc} | time_created{asc} | -time_updated …"),
        ("time_created.min" = Option<f64>, Query), ("time_created.max" = Option<f64>, Query),
        ("time_updated.min" = Option<f64>, Query), ("time_updated.max" = Option<f64>, Query),
        ("meta_data" = Option<String>, Query, description = "key==value or key!=value; repeatable"),
        ("resolution_status" = Option<String>, Query), ("folder_id" = Option<String>, Query),
        ("user_id" = Option<String>, Query), ("company_id" = Option<String>, Query),
        ("with_analyses" = Option<bool>, Query), ("with_user" = Option<bool>, Query), ("with_company" = Option<bool>, Query),
        ("with_results_media_filter" = Option<bool>, Query, description = "enables the analysis result filters below"),
        ("analyse.resolution_status" = Option<String>, Query, description = "a folder with an analysis in this state or verdict"),
        ("analyse.type" = Option<String>, Query, description = "a folder with an analysis of this type (QUALITY, BIOMETRY, …; comma-separated)"),
        ("analyse.time_created.min" = Option<f64>, Query), ("analyse.time_created.max" = Option<f64>, Query),
        ("analyse.results_data.<key>" = Option<String>, Query, description = "DOCUMENTS result: value, ==v, !=v, >=v, <=v, >v, <v; .min/.max suffixes"),
        ("results_data.<key>" = Option<String>, Query, description = "BIOMETRY result, same syntax"),
        ("results_media_results_data.<key>" = Option<String>, Query, description = "one QUALITY media result, same syntax")),
    responses((status = 200, body = Page<Folder>), (status = 400)))]
async fn list_folders(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Folder>>> {
    let f = FolderFilter::parse(&q)?;
    Ok(OzJson(app.list_folders(&p, &f).await?))
}

fn embed(q: &[(String, String)]) -> Result<Embed> {
    let mut e = Embed::default();
    for (k, v) in q {
        match k.as_str() {
            "with_analyses" => e.analyses = parse_bool(k, v)?,
            "with_user" => e.user = parse_bool(k, v)?,
            "with_company" => e.company = parse_bool(k, v)?,
            _ => tracing::debug!(key = %k, "ignored query parameter"),
        }
    }
    Ok(e)
}

#[utoipa::path(get, path = "/api/folders/{folder_id}", tag = "folders",
    params(("folder_id" = String, Path), ("with_analyses" = Option<bool>, Query), ("with_user" = Option<bool>, Query),
        ("with_company" = Option<bool>, Query)),
    responses((status = 200, body = Folder), (status = 404)))]
async fn get_folder(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Folder>> {
    Ok(OzJson(app.get_folder(&p, parse_id("folder_id", &id)?, embed(&q)?).await?))
}

/// Edit a folder: metadata, owner (`user_id`), operator status and comment.
#[utoipa::path(patch, path = "/api/folders/{folder_id}", tag = "folders", params(("folder_id" = String, Path)),
    request_body = FolderPatch, responses((status = 200, body = Folder), (status = 403), (status = 404)))]
async fn patch_folder(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<FolderPatch>,
) -> ApiResult<OzJson<Folder>> {
    Ok(OzJson(app.patch_folder(&p, parse_id("folder_id", &id)?, b).await?))
}

/// Delete a folder with its media (ADMIN, CLIENT ADMIN of its company).
#[utoipa::path(delete, path = "/api/folders/{folder_id}", tag = "folders", params(("folder_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_folder(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_folder(&p, parse_id("folder_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the folder's personal data (GDPR Art. 17): every media file, thumbnail, preview,
/// snapshot, best shot and report, the media rows and metadata, the personal parts of the
/// analyses' results; the folder and its analyses' verdicts and scores stay, and the folder
/// accepts no media afterwards. Who may: as for deleting the folder. Safe to repeat.
#[utoipa::path(delete, path = "/api/folders/{folder_id}/pi", tag = "folders", params(("folder_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_pi(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_personal_data(&p, parse_id("folder_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The older form of `DELETE /api/folders/{folder_id}/pi/`; answers the cleaned folder.
#[utoipa::path(post, path = "/api/folders/{folder_id}/delete_pi", tag = "folders", params(("folder_id" = String, Path)),
    responses((status = 200, body = Folder), (status = 403), (status = 404)))]
async fn delete_pi_legacy(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<Folder>> {
    Ok(OzJson(app.delete_personal_data(&p, parse_id("folder_id", &id)?).await?))
}
