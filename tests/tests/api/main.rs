//! Black-box API tests: every test runs on SQLite and on PostgreSQL against a real server.

#![allow(clippy::unwrap_used)]

mod ab;
mod accounts;
mod analyses;
mod auth;
mod clients;
mod collections;
mod companies;
mod compat;
mod compliance;
mod console;
mod decoding;
mod directory;
mod documents;
mod folders;
mod isolation;
mod jobs;
mod liveness;
mod media;
mod memory;
mod observability;
mod permissions;
mod plugins;
mod reports;
mod result_filters;
mod service;
mod storage;
mod throttling;
mod uploads;

use serde_json::Value;
use vigil_tests::*;

pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Asserts an Oz error body with this HTTP status and error code; returns the message.
#[track_caller]
pub fn oz_err(r: &(StatusCode, Value), status: u16, code: i64) -> String {
    assert_eq!(r.0.as_u16(), status, "status of {}", r.1);
    assert_eq!(r.1["error_code"].as_i64(), Some(code), "error_code of {}", r.1);
    assert!(r.1.get("details").is_some(), "details key missing in {}", r.1);
    r.1["error_message"].as_str().expect("error_message").to_string()
}

pub fn ids(page: &Value, key: &str) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i[key].as_str().expect("id").to_string()).collect()
}

/// The same user sent with another token: used to probe invalid tokens.
pub fn with_token(token: &str) -> Session {
    Session { token: token.to_string(), body: Value::Null }
}

/// Base fixtures of reference §9: company C1 with every CLIENT flavour, company C2 with a CLIENT
/// and a CLIENT ADMIN, global ADMIN and OPERATOR; a folder with a photo for `client`, `client2`
/// (both C1) and `other` (C2).
pub struct World {
    pub s: Server,
    pub admin: Session,
    pub operator: Session,
    pub c1: String,
    pub c2: String,
    pub cadmin: Session,
    pub cop: Session,
    pub client: Session,
    pub client2: Session,
    pub svc: Session,
    pub other: Session,
    pub other_admin: Session,
    /// Folders with one photo each: client's, client2's, other's.
    pub f1: Value,
    pub f2: Value,
    pub g: Value,
}

pub fn photo_payload(field: &str) -> Value {
    serde_json::json!({"media:tags": {field: ["photo_selfie"]}})
}

pub async fn folder_with_photo(s: &Server, who: &Session) -> Value {
    let (st, f) = s
        .upload(who, "/api/folders/", vec![file("photo1", "p.jpg", jpeg(320, 240))], Some(photo_payload("photo1")))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    f
}

impl World {
    pub async fn new(db: Db) -> World {
        Self::with(Server::start(db).await).await
    }

    pub async fn with(s: Server) -> World {
        let admin = s.admin().await;
        let c1 = s.company(&admin, "C1").await;
        let c2 = s.company(&admin, "C2").await;
        let operator = s.user(&admin, "op@vigil.test", "OPERATOR", None).await;
        let cadmin = s.user(&admin, "admin@c1.test", "CLIENT_ADMIN", Some(&c1)).await;
        let cop = s.user(&admin, "op@c1.test", "CLIENT_OPERATOR", Some(&c1)).await;
        let client = s.user(&cadmin, "u@c1.test", "CLIENT", Some(&c1)).await;
        let client2 = s.user(&cadmin, "u2@c1.test", "CLIENT", Some(&c1)).await;
        let svc = s.user(&cadmin, "svc@c1.test", "CLIENT_SERVICE", Some(&c1)).await;
        let other = s.user(&admin, "u@c2.test", "CLIENT", Some(&c2)).await;
        let other_admin = s.user(&admin, "admin@c2.test", "CLIENT_ADMIN", Some(&c2)).await;
        let f1 = folder_with_photo(&s, &client).await;
        let f2 = folder_with_photo(&s, &client2).await;
        let g = folder_with_photo(&s, &other).await;
        World { s, admin, operator, c1, c2, cadmin, cop, client, client2, svc, other, other_admin, f1, f2, g }
    }

    /// The six roles in matrix order.
    pub fn roles(&self) -> [(&'static str, &Session); 6] {
        [
            ("ADMIN", &self.admin),
            ("OPERATOR", &self.operator),
            ("CLIENT ADMIN", &self.cadmin),
            ("CLIENT OPERATOR", &self.cop),
            ("CLIENT", &self.client),
            ("CLIENT SERVICE", &self.svc),
        ]
    }
}

pub fn id(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}")).to_string()
}
