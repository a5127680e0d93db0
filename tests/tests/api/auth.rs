//! Log-in, token errors, expiry and sliding, refresh rotation, service accounts, blocking,
//! password policy.

use crate::{now, oz_err, with_token};
use serde_json::json;
use std::time::Duration;
use vigil_tests::*;

async fn login_and_token_errors(db: Db) {
    let s = Server::start(db).await;
    let a = s.admin().await;
    assert_eq!(a.token.len(), 128);
    assert!(!a.body["expire_token"].as_str().unwrap_or("").is_empty());
    // ADMIN tokens live five years (Oz 4.0.8); other users' 15 minutes (accounts.rs).
    let exp = a.body["expire_date"].as_f64().expect("numeric expire_date");
    assert!((exp - now() - 5.0 * 365.0 * 86_400.0).abs() < 60.0, "expire_date {exp} is not now + 5 years");

    let m = oz_err(&s.login_raw(ADMIN_EMAIL, "wrong-Password1").await, 401, 7);
    assert!(m.contains("wrong"), "{m}");
    oz_err(&s.login_raw("nobody@vigil.test", "wrong-Password1").await, 401, 7);
    let r = s
        .http
        .post(s.url("/api/authorize/auth"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    oz_err(&read(r).await, 400, 3);
    // JSON is read whatever the label says, as Oz reads it: a mobile SDK's form-urlencoded label,
    // `curl -d`'s, text/plain, none; unknown fields are ignored.
    let creds = json!({"credentials": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, "device": "x"}).to_string();
    for label in [Some("application/x-www-form-urlencoded"), Some("text/plain"), None] {
        let mut req = s.http.post(s.url("/api/authorize/auth")).body(creds.clone());
        if let Some(l) = label {
            req = req.header("content-type", l);
        }
        let (st, body) = read(req.send().await.unwrap()).await;
        assert_eq!(st, StatusCode::OK, "{label:?}: {body}");
        assert!(body["access_token"].is_string());
    }

    oz_err(&s.get_anon("/api/folders/").await, 401, 6);
    oz_err(&s.get(&with_token(&"ab".repeat(64)), "/api/folders/").await, 401, 7);
    // Both path spellings work.
    assert_eq!(s.get(&a, "/api/folders").await.0, StatusCode::OK);
    assert_eq!(s.get(&a, "/api/folders/").await.0, StatusCode::OK);
    assert_eq!(
        s.post(&a, "/api/authorize/auth/", json!({"credentials": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}}))
            .await
            .0,
        StatusCode::OK
    );
}
both_dbs!(login_and_token_errors_t, login_and_token_errors);

async fn expiry_and_sliding(db: Db) {
    let s = Server::builder(db).set("session_ttl", "2").set("admin_session_ttl", "2").start().await;
    let a = s.admin().await;
    // Each call slides the 2 s expiry, so 3.2 s of steady use stays logged in.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(s.get(&a, "/api/users/").await.0, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    oz_err(&s.get(&a, "/api/users/").await, 401, 8);
}
both_dbs!(expiry_and_sliding_t, expiry_and_sliding);

async fn refresh_rotation(db: Db) {
    let s = Server::start(db).await;
    let a = s.admin().await;
    let (st, n) = s.post(&a, "/api/authorize/refresh/", json!({"expire_token": a.body["expire_token"]})).await;
    assert_eq!(st, StatusCode::OK, "{n}");
    let new = with_token(n["access_token"].as_str().unwrap());
    assert_ne!(new.token, a.token);
    assert_ne!(n["expire_token"], a.body["expire_token"]);
    // The old pair lives until the new one is used.
    assert_eq!(s.get(&a, "/api/users/").await.0, StatusCode::OK);
    assert_eq!(s.get(&new, "/api/users/").await.0, StatusCode::OK);
    oz_err(&s.get(&a, "/api/users/").await, 401, 7);
    assert_eq!(s.get(&new, "/api/users/").await.0, StatusCode::OK);

    let m = oz_err(&s.post(&new, "/api/authorize/refresh", json!({})).await, 400, 3);
    assert!(m.contains("Could not locate field for key_path expire_token"), "{m}");
    let m = oz_err(&s.post(&new, "/api/authorize/refresh", json!({"expire_token": "nope"})).await, 401, 7);
    assert_eq!(m, "Session not found");
    let c = s.company(&new, "C1").await;
    let u = s.user(&new, "u@c1.test", "CLIENT", Some(&c)).await;
    let m = oz_err(&s.post(&u, "/api/authorize/refresh", json!({"expire_token": n["expire_token"]})).await, 403, 9);
    assert_eq!(m, "You have not access to refresh this session");

    // A refresh token works once: its second use revokes the whole family (OAuth 2.0 BCP), so
    // a stolen token and the legitimate one cannot both go on.
    let a = s.admin().await;
    let (st, n1) = s.post(&a, "/api/authorize/refresh", json!({"expire_token": a.body["expire_token"]})).await;
    assert_eq!(st, StatusCode::OK, "{n1}");
    let n1s = with_token(n1["access_token"].as_str().unwrap());
    let m =
        oz_err(&s.post(&a, "/api/authorize/refresh", json!({"expire_token": a.body["expire_token"]})).await, 401, 7);
    assert!(m.contains("already used"), "{m}");
    oz_err(&s.get(&n1s, "/api/users/").await, 401, 7);
    oz_err(&s.get(&a, "/api/users/").await, 401, 7);
    // Other log-ins of the same user are not touched.
    assert_eq!(s.get(&new, "/api/users/").await.0, StatusCode::OK);
}
both_dbs!(refresh_rotation_t, refresh_rotation);

/// The refresh expiry is fixed at log-in: refreshing does not extend it, and the access token
/// does not slide past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_expiry_does_not_slide() {
    let s = Server::builder(Db::Sqlite).set("admin_session_ttl", "2").set("refresh_ttl", "3").start().await;
    let a = s.admin().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (st, n) = s.post(&a, "/api/authorize/refresh", json!({"expire_token": a.body["expire_token"]})).await;
    assert_eq!(st, StatusCode::OK, "{n}");
    let left = n["expire_date"].as_f64().unwrap() - now();
    assert!(left < 1.7, "the new access token ends with the log-in's refresh expiry, not 2 s later: {left}");
    let new = with_token(n["access_token"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(s.get(&new, "/api/users/").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    oz_err(&s.get(&new, "/api/users/").await, 401, 8);
    oz_err(&s.post(&new, "/api/authorize/refresh", json!({"expire_token": n["expire_token"]})).await, 401, 8);
}

async fn service_account_long_ttl(db: Db) {
    let s = Server::start(db).await;
    let a = s.admin().await;
    let c = s.company(&a, "C1").await;
    let svc = s.user(&a, "svc@c1.test", "CLIENT_SERVICE", Some(&c)).await;
    assert_eq!(svc.body["user"]["is_service"], true);
    assert_eq!(svc.body["user"]["user_type"], "CLIENT");
    let left = svc.body["expire_date"].as_f64().unwrap() - now();
    assert!(left > 4.9 * 365.0 * 86400.0 && left < 5.1 * 365.0 * 86400.0, "service TTL {left}");
}
both_dbs!(service_account_long_ttl_t, service_account_long_ttl);

async fn blocked_user(db: Db) {
    let s = Server::start(db).await;
    let a = s.admin().await;
    let c = s.company(&a, "C1").await;
    let u = s.user(&a, "u@c1.test", "CLIENT", Some(&c)).await;
    assert_eq!(s.get(&u, "/api/folders/").await.0, StatusCode::OK);
    let (st, body) = s.patch(&a, &format!("/api/users/{}/", u.user_id()), json!({"is_active": false})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["is_active"], false);
    oz_err(&s.get(&u, "/api/folders/").await, 401, 1401);
    oz_err(&s.login_raw("u@c1.test", "Passw0rd-x").await, 401, 1401);
    s.patch(&a, &format!("/api/users/{}", u.user_id()), json!({"is_active": true})).await;
    // Unblocking does not revive the tokens from before the block.
    oz_err(&s.get(&u, "/api/folders/").await, 401, 7);
    s.login("u@c1.test", "Passw0rd-x").await;
}
both_dbs!(blocked_user_t, blocked_user);

async fn password_policy(db: Db) {
    let s = Server::start(db).await;
    let a = s.admin().await;
    let c = s.company(&a, "C1").await;
    let mk = |pw: &str, email: &str| json!({"email": email, "password": pw, "user_type": "CLIENT", "company_id": c});
    let m = oz_err(&s.post(&a, "/api/users", mk("Sh0rt", "p1@c1.test")).await, 400, 4);
    assert!(m.contains("at least 8"), "{m}");
    let m = oz_err(&s.post(&a, "/api/users", mk("alllowercase1", "p1@c1.test")).await, 400, 4);
    assert!(m.contains("upper-case"), "{m}");

    let u = s.user(&a, "u@c1.test", "CLIENT", Some(&c)).await;
    let path = format!("/api/users/{}/change-password/", u.user_id());
    oz_err(&s.post(&u, &path, json!({"new_password": "NewPassw0rd"})).await, 400, 3);
    oz_err(&s.post(&u, &path, json!({"old_password": "bad", "new_password": "NewPassw0rd"})).await, 400, 4);
    let m =
        oz_err(&s.post(&u, &path, json!({"old_password": "Passw0rd-x", "new_password": "NoDigitsHere"})).await, 400, 4);
    assert!(m.contains("digit"), "{m}");
    assert_eq!(
        s.post(&u, &path, json!({"old_password": "Passw0rd-x", "new_password": "NewPassw0rd"})).await.0,
        StatusCode::NO_CONTENT
    );
    oz_err(&s.login_raw("u@c1.test", "Passw0rd-x").await, 401, 7);
    let u = s.login("u@c1.test", "NewPassw0rd").await;

    // A CLIENT ADMIN resets a colleague's password (5.2.0 fix); the colleague's sessions end.
    let ca = s.user(&a, "admin@c1.test", "CLIENT_ADMIN", Some(&c)).await;
    assert_eq!(s.post(&ca, &path, json!({"new_password": "Reset-Passw0rd"})).await.0, StatusCode::NO_CONTENT);
    oz_err(&s.get(&u, "/api/folders").await, 401, 7);
    s.login("u@c1.test", "Reset-Passw0rd").await;
    // …but not an ADMIN's, nor anyone's in another company.
    let admin_id = a.user_id();
    oz_err(
        &s.post(&ca, &format!("/api/users/{admin_id}/change-password"), json!({"new_password": "Hijack-Passw0rd"}))
            .await,
        404,
        10,
    );
    let c2 = s.company(&a, "C2").await;
    let o = s.user(&a, "u@c2.test", "CLIENT", Some(&c2)).await;
    oz_err(
        &s.post(
            &ca,
            &format!("/api/users/{}/change-password", o.user_id()),
            json!({"new_password": "Hijack-Passw0rd"}),
        )
        .await,
        404,
        10,
    );

    // A configured policy is enforced with its own rule named.
    let s2 = Server::builder(db).set("password_policy", "min_length=12,special").start().await;
    // The bootstrap admin's password ("Admin-Pass-1") satisfies this policy, so start-up succeeds.
    let a2 = s2.admin().await;
    let m = oz_err(
        &s2.post(&a2, "/api/users", json!({"email": "x@y.test", "password": "abcdefghijkl", "user_type": "ADMIN"}))
            .await,
        400,
        4,
    );
    assert!(m.contains("special"), "{m}");
}
both_dbs!(password_policy_t, password_policy);

/// Sessions past their refresh expiry are purged; live ones stay.
async fn session_purge(db: Db) {
    use vigil_store::sessions::{self, Session};
    use vigil_store::{Exec, Sql, Store};
    let tmp = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", tmp.path().join("p.db").display()),
        Db::Postgres => vigil_tests::pg::fresh_database().await,
    };
    let mut store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let user = uuid::Uuid::new_v4();
    let mut q = Sql::new(
        "INSERT INTO users (user_id, email, password_hash, user_type, company_id, time_created, time_updated) VALUES (",
    );
    q.bind(user).push(", 'p@x.test', 'x', 'ADMIN', ").bind(vigil_store::SYSTEM_COMPANY_ID).push(", 0, 0)");
    store.execute(q).await.unwrap();
    let now = 1_000_000_000_000_000;
    for (i, refresh_expires) in [(0, now - 1), (1, now + 1_000_000)] {
        let sid = uuid::Uuid::new_v4();
        let s = Session {
            session_id: sid,
            family_id: sid,
            refresh_used: false,
            user_id: user,
            access_hash: format!("a{i}"),
            refresh_hash: format!("r{i}"),
            access_expires: now - 1,
            refresh_expires,
            ttl_secs: 900,
            predecessor_id: None,
            ip: None,
            user_agent: None,
            time_created: now,
            last_used: None,
        };
        sessions::insert(&mut store, &s).await.unwrap();
    }
    assert_eq!(sessions::purge_expired(&mut store, now).await.unwrap(), 1);
    assert!(sessions::by_refresh_hash(&mut store, "r0").await.unwrap().is_none());
    assert!(sessions::by_refresh_hash(&mut store, "r1").await.unwrap().is_some());
    store.close().await;
}
both_dbs!(session_purge_t, session_purge);
