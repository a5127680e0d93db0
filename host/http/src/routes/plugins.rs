//! `/api/plugins/...`: the plugin registry.

use crate::error::ApiResult;
use crate::extract::{Auth, Json, Multipart, parse_id};
use crate::reply::OzJson;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::plugins::{MAX_COMPONENT_BYTES, RunRequest};
use vigil_domain::model::{Page, PluginInfo};
use vigil_domain::policy::Caller;
use vigil_domain::{Code, Error};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    // Components are read whole (up to their own cap) for validation, not under axum's 2 MB default.
    let upload = OpenApiRouter::new()
        .routes(routes!(upload_plugin))
        .route_layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES + (1 << 20)));
    r.merge(upload)
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin, delete_plugin))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(run))
}

/// Install a plugin version: a multipart body with the component (any file part) and a
/// `manifest` JSON part `{kind, name, version, config?, activate?, company_id?}`. The component is
/// validated against its world and compiled before anything is stored.
#[utoipa::path(post, path = "/api/plugins", tag = "plugins",
    request_body(content_type = "multipart/form-data", description = "the `.wasm` component plus a `manifest` JSON part"),
    responses((status = 201, body = PluginInfo), (status = 400, description = "refused, with the reason"), (status = 403), (status = 409)))]
async fn upload_plugin(
    State(app): State<App>,
    Auth(p): Auth,
    Multipart(mut mp): Multipart,
) -> ApiResult<(StatusCode, OzJson<PluginInfo>)> {
    let limit = MAX_COMPONENT_BYTES;
    let (mut manifest, mut wasm) = (None, None);
    let malformed = |e: axum::extract::multipart::MultipartError| {
        Error::structure(format!("the request body is truncated or malformed: {}", e.body_text()))
    };
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        let mut buf = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            buf.extend_from_slice(&chunk);
            if buf.len() > limit {
                return Err(Error::new(Code::TooLarge, format!("part '{name}' is larger than {limit} bytes")).into());
            }
        }
        if name == "manifest" {
            manifest = Some(buf);
        } else if wasm.replace(buf).is_some() {
            return Err(Error::structure("send exactly one component file and a 'manifest' part").into());
        }
    }
    let manifest = manifest.ok_or_else(|| Error::structure("the 'manifest' part is missing"))?;
    let wasm = wasm.ok_or_else(|| Error::structure("the component file is missing"))?;
    Ok((StatusCode::CREATED, OzJson(app.upload_plugin(Caller::User(&p), &manifest, wasm).await?)))
}

/// Plugins visible to the caller: its company's and the global built-ins (all, for ADMIN and OPERATOR).
#[utoipa::path(get, path = "/api/plugins", tag = "plugins", responses((status = 200, body = Page<PluginInfo>)))]
async fn list_plugins(State(app): State<App>, Auth(p): Auth) -> ApiResult<OzJson<Page<PluginInfo>>> {
    Ok(OzJson(app.list_plugins(&p).await?))
}

#[utoipa::path(get, path = "/api/plugins/{plugin_id}", tag = "plugins", params(("plugin_id" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 404)))]
async fn get_plugin(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<PluginInfo>> {
    Ok(OzJson(app.get_plugin(&p, parse_id("plugin_id", &id)?).await?))
}

/// Remove a plugin version (deactivating it first if it is active).
#[utoipa::path(delete, path = "/api/plugins/{plugin_id}", tag = "plugins", params(("plugin_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_plugin(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_plugin(Caller::User(&p), parse_id("plugin_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Make this version the active one, without a restart; activating an older version is a rollback.
#[utoipa::path(post, path = "/api/plugins/{plugin_id}/activate", tag = "plugins", params(("plugin_id" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 403), (status = 404)))]
async fn activate(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<PluginInfo>> {
    Ok(OzJson(app.activate_plugin(&p, parse_id("plugin_id", &id)?).await?))
}

#[utoipa::path(post, path = "/api/plugins/{plugin_id}/deactivate", tag = "plugins", params(("plugin_id" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 403), (status = 404)))]
async fn deactivate(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<PluginInfo>> {
    Ok(OzJson(app.deactivate_plugin(&p, parse_id("plugin_id", &id)?).await?))
}

/// Dry-run an analysis plugin version over a folder's media (ADMIN, CLIENT ADMIN): answers with
/// `result` or `error` (kind: deadline, trap, limit, output, busy, or the plugin's own); nothing is stored.
#[utoipa::path(post, path = "/api/plugins/{plugin_id}/run", tag = "plugins", params(("plugin_id" = String, Path)),
    request_body = RunRequest, responses((status = 200, body = Object), (status = 403), (status = 404)))]
async fn run(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<RunRequest>,
) -> ApiResult<OzJson<Value>> {
    Ok(OzJson(app.run_plugin(&p, parse_id("plugin_id", &id)?, b).await?))
}
