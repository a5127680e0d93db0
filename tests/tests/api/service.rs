//! Health, configuration, the OpenAPI document and its committed copy, docs, fallbacks.

use crate::oz_err;
use vigil_tests::*;

async fn service_endpoints(db: Db) {
    let s = Server::start(db).await;
    let (st, h) = s.get_anon("/api/healthcheck").await;
    assert_eq!((st, h["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (st, c) = s.get_anon("/api/config/").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(c["timezone"], "UTC");
    let (st, spec) = s.get_anon("/api/openapi.json").await;
    assert_eq!(st, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap_or("").starts_with("3.1"));
    assert!(spec["paths"]["/api/folders"]["post"].is_object());
    assert!(spec["paths"]["/api/users/{user_id}/change-password"]["post"].is_object());
    let r = s.http.get(s.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("swagger"), "interactive docs are served");
    let r = s.http.get(s.url("/docs/swagger-ui.css")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "docs assets are vendored, not fetched from a CDN");
    // Every response carries a request id; a client's own id is kept.
    let r = s.http.get(s.url("/api/healthcheck")).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    let r = s.http.get(s.url("/api/healthcheck")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    let a = s.admin().await;
    oz_err(&s.get(&a, "/api/nothing-here").await, 404, 10);
    oz_err(&s.delete(&a, "/api/config").await, 405, 1);
}
both_dbs!(service_endpoints_t, service_endpoints);

/// The committed spec is what the code generates: regenerate with `make openapi`.
#[test]
fn committed_openapi_matches_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
        .expect("docs/openapi.json");
    let generated = vigil_http::openapi_json();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "docs/openapi.json is stale: run `make openapi` and commit it"
    );
}
