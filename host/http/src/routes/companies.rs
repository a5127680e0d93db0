//! `/api/companies/...`

use super::paging_and;
use crate::error::ApiResult;
use crate::extract::{Auth, Json, QueryPairs, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::companies::CompanyBody;
use vigil_core::webhooks::{CompanyWebhook, CompanyWebhookBody};
use vigil_domain::model::{Company, Page};
use vigil_domain::policy::Caller;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(list_companies, create_company))
        .routes(routes!(get_company, patch_company, delete_company))
        .routes(routes!(get_webhook, put_webhook))
}

#[utoipa::path(get, path = "/api/companies", tag = "companies",
    params(("search_text" = Option<String>, Query), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query),
        ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<Company>)))]
async fn list_companies(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<Company>>> {
    let mut search = None;
    let paging = paging_and(&q, |k, v| {
        Ok(k == "search_text" && {
            search = Some(v.to_string());
            true
        })
    })?;
    Ok(OzJson(app.list_companies(&p, search.as_deref(), paging).await?))
}

/// Create a company (ADMIN only).
#[utoipa::path(post, path = "/api/companies", tag = "companies", request_body = CompanyBody,
    responses((status = 201, body = Company), (status = 403)))]
async fn create_company(
    State(app): State<App>,
    Auth(p): Auth,
    Json(b): Json<CompanyBody>,
) -> ApiResult<(StatusCode, OzJson<Company>)> {
    Ok((StatusCode::CREATED, OzJson(app.create_company(Caller::User(&p), b).await?)))
}

#[utoipa::path(get, path = "/api/companies/{company_id}", tag = "companies", params(("company_id" = String, Path)),
    responses((status = 200, body = Company), (status = 404)))]
async fn get_company(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<Company>> {
    Ok(OzJson(app.get_company(&p, parse_id("company_id", &id)?).await?))
}

#[utoipa::path(patch, path = "/api/companies/{company_id}", tag = "companies", params(("company_id" = String, Path)),
    request_body = CompanyBody, responses((status = 200, body = Company), (status = 403), (status = 404)))]
async fn patch_company(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<CompanyBody>,
) -> ApiResult<OzJson<Company>> {
    Ok(OzJson(app.rename_company(&p, parse_id("company_id", &id)?, b).await?))
}

/// Delete a company with its users, folders and files (ADMIN only).
#[utoipa::path(delete, path = "/api/companies/{company_id}", tag = "companies", params(("company_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_company(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_company(&p, parse_id("company_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The company's default webhook (ADMIN, CLIENT ADMIN of the company). The secret is never shown.
#[utoipa::path(get, path = "/api/companies/{company_id}/webhook", tag = "companies", params(("company_id" = String, Path)),
    responses((status = 200, body = CompanyWebhook), (status = 403), (status = 404)))]
async fn get_webhook(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<OzJson<CompanyWebhook>> {
    Ok(OzJson(app.get_company_webhook(&p, parse_id("company_id", &id)?).await?))
}

/// Set (or, with `"url": null`, remove) the URL every finished analysis of the company is POSTed
/// to, and the secret deliveries are signed with.
#[utoipa::path(put, path = "/api/companies/{company_id}/webhook", tag = "companies", params(("company_id" = String, Path)),
    request_body = CompanyWebhookBody, responses((status = 200, body = CompanyWebhook), (status = 400), (status = 403), (status = 404)))]
async fn put_webhook(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<CompanyWebhookBody>,
) -> ApiResult<OzJson<CompanyWebhook>> {
    Ok(OzJson(app.set_company_webhook(&p, parse_id("company_id", &id)?, b).await?))
}
