//! `/api/ab_tests/...`: A/B experiments between plugin versions or configurations.

use crate::error::ApiResult;
use crate::extract::{Auth, Json, QueryPairs, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::ab::AbStats;
use vigil_domain::ab::{AbTest, AbTestFilter, Action, NewAbTest};
use vigil_domain::model::Page;
use vigil_domain::policy::Caller;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(list_ab_tests, create_ab_test))
        .routes(routes!(get_ab_test, delete_ab_test))
        .routes(routes!(ab_test_stats))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(stop))
}

/// Create an experiment (ADMIN: any company, with `company_id`; CLIENT ADMIN: its own). The first
/// variant is the control; `rule` null routes by the variants' weights; the experiment runs at
/// once unless `state` is `draft`. One experiment runs per company and analysis type (409).
#[utoipa::path(post, path = "/api/ab_tests", tag = "A/B tests", request_body = NewAbTest,
    responses((status = 201, body = AbTest), (status = 400), (status = 403), (status = 409)))]
async fn create_ab_test(
    State(app): State<App>,
    Auth(p): Auth,
    Json(body): Json<NewAbTest>,
) -> ApiResult<(StatusCode, OzJson<AbTest>)> {
    Ok((StatusCode::CREATED, OzJson(app.create_ab_test(Caller::User(&p), body).await?)))
}

/// Experiments of the caller's company (ADMIN and OPERATOR: every company's), newest first.
#[utoipa::path(get, path = "/api/ab_tests", tag = "A/B tests",
    params(("state" = Option<String>, Query, description = "draft, running, paused, stopped; comma-separated"),
        ("analysis_type" = Option<String>, Query), ("company_id" = Option<String>, Query),
        ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query)),
    responses((status = 200, body = Page<AbTest>), (status = 403)))]
async fn list_ab_tests(
    State(app): State<App>,
    Auth(p): Auth,
    QueryPairs(q): QueryPairs,
) -> ApiResult<OzJson<Page<AbTest>>> {
    Ok(OzJson(app.list_ab_tests(Caller::User(&p), &AbTestFilter::parse(&q)?).await?))
}

#[utoipa::path(get, path = "/api/ab_tests/{ab_test_id}", tag = "A/B tests", params(("ab_test_id" = String, Path)),
    responses((status = 200, body = AbTest), (status = 404)))]
async fn get_ab_test(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<AbTest>> {
    Ok(OzJson(app.get_ab_test(Caller::User(&p), parse_id("ab_test_id", &id)?).await?))
}

/// Delete a draft or stopped experiment; its analyses keep their variant.
#[utoipa::path(delete, path = "/api/ab_tests/{ab_test_id}", tag = "A/B tests", params(("ab_test_id" = String, Path)),
    responses((status = 204), (status = 400), (status = 403), (status = 404)))]
async fn delete_ab_test(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_ab_test(Caller::User(&p), parse_id("ab_test_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Per-variant statistics summed from the analyses in the database: counts, verdict rates,
/// score and latency quantiles, operator agreement, shadow disagreement, and each variant's
/// decline rate against the control with a 95 % interval and a p-value.
#[utoipa::path(get, path = "/api/ab_tests/{ab_test_id}/stats", tag = "A/B tests",
    params(("ab_test_id" = String, Path)), responses((status = 200, body = AbStats), (status = 404)))]
async fn ab_test_stats(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<AbStats>> {
    Ok(OzJson(app.ab_stats(Caller::User(&p), parse_id("ab_test_id", &id)?).await?))
}

async fn act(app: &App, p: &vigil_domain::Principal, id: &str, a: Action) -> ApiResult<OzJson<AbTest>> {
    Ok(OzJson(app.change_ab_test(Caller::User(p), parse_id("ab_test_id", id)?, a).await?))
}

/// Pause a running experiment: new analyses run the type's own plugin until it resumes.
#[utoipa::path(post, path = "/api/ab_tests/{ab_test_id}/pause", tag = "A/B tests",
    params(("ab_test_id" = String, Path)), responses((status = 200, body = AbTest), (status = 400), (status = 404)))]
async fn pause(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<AbTest>> {
    act(&app, &p, &id, Action::Pause).await
}

/// Start a draft or resume a paused experiment (409 when another runs for the same type).
#[utoipa::path(post, path = "/api/ab_tests/{ab_test_id}/resume", tag = "A/B tests",
    params(("ab_test_id" = String, Path)),
    responses((status = 200, body = AbTest), (status = 400), (status = 404), (status = 409)))]
async fn resume(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<AbTest>> {
    act(&app, &p, &id, Action::Resume).await
}

/// Stop an experiment for good; its statistics stay readable.
#[utoipa::path(post, path = "/api/ab_tests/{ab_test_id}/stop", tag = "A/B tests",
    params(("ab_test_id" = String, Path)), responses((status = 200, body = AbTest), (status = 400), (status = 404)))]
async fn stop(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<AbTest>> {
    act(&app, &p, &id, Action::Stop).await
}
