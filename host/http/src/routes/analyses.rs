//! `/api/folders/{id}/analyses/` and `/api/analyses/...`, plus webhook delivery records.

use crate::error::ApiResult;
use crate::extract::{Auth, Json, QueryPairs, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::analyses::{AnalysesRequest, Decision};
use vigil_core::webhooks::Delivery;
use vigil_domain::analysis::AnalysisFilter;
use vigil_domain::model::{Analysis, Page};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(request_analyses, list_folder_analyses))
        .routes(routes!(list_analyses))
        .routes(routes!(get_analysis, decide_analysis, delete_analysis))
        .routes(routes!(list_deliveries))
}

/// Start analyses on a folder. Answers at once with the created analyses in PROCESSING; poll
/// `GET /api/analyses/{id}` (or take the webhook) for the verdict.
#[utoipa::path(post, path = "/api/folders/{folder_id}/analyses", tag = "analyses",
    params(("folder_id" = String, Path)), request_body = AnalysesRequest,
    responses((status = 201, body = Vec<Analysis>), (status = 400), (status = 403), (status = 404), (status = 501)))]
async fn request_analyses(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<AnalysesRequest>,
) -> ApiResult<(StatusCode, OzJson<Vec<Analysis>>)> {
    Ok((StatusCode::CREATED, OzJson(app.request_analyses(&p, parse_id("folder_id", &id)?, b).await?)))
}

/// Analyses of one folder, with the filters of `GET /api/analyses/`.
#[utoipa::path(get, path = "/api/folders/{folder_id}/analyses", tag = "analyses",
    params(("folder_id" = String, Path), ("analyse_id" = Option<String>, Query), ("analyse_id.exclude" = Option<String>, Query),
        ("type" = Option<String>, Query), ("type.exclude" = Option<String>, Query), ("state" = Option<String>, Query),
        ("state.exclude" = Option<String>, Query), ("resolution_status" = Option<String>, Query)),
    responses((status = 200, body = Page<Analysis>), (status = 400), (status = 404)))]
async fn list_folder_analyses(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Analysis>>> {
    let f = AnalysisFilter::parse(&q)?;
    Ok(OzJson(app.list_analyses(&p, Some(parse_id("folder_id", &id)?), f).await?))
}

/// Analyses of every folder the caller may read. Lists take comma-separated values; `state`
/// also matches verdicts, as old clients send them there.
#[utoipa::path(get, path = "/api/analyses", tag = "analyses",
    params(("analyse_id" = Option<String>, Query), ("analyse_id.exclude" = Option<String>, Query),
        ("type" = Option<String>, Query), ("type.exclude" = Option<String>, Query), ("state" = Option<String>, Query),
        ("state.exclude" = Option<String>, Query), ("resolution_status" = Option<String>, Query),
        ("folder_id" = Option<String>, Query), ("group_id" = Option<String>, Query),
        ("ab_test_id" = Option<String>, Query, description = "analyses an experiment routed, shadows included"),
        ("ab_variant" = Option<String>, Query, description = "comma-separated variant names"),
        ("ab_shadow" = Option<bool>, Query, description = "only shadow analyses (true) or none (false)"),
        ("time_created.min" = Option<f64>, Query), ("time_created.max" = Option<f64>, Query),
        ("time_updated.min" = Option<f64>, Query), ("time_updated.max" = Option<f64>, Query),
        ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("sorting" = Option<String>, Query),
        ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<Analysis>), (status = 400)))]
async fn list_analyses(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Analysis>>> {
    Ok(OzJson(app.list_analyses(&p, None, AnalysisFilter::parse(&q)?).await?))
}

#[utoipa::path(get, path = "/api/analyses/{analyse_id}", tag = "analyses", params(("analyse_id" = String, Path)),
    responses((status = 200, body = Analysis), (status = 404)))]
async fn get_analysis(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<Analysis>> {
    Ok(OzJson(app.get_analysis(&p, parse_id("analyse_id", &id)?).await?))
}

/// "Make Decision": an OPERATOR, or a CLIENT OPERATOR or CLIENT ADMIN of the analysis's company,
/// sets the verdict (SUCCESS or DECLINED) of a finished analysis; the folder verdict follows.
/// ADMIN may not.
#[utoipa::path(patch, path = "/api/analyses/{analyse_id}", tag = "analyses", params(("analyse_id" = String, Path)),
    request_body = Decision, responses((status = 200, body = Analysis), (status = 400), (status = 403), (status = 404)))]
async fn decide_analysis(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> ApiResult<OzJson<Analysis>> {
    Ok(OzJson(app.decide_analysis(&p, parse_id("analyse_id", &id)?, d).await?))
}

/// Delete one analysis and its output images (CLIENT ADMIN of its company, ADMIN).
#[utoipa::path(delete, path = "/api/analyses/{analyse_id}", tag = "analyses", params(("analyse_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_analysis(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_analysis(&p, parse_id("analyse_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Webhook delivery attempts, newest first: of one analysis (`analyse_id`), or of the caller's
/// company (company admins; ADMIN sees all).
#[utoipa::path(get, path = "/api/webhook_deliveries", tag = "analyses", params(("analyse_id" = Option<String>, Query)),
    responses((status = 200, body = Vec<Delivery>), (status = 403), (status = 404)))]
async fn list_deliveries(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Vec<Delivery>>> {
    let mut analysis = None;
    for (k, v) in &q {
        match k.as_str() {
            "analyse_id" => analysis = Some(parse_id("analyse_id", v)?),
            _ => tracing::debug!(key = %k, "ignored query parameter"),
        }
    }
    Ok(OzJson(app.list_webhook_deliveries(&p, analysis).await?))
}
