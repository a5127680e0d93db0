//! `/api/audit_log`: the append-only record of changes, and its per-object shortcuts. Read-only:
//! no method changes or removes an entry.

use crate::error::ApiResult;
use crate::extract::{Auth, QueryPairs, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::audit::Subject;
use vigil_domain::audit::{AuditEntry, AuditFilter};
use vigil_domain::model::Page;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(list_audit_log))
        .routes(routes!(folder_audit_log))
        .routes(routes!(user_audit_log))
        .routes(routes!(company_audit_log))
}

/// Who changed what and when: every create, update and delete of folders (with their media,
/// analyses, decisions and personal-data deletions), users (passwords, blocking, roles,
/// sessions), companies (webhooks, plugins), collections and report templates. ADMIN reads
/// every entry, CLIENT ADMIN those of its company's objects; nobody can edit or delete one.
#[utoipa::path(get, path = "/api/audit_log", tag = "audit",
    params(("object_type" = Option<String>, Query, description = "folder, media, analysis, user, company, plugin, …; comma-separated"),
        ("object_id" = Option<String>, Query, description = "comma-separated UUIDs"),
        ("folder_id" = Option<String>, Query, description = "a folder and its media, analyses and reports"),
        ("user_id" = Option<String>, Query, description = "the acting user; comma-separated"),
        ("company_id" = Option<String>, Query, description = "the changed object's company; comma-separated"),
        ("action" = Option<String>, Query, description = "create, update, delete, change_password, block, decide, delete_pi, …"),
        ("time_created.min" = Option<f64>, Query), ("time_created.max" = Option<f64>, Query),
        ("sorting" = Option<String>, Query, description = "time_created{desc} (default) | time_created{asc}"),
        ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<AuditEntry>), (status = 400), (status = 403)))]
async fn list_audit_log(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<AuditEntry>>> {
    Ok(OzJson(app.audit_log(&p, &AuditFilter::parse(&q)?).await?))
}

/// The history of a folder, its media, analyses and reports (same filters as the log).
#[utoipa::path(get, path = "/api/folders/{folder_id}/audit_log", tag = "audit", params(("folder_id" = String, Path)),
    responses((status = 200, body = Page<AuditEntry>), (status = 403), (status = 404)))]
async fn folder_audit_log(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<AuditEntry>>> {
    let subject = Subject::Folder(parse_id("folder_id", &id)?);
    Ok(OzJson(app.audit_of(&p, subject, AuditFilter::parse(&q)?).await?))
}

/// The history of a user account.
#[utoipa::path(get, path = "/api/users/{user_id}/audit_log", tag = "audit", params(("user_id" = String, Path)),
    responses((status = 200, body = Page<AuditEntry>), (status = 403), (status = 404)))]
async fn user_audit_log(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<AuditEntry>>> {
    let subject = Subject::User(parse_id("user_id", &id)?);
    Ok(OzJson(app.audit_of(&p, subject, AuditFilter::parse(&q)?).await?))
}

/// Every entry about a company's objects (kept after the company is deleted).
#[utoipa::path(get, path = "/api/companies/{company_id}/audit_log", tag = "audit", params(("company_id" = String, Path)),
    responses((status = 200, body = Page<AuditEntry>), (status = 403), (status = 404)))]
async fn company_audit_log(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<AuditEntry>>> {
    let subject = Subject::Company(parse_id("company_id", &id)?);
    Ok(OzJson(app.audit_of(&p, subject, AuditFilter::parse(&q)?).await?))
}
