//! `/api/users/...`

use super::paging_and;
use crate::error::ApiResult;
use crate::extract::{Auth, Json, QueryPairs, parse_id};
use crate::reply::OzJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::users::{NewUser, PasswordChange, UserPatch, UserQuery};
use vigil_domain::Error;
use vigil_domain::filter::{parse_bool, parse_uuid_list};
use vigil_domain::model::{Page, User};
use vigil_domain::policy::Caller;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(list_users, create_user))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(change_password))
}

/// Users visible to the caller: all (ADMIN, OPERATOR), the company's (CLIENT ADMIN, CLIENT OPERATOR)
/// or oneself.
#[utoipa::path(get, path = "/api/users", tag = "users",
    params(("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("total_omit" = Option<bool>, Query),
        ("company_id" = Option<String>, Query), ("user_type" = Option<String>, Query), ("is_active" = Option<bool>, Query),
        ("search_text" = Option<String>, Query)),
    responses((status = 200, body = Page<User>)))]
async fn list_users(State(app): State<App>, Auth(p): Auth, QueryPairs(q): QueryPairs) -> ApiResult<OzJson<Page<User>>> {
    let mut uq = UserQuery::default();
    uq.paging = paging_and(&q, |k, v| {
        match k {
            "company_id" => uq.filter.company_id = parse_uuid_list(k, v)?.into_iter().next(),
            "user_type" => uq.filter.user_type = Some(v.to_ascii_uppercase()),
            "is_active" => uq.filter.is_active = Some(parse_bool(k, v)?),
            "search_text" => uq.filter.search_text = Some(v.to_string()),
            _ => return Ok(false),
        }
        Ok::<_, Error>(true)
    })?;
    Ok(OzJson(app.list_users(&p, &uq).await?))
}

/// Create a user (ADMIN anywhere; CLIENT ADMIN within its company, never ADMIN/OPERATOR).
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 400), (status = 403), (status = 409)))]
async fn create_user(
    State(app): State<App>,
    Auth(p): Auth,
    Json(b): Json<NewUser>,
) -> ApiResult<(StatusCode, OzJson<User>)> {
    Ok((StatusCode::CREATED, OzJson(app.create_user(Caller::User(&p), b).await?)))
}

#[utoipa::path(get, path = "/api/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = User), (status = 404)))]
async fn get_user(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<OzJson<User>> {
    Ok(OzJson(app.get_user(&p, parse_id("user_id", &id)?).await?))
}

/// Edit a user; `is_active: false` blocks it (error 1401 on its every call).
#[utoipa::path(patch, path = "/api/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    request_body = UserPatch, responses((status = 200, body = User), (status = 403), (status = 404)))]
async fn patch_user(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<UserPatch>,
) -> ApiResult<OzJson<User>> {
    Ok(OzJson(app.patch_user(&p, parse_id("user_id", &id)?, b).await?))
}

#[utoipa::path(delete, path = "/api/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_user(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.delete_user(&p, parse_id("user_id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change a password: one's own (with `old_password`), or as ADMIN / CLIENT ADMIN of the company.
#[utoipa::path(post, path = "/api/users/{user_id}/change-password", tag = "users", params(("user_id" = String, Path)),
    request_body = PasswordChange, responses((status = 204), (status = 400), (status = 403)))]
async fn change_password(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    app.change_password(&p, parse_id("user_id", &id)?, b).await?;
    Ok(StatusCode::NO_CONTENT)
}
