//! `/api/{users,folders,media,analyses}/{id}/meta_data`: GET, POST (replace), PATCH (merge), DELETE.
//! Collections join with a line when they exist.

use crate::error::ApiResult;
use crate::extract::{Auth, Json, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::meta::{MetaOp, MetaOwner};

async fn run(
    app: &App,
    p: &vigil_domain::Principal,
    owner: MetaOwner,
    id: &str,
    op: MetaOp,
) -> ApiResult<OzJson<Value>> {
    Ok(OzJson(app.meta(p, owner, parse_id("id", id)?, op).await?))
}

macro_rules! meta_routes {
    ($module:ident, $one:literal, $path:literal, $owner:expr, $tag:literal) => {
        mod $module {
            use super::*;

            pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
                r.routes(routes!(get, replace, merge, clear))
            }

            #[utoipa::path(get, path = $path, tag = $tag, operation_id = concat!("get_", $one, "_meta_data"), params(("id" = String, Path)),
                                        responses((status = 200, body = Object), (status = 404)))]
            async fn get(
                State(app): State<App>,
                Auth(p): Auth,
                Path(id): Path<String>,
            ) -> ApiResult<OzJson<Value>> {
                run(&app, &p, $owner, &id, MetaOp::Get).await
            }

            /// Replace the metadata with the body (a JSON object).
            #[utoipa::path(post, path = $path, tag = $tag, operation_id = concat!("replace_", $one, "_meta_data"), params(("id" = String, Path)), request_body = Object,
                                        responses((status = 200, body = Object), (status = 400), (status = 403)))]
            async fn replace(
                State(app): State<App>,
                Auth(p): Auth,
                Path(id): Path<String>,
                Json(v): Json<Value>,
            ) -> ApiResult<OzJson<Value>> {
                run(&app, &p, $owner, &id, MetaOp::Replace(v)).await
            }

            /// Merge the body's top-level keys into the metadata.
            #[utoipa::path(patch, path = $path, tag = $tag, operation_id = concat!("merge_", $one, "_meta_data"), params(("id" = String, Path)), request_body = Object,
                                        responses((status = 200, body = Object), (status = 400), (status = 403)))]
            async fn merge(
                State(app): State<App>,
                Auth(p): Auth,
                Path(id): Path<String>,
                Json(v): Json<Value>,
            ) -> ApiResult<OzJson<Value>> {
                run(&app, &p, $owner, &id, MetaOp::Merge(v)).await
            }

            /// Empty the metadata.
            #[utoipa::path(delete, path = $path, tag = $tag, operation_id = concat!("clear_", $one, "_meta_data"), params(("id" = String, Path)),
                                        responses((status = 204), (status = 403)))]
            async fn clear(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
                run(&app, &p, $owner, &id, MetaOp::Clear).await.map(|_| StatusCode::NO_CONTENT)
            }
        }
    };
}

// Operation ids name the owner (`get_folder_meta_data`), so generated clients get distinct methods.
meta_routes!(users, "user", "/api/users/{id}/meta_data", MetaOwner::User, "users");
meta_routes!(folders, "folder", "/api/folders/{id}/meta_data", MetaOwner::Folder, "folders");
meta_routes!(media, "media", "/api/media/{id}/meta_data", MetaOwner::Media, "media");
meta_routes!(analyses, "analysis", "/api/analyses/{id}/meta_data", MetaOwner::Analysis, "analyses");

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    analyses::router(media::router(folders::router(users::router(r))))
}
