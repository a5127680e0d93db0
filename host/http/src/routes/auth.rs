//! `/api/authorize/...`

use crate::error::ApiResult;
use crate::extract::{Json, RawToken};
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_domain::Error;
use vigil_domain::model::TokenPair;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(login)).routes(routes!(refresh))
}

#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub credentials: Credentials,
}

/// Log in with e-mail and password; returns the token pair.
#[utoipa::path(post, path = "/api/authorize/auth", tag = "auth", security(()), request_body = LoginBody,
    responses((status = 200, body = TokenPair), (status = 401, description = "wrong credentials (7) or blocked user (1401)")))]
async fn login(State(app): State<App>, Json(b): Json<LoginBody>) -> ApiResult<axum::Json<TokenPair>> {
    Ok(axum::Json(app.login(&b.credentials.email, &b.credentials.password).await?))
}

/// Body of the refresh call. Kept loose so a missing `expire_token` gets Oz's own 400 message.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // schema only: the handler reads raw JSON to answer a missing field itself
pub struct RefreshBody {
    pub expire_token: String,
}

/// Rotate the token pair. The old pair keeps working until the new one is used once.
#[utoipa::path(post, path = "/api/authorize/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenPair), (status = 400, description = "no expire_token"),
        (status = 401, description = "Session not found"), (status = 403, description = "not your session")))]
async fn refresh(
    State(app): State<App>,
    RawToken(token): RawToken,
    Json(b): Json<Value>,
) -> ApiResult<axum::Json<TokenPair>> {
    let expire = match b.get("expire_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::new(vigil_domain::Code::InvalidType, "expire_token must be a string").into()),
    };
    Ok(axum::Json(app.refresh(token.as_deref(), expire.as_deref()).await?))
}
