//! One module per resource; each exposes `router` and this root only merges them.

mod ab_tests;
mod analyses;
mod audit;
mod auth;
mod collections;
mod companies;
mod events;
pub(crate) mod files;
mod folders;
mod media;
mod meta;
mod plugins;
mod reports;
mod service;
mod sessions;
mod users;

use crate::error::ApiError;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use vigil_core::App;
use vigil_domain::{Code, Error};

pub fn router(r: OpenApiRouter<App>) -> OpenApiRouter<App> {
    let r = auth::router(r);
    let r = users::router(r);
    let r = sessions::router(r);
    let r = companies::router(r);
    let r = folders::router(r);
    let r = media::router(r);
    let r = analyses::router(r);
    let r = meta::router(r);
    let r = service::router(r);
    let r = plugins::router(r);
    let r = collections::router(r);
    let r = reports::router(r);
    let r = audit::router(r);
    let r = events::router(r);
    let r = ab_tests::router(r);
    files::router(r)
}

pub async fn not_found() -> Response {
    ApiError(Error::new(Code::NotExist, "no such endpoint")).into_response()
}

pub async fn method_not_allowed() -> Response {
    ApiError(Error::new(Code::NotAllowed, "method not allowed on this resource")).into_response()
}

/// Paging keys shared by the simple list endpoints; other keys the endpoint does not know are
/// ignored (logged at debug), as Oz ignores them.
pub(crate) fn paging_and(
    pairs: &[(String, String)],
    mut other: impl FnMut(&str, &str) -> Result<bool, Error>,
) -> Result<vigil_domain::filter::Paging, Error> {
    let mut p = vigil_domain::filter::Paging::default();
    for (k, v) in pairs {
        if vigil_domain::filter::apply_paging(&mut p, k, v)? || other(k, v)? {
            continue;
        }
        tracing::debug!(key = %k, "ignored query parameter");
    }
    Ok(p)
}
