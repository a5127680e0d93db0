//! `/api/authorize/...`

use crate::error::ApiResult;
use crate::extract::{Client, Json, RawToken};
use crate::reply::OzJson;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use vigil_core::App;
use vigil_core::restore::{RestoreAnswer, RestoreBody};
use vigil_domain::Error;
use vigil_domain::model::TokenPair;

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    r.routes(routes!(login)).routes(routes!(refresh)).routes(routes!(auth_restore))
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
    responses((status = 200, body = TokenPair), (status = 401, description = "wrong credentials (7) or blocked user (1401)"),
        (status = 429, description = "too many attempts from this address or for this e-mail (OZ_THROTTLING_RATES auth); see Retry-After"),
        (status = 502, description = "the directory (LDAP) is unavailable (11)")))]
async fn login(
    State(app): State<App>,
    Client(c): Client,
    axum::Extension(throttling): axum::Extension<crate::Throttling>,
    Json(b): Json<LoginBody>,
) -> ApiResult<OzJson<TokenPair>> {
    // Attempts count per client address and per e-mail, successful ones too (as DRF counts).
    if let Some(t) = throttling.0 {
        use vigil_domain::throttle::Scope;
        t.check(Scope::Auth, &format!("ip:{}", c.ip.as_deref().unwrap_or("unknown")))?;
        t.check(Scope::Auth, &format!("email:{}", b.credentials.email.trim().to_lowercase()))?;
    }
    Ok(OzJson(app.login(&b.credentials.email, &b.credentials.password, &c).await?))
}

/// Password restore. Step one, `{"email": …}`: a one-time token valid for `restore_ttl` is sent
/// to the company's webhook (event `user.password_restore`) or issued by an operator with
/// `vigil user restore-token`; the answer is the same whether the account exists or not. Step
/// two, `{"token": …, "new_password": …}`: sets the password and ends every session of the user.
#[utoipa::path(post, path = "/api/authorize/auth_restore", tag = "auth", security(()), request_body = RestoreBody,
    responses((status = 200, body = RestoreAnswer), (status = 400, description = "no email, or a weak password"),
        (status = 401, description = "restore token invalid, used or expired (7)")))]
async fn auth_restore(State(app): State<App>, Json(b): Json<RestoreBody>) -> ApiResult<OzJson<RestoreAnswer>> {
    Ok(OzJson(app.auth_restore(b).await?))
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
    Client(c): Client,
    Json(b): Json<Value>,
) -> ApiResult<OzJson<TokenPair>> {
    let expire = match b.get("expire_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::new(vigil_domain::Code::InvalidType, "expire_token must be a string").into()),
    };
    Ok(OzJson(app.refresh(token.as_deref(), expire.as_deref(), &c).await?))
}
